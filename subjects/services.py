"""Writes on participants: screening, eligibility, enrolment, discontinuation, withdrawal."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from itp_trial import protocol, stored_text
from itp_trial.audit import audited_save, version_check
from itp_trial.dates import date_future_add, date_future_error
from itp_trial.fields import range_message
from itp_trial.tasks import PARTICIPANT_CHANGED, SCHEDULE_CREATE, task_run

from . import rules
from .models import EligibilityAnswer, Participant, ParticipantStatus, SequenceCounter

# The reasons this module gives the history: stored in English, shown translated
# (itp_trial.stored_text), whatever the language of the user who saved.
REASON_ELIGIBILITY = gettext_noop("Eligibility derived from the checklist")
REASON_ENROLMENT = gettext_noop("Enrolment")
REASON_DISCONTINUED = gettext_noop("Treatment discontinued: %(r)s")
REASON_WITHDRAWAL = gettext_noop("Withdrawal")
stored_text.register(REASON_ELIGIBILITY, REASON_ENROLMENT, REASON_DISCONTINUED, REASON_WITHDRAWAL)

SUBJECT_ID_FORMAT = protocol.SUBJECT_ID_FORMAT
SCREENING_NUMBER_FORMAT = protocol.SCREENING_NUMBER_FORMAT


def sequence_next(*, name: str) -> int:
    """The next number of a sequence, safe when two coordinators screen at the same moment.

    The UPDATE takes the row's write lock before the value is read, so concurrent
    transactions queue on it instead of reading the same value.
    """
    updated = SequenceCounter.objects.filter(name=name).update(value=F("value") + 1)
    if not updated:
        SequenceCounter.objects.create(name=name, value=1)
    return SequenceCounter.objects.get(name=name).value


def _identifier(given: str | None, *, name: str, fmt: str) -> str:
    if not given:
        return fmt.format(sequence_next(name=name))
    prefix = fmt.split("{")[0]
    number = given.removeprefix(prefix)
    # The canonical form only: ITP-007, not ITP-7 or ITP-0007.
    if not given.startswith(prefix) or not number.isdigit() or fmt.format(int(number)) != given:
        raise ValidationError(
            {name: _("Expected an identifier like %(example)s.") % {"example": fmt.format(1)}}
        )
    if Participant.objects.filter(**{name: given}).exists():
        raise ValidationError({name: _("%(id)s is already taken.") % {"id": given}})
    SequenceCounter.objects.get_or_create(name=name)
    SequenceCounter.objects.filter(name=name, value__lt=int(number)).update(value=int(number))
    return given


def _locked(participant: Participant) -> Participant:
    """The participant's current row, locked until the transaction ends.

    Services decide on the stored state, never on a copy a page loaded earlier.
    """
    return Participant.objects.select_for_update().get(pk=participant.pk)


def height_error(value: Any) -> str | None:
    """The message for a height outside the protocol's range, else None."""
    low, high = protocol.HEIGHT_RANGE_CM
    return range_message(Participant._meta.get_field("height_cm"), value, low, high, "cm")


def _today(today: date | None) -> date:
    return today or timezone.localdate()


def date_not_future(value: date | None, *, field: str, today: date) -> None:
    message = date_future_error(value, today=today)
    if message:
        raise ValidationError({field: message})


def _validate_consent(participant: Participant, *, today: date) -> None:
    errors: dict[str, list[str]] = {}
    date_future_add(errors, "consent_date", participant.consent_date, today=today)
    date_future_add(errors, "birth_date", participant.birth_date, today=today)
    if participant.birth_date and participant.consent_date:
        if participant.birth_date >= participant.consent_date:
            errors.setdefault("birth_date", []).append(
                _("The date of birth must be before the consent date.")
            )
        elif not rules.age_eligible(participant.birth_date, participant.consent_date):
            errors.setdefault("birth_date", []).append(
                _("Age at consent is %(age)s years; the trial takes ages %(low)s to %(high)s.")
                % {
                    "age": rules.age_years(participant.birth_date, participant.consent_date),
                    "low": protocol.AGE_MIN_YEARS,
                    "high": protocol.AGE_MAX_YEARS,
                }
            )
        elif rules.is_minor(participant.birth_date, participant.consent_date):
            for field in ("guardian_consent", "child_assent"):
                if not getattr(participant, field):
                    errors.setdefault(field, []).append(
                        _("Required for a participant under %(age)s.")
                        % {"age": protocol.ADULT_AGE_YEARS}
                    )
    if participant.itp_diagnosis_date:
        diagnosis = participant.itp_diagnosis_date
        if date_future_add(errors, "itp_diagnosis_date", diagnosis, today=today):
            pass  # refused; the order checks below only apply to a date not in the future
        elif participant.birth_date and participant.itp_diagnosis_date < participant.birth_date:
            errors.setdefault("itp_diagnosis_date", []).append(
                _("The diagnosis cannot be before the date of birth.")
            )
    if participant.height_cm is not None:
        message = height_error(participant.height_cm)
        if message:
            errors.setdefault("height_cm", []).append(message)
    if participant.splenectomy and participant.splenectomy_date is None:
        errors.setdefault("splenectomy_date", []).append(_("Give the date of the splenectomy."))
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def participant_screen(
    *,
    user: Any,
    data: Mapping[str, Any],
    screening_date: date | None = None,
    subject_id: str | None = None,
    screening_number: str | None = None,
    today: date | None = None,
) -> Participant:
    """Screen a new participant: allocate the identifiers, create the schedule.

    `data` holds the consent, demographic and history fields; `screening_date` is V1's date
    (the consent date when not given). The identifiers are allocated in sequence unless
    given (a CSV import of paper CRFs); given ones move their sequence past them so that
    no identifier is ever handed out twice.
    """
    today = _today(today)
    participant = Participant(**data)
    _validate_consent(participant, today=today)
    participant.subject_id = _identifier(subject_id, name="subject_id", fmt=SUBJECT_ID_FORMAT)
    participant.screening_number = _identifier(
        screening_number, name="screening_number", fmt=SCREENING_NUMBER_FORMAT
    )
    audited_save(participant, user=user)
    screening_date = screening_date or participant.consent_date
    date_not_future(screening_date, field="screening_date", today=today)
    if screening_date < participant.consent_date:
        raise ValidationError({"screening_date": _("The visit cannot be before the consent date.")})
    task_run(
        SCHEDULE_CREATE,
        participant_id=participant.pk,
        screening_date=screening_date,
        user_id=user.pk if user.is_authenticated else None,
    )
    task_run(PARTICIPANT_CHANGED, participant_id=participant.pk, today=today)
    return participant


@transaction.atomic
def participant_update(
    *,
    participant: Participant,
    user: Any,
    data: Mapping[str, Any],
    reason: str,
    today: date | None = None,
    version: int | None = None,
) -> bool:
    """Change a participant's consent, demographic or history fields.

    Changing or clearing a stored value needs a reason. `version` is the one the form was
    loaded with: a save based on an older one is refused (itp_trial.audit).
    """
    today = _today(today)
    for field, value in data.items():
        setattr(participant, field, value)
    _validate_consent(participant, today=today)
    changed = audited_save(participant, user=user, reason=reason, version=version)
    if changed:
        task_run(PARTICIPANT_CHANGED, participant_id=participant.pk, today=today)
    return changed


def _answers_check_dates(participant: Participant, answers: Mapping[str, bool | None]) -> None:
    """I2 is computed from the dates: an answer that contradicts them is refused."""
    answer = answers.get(protocol.AGE_CRITERION_CODE)
    if answer is None:
        return
    expected = rules.age_eligible(participant.birth_date, participant.consent_date)
    if answer != expected:
        age = rules.age_years(participant.birth_date, participant.consent_date)
        raise ValidationError(
            {
                protocol.AGE_CRITERION_CODE: _(
                    "I2 contradicts the dates: age at consent is %(age)s years, "
                    "so I2 is %(answer)s."
                )
                % {"age": age, "answer": _("met") if expected else _("not met")}
            }
        )


@transaction.atomic
def eligibility_record(
    *,
    participant: Participant,
    user: Any,
    answers: Mapping[str, bool | None],
    reason: str = "",
    today: date | None = None,
    versions: Mapping[str, int] | None = None,
) -> rules.EligibilityDecision:
    """Store the V1 checklist answers per criterion and derive the decision.

    `versions` holds, per criterion, the version of the answer the checklist was loaded
    with (0: not answered then); a checklist saved over a later answer is refused. The
    decision (`eligible`) is saved with history, with the reason given for the answers.
    """
    versions = versions or {}
    today = _today(today)
    participant = _locked(participant)
    if participant.withdrawal_date:
        raise ValidationError(_("The participant has withdrawn; nothing new can be recorded."))
    if participant.enrolled_on:
        raise ValidationError(_("The participant is enrolled; eligibility can no longer change."))
    unknown = set(answers) - set(protocol.CRITERIA_BY_CODE)
    if unknown:
        raise ValidationError(
            _("Unknown criteria: %(codes)s") % {"codes": ", ".join(sorted(unknown))}
        )
    _answers_check_dates(participant, answers)
    existing = {a.criterion: a for a in participant.eligibility_answers.select_for_update()}
    for code, answer in existing.items():
        if versions.get(code) is not None and answers.get(code) is not None:
            version_check(answer, version=versions[code], stored=answer)
    for code, met in answers.items():
        if met is None:
            continue
        answer = existing.get(code) or EligibilityAnswer(participant=participant, criterion=code)
        answer.met = met
        audited_save(answer, user=user, reason=reason)
        existing[code] = answer
    decision = rules.eligibility_decide({code: a.met for code, a in existing.items()})
    participant.eligible = decision.eligible
    participant.eligibility_assessed_on = today if decision.complete else None
    audited_save(
        participant, user=user, reason=reason or REASON_ELIGIBILITY
    )
    task_run(PARTICIPANT_CHANGED, participant_id=participant.pk, today=today)
    return decision


@transaction.atomic
def participant_enrol(
    *,
    participant: Participant,
    user: Any,
    planned_first_infusion_date: date,
    enrolled_on: date | None = None,
    today: date | None = None,
) -> Participant:
    """Enrol an eligible participant on `enrolled_on` (default today), within the cap.

    The enrolment date is entered, as on the CRF, so that back-entry from paper is
    faithful: never in the future, never before consent. It records the planned date of
    infusion 1 too.
    """
    today = _today(today)
    enrolled_on = enrolled_on or today
    # Serialise enrolments so two at the same moment cannot both take the last place.
    SequenceCounter.objects.select_for_update().filter(name="subject_id").first()
    participant = _locked(participant)
    if participant.withdrawal_date:
        raise ValidationError(_("The participant has withdrawn; nothing new can be recorded."))
    if participant.eligible is not True:
        raise ValidationError(_("Only an eligible participant can be enrolled."))
    if participant.enrolled_on:
        raise ValidationError(_("The participant is already enrolled."))
    enrolled = Participant.objects.filter(enrolled_on__isnull=False).count()
    if enrolled >= protocol.ENROLMENT_CAP:
        raise ValidationError(
            _("Enrolment is closed: the trial has reached its target of %(cap)s participants.")
            % {"cap": protocol.ENROLMENT_CAP}
        )
    errors: dict[str, list[str]] = {}
    if date_future_add(errors, "enrolled_on", enrolled_on, today=today):
        pass  # refused; the order checks below only apply to a date not in the future
    elif enrolled_on < participant.consent_date:
        errors["enrolled_on"] = [
            _("The enrolment cannot be before the consent date (%(date)s).")
            % {"date": participant.consent_date.isoformat()}
        ]
    if planned_first_infusion_date < participant.consent_date:
        errors["planned_first_infusion_date"] = [_("Infusion 1 cannot be planned before consent.")]
    if errors:
        raise ValidationError(errors)
    participant.enrolled_on = enrolled_on
    participant.planned_first_infusion_date = planned_first_infusion_date
    audited_save(participant, user=user, reason=REASON_ENROLMENT)
    task_run(PARTICIPANT_CHANGED, participant_id=participant.pk, today=today)
    return participant


@transaction.atomic
def treatment_discontinue(
    *, participant: Participant, user: Any, on: date, reason: str, today: date | None = None
) -> Participant:
    """An investigator stops treatment early; the participant stays in follow-up."""
    today = _today(today)
    participant = _locked(participant)
    if not user.has_perm("subjects.discontinue_treatment"):
        raise ValidationError(_("Only an investigator can discontinue treatment."))
    if not reason.strip():
        raise ValidationError({"reason": _("Give the reason for discontinuing treatment.")})
    if participant.enrolled_on is None:
        raise ValidationError(_("Only an enrolled participant's treatment can be discontinued."))
    if participant.withdrawal_date:
        raise ValidationError(_("The participant has withdrawn; nothing new can be recorded."))
    if participant.treatment_discontinued_date:
        raise ValidationError(_("Treatment is already discontinued."))
    given = list(participant.infusions.order_by("number").values_list("infusion_date", flat=True))
    if len(given) >= protocol.INFUSION_COUNT:
        raise ValidationError(_("All infusions have been given; there is nothing to discontinue."))
    date_not_future(on, field="on", today=today)
    if given and on < given[-1]:
        raise ValidationError({"on": _("The date cannot be before the last infusion given.")})
    if on < participant.consent_date:
        raise ValidationError({"on": _("The date cannot be before the consent date.")})
    participant.treatment_discontinued_date = on
    participant.treatment_discontinued_reason = reason.strip()
    audited_save(participant, user=user, reason=REASON_DISCONTINUED % {"r": reason})
    task_run(PARTICIPANT_CHANGED, participant_id=participant.pk, today=today)
    return participant


@transaction.atomic
def participant_withdraw(
    *,
    participant: Participant,
    user: Any,
    on: date,
    withdrawal_reason: str,
    detail: str = "",
    today: date | None = None,
) -> Participant:
    """Withdraw a participant: nothing new is scheduled; everything entered is kept."""
    today = _today(today)
    participant = _locked(participant)
    if participant.withdrawal_date:
        raise ValidationError(_("The participant has already withdrawn."))
    if participant.status == ParticipantStatus.SCREEN_FAILED:
        raise ValidationError(_("A screen failure has no visits to withdraw from."))
    if not withdrawal_reason:
        raise ValidationError({"withdrawal_reason": _("Choose the reason for withdrawal.")})
    date_not_future(on, field="on", today=today)
    if on < participant.consent_date:
        raise ValidationError({"on": _("The date cannot be before the consent date.")})
    last = participant.visits.filter(actual_date__isnull=False).order_by("-actual_date").first()
    if last is not None and on < last.actual_date:
        raise ValidationError({"on": _("The date cannot be before the last visit entered.")})
    participant.withdrawal_date = on
    participant.withdrawal_reason = withdrawal_reason
    participant.withdrawal_detail = detail.strip()
    audited_save(participant, user=user, reason=REASON_WITHDRAWAL)
    task_run(PARTICIPANT_CHANGED, participant_id=participant.pk, today=today)
    return participant
