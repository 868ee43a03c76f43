"""Writes on safety data: adverse events and concomitant medication.

The flags of protocol section 6 are not raised here: the background checks (safety.checks)
raise and resolve them after every write, from the stored records.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from infusions.models import Infusion
from infusions.services import Errors, assign_fields, clean_fields_into
from itp_trial.audit import audited_save, version_check
from itp_trial.dates import date_future_add, moment_future_error
from subjects.models import Participant
from visits.services import participant_changed

from . import rules
from .models import ACKNOWLEDGED_KINDS, AdverseEvent, ConcomitantMedication, Flag, SeriousCriterion

AE_DATA_FIELDS: tuple[str, ...] = (
    "term",
    "onset_date",
    "end_date",
    "ongoing",
    "ctcae_grade",
    "serious",
    "serious_criteria",
    "relationship",
    "related_infusion",
    "action_taken",
    "outcome",
    "awareness_at",
    "reported_at",
)
CONMED_DATA_FIELDS: tuple[str, ...] = (
    "drug",
    "indication",
    "dose",
    "start_date",
    "end_date",
    "rescue",
)


def _add(errors: Errors, field: str, message: Any) -> None:
    errors.setdefault(field, []).append(message)


def serious_criteria_codes(value: str | Iterable[str] | None) -> list[str]:
    """The criteria as codes, from a list or a ';'-joined string, in the order of the codes.

    A canonical order means that ticking the same boxes again is not a change.
    """
    if value is None:
        return []
    items = value.split(";") if isinstance(value, str) else list(value)
    codes = {str(item).strip() for item in items if str(item).strip()}
    known = [c for c in SeriousCriterion.values if c in codes]
    return known + sorted(codes - set(known))


def _aware(value: Any) -> Any:
    if isinstance(value, datetime) and timezone.is_naive(value):
        return timezone.make_aware(value)
    return value


def _ae_errors(
    event: AdverseEvent, *, participant: Participant, now: datetime, errors: Errors
) -> None:
    today = timezone.localdate(now)
    criteria = event.serious_criteria_list
    needed = ("onset_date", "end_date", "ctcae_grade", "outcome", "serious", "ongoing")
    if not any(name in errors for name in needed) and event.onset_date and event.ctcae_grade:
        for field, messages in rules.ae_consistency_errors(
            onset_date=event.onset_date,
            end_date=event.end_date,
            ongoing=event.ongoing,
            grade=event.ctcae_grade,
            outcome=event.outcome,
            serious=event.serious,
            serious_criteria=criteria,
            consent_date=participant.consent_date,
        ).items():
            errors.setdefault(field, []).extend(messages)

    for field in ("onset_date", "end_date"):
        date_future_add(errors, field, getattr(event, field), today=today)
    for field in ("awareness_at", "reported_at"):
        message = moment_future_error(getattr(event, field), now=now)
        if message:
            _add(errors, field, message)

    aware, reported = event.awareness_at, event.reported_at
    if isinstance(aware, datetime) and isinstance(event.onset_date, date):
        if timezone.localdate(aware) < event.onset_date:
            _add(errors, "awareness_at", _("The site cannot have become aware before the onset."))
    if isinstance(aware, datetime) and isinstance(reported, datetime) and reported < aware:
        _add(
            errors,
            "reported_at",
            _("The report cannot be before the site became aware of the event."),
        )

    infusion = event.related_infusion
    if infusion is not None:
        if infusion.participant_id != participant.pk:
            _add(
                errors,
                "related_infusion",
                _("The related infusion must be one of this participant's infusions."),
            )
        elif isinstance(event.onset_date, date) and event.onset_date < infusion.infusion_date:
            _add(
                errors,
                "onset_date",
                _("The onset cannot be before the related infusion, given on %(date)s.")
                % {"date": infusion.infusion_date.isoformat()},
            )


@transaction.atomic
def adverse_event_record(
    *,
    participant: Participant,
    user: Any,
    data: Mapping[str, Any],
    ae_number: int | None = None,
    reason: str = "",
    now: datetime | None = None,
    version: int | None = None,
) -> AdverseEvent:
    """Record a new adverse event, or correct event `ae_number` (a reason is then required).

    Without `ae_number` the event takes the participant's next number; with one that does
    not exist yet (a CSV import of paper CRFs) it is created with that number. The rules of
    safety.rules.ae_consistency_errors apply, and: the site's awareness is not before the
    onset, the report not before the awareness, nothing is in the future, and a related
    infusion is one of the participant's, given on or before the onset. Nothing is written
    when anything is refused.
    """
    now = now or timezone.now()
    # The participant's row lock makes "the next number" safe when two events are entered
    # at the same moment.
    participant = Participant.objects.select_for_update().get(pk=participant.pk)
    event = None
    if ae_number is not None:
        if ae_number < 1:
            raise ValidationError({"ae_number": _("The AE number starts at 1.")})
        event = AdverseEvent.objects.filter(participant=participant, ae_number=ae_number).first()
    adding = event is None
    if adding:
        if ae_number is None:
            last = participant.adverse_events.aggregate(last=Max("ae_number"))["last"]
            ae_number = (last or 0) + 1
        event = AdverseEvent(participant=participant, ae_number=ae_number)

    errors: Errors = {}
    data = dict(data)
    if "serious_criteria" in data:
        data["serious_criteria"] = ";".join(serious_criteria_codes(data["serious_criteria"]))
    if "related_infusion" in data:
        related = data.pop("related_infusion") or None
        if related is not None and not isinstance(related, Infusion):
            _add(errors, "related_infusion", _("Choose one of this participant's infusions."))
        else:
            event.related_infusion = related
    assign_fields(event, data, allowed=AE_DATA_FIELDS, errors=errors)
    for field in ("awareness_at", "reported_at"):
        setattr(event, field, _aware(getattr(event, field)))
    clean_fields_into(event, errors=errors, exclude=("participant", "related_infusion"))
    _ae_errors(event, participant=participant, now=now, errors=errors)
    if errors:
        raise ValidationError(errors)
    if audited_save(event, user=user, reason=reason, version=None if adding else version):
        participant_changed(participant_id=participant.pk, today=timezone.localdate(now))
    return event


def _conmed_errors(
    conmed: ConcomitantMedication, *, participant: Participant, today: date, errors: Errors
) -> None:
    start, end = conmed.start_date, conmed.end_date
    date_future_add(errors, "start_date", start, today=today)
    date_future_add(errors, "end_date", end, today=today)
    if isinstance(start, date) and isinstance(end, date) and end < start:
        _add(errors, "end_date", _("The end date cannot be before the start date."))
    if isinstance(start, date) and conmed.drug:
        duplicate = ConcomitantMedication.objects.filter(
            participant=participant, drug=conmed.drug, start_date=start
        ).exclude(pk=conmed.pk)
        if duplicate.exists():
            _add(
                errors,
                NON_FIELD_ERRORS,
                _("%(drug)s starting on %(date)s is already recorded for this participant.")
                % {"drug": conmed.drug, "date": start.isoformat()},
            )


@transaction.atomic
def conmed_record(
    *,
    participant: Participant,
    user: Any,
    data: Mapping[str, Any],
    conmed: ConcomitantMedication | None = None,
    reason: str = "",
    today: date | None = None,
    version: int | None = None,
) -> ConcomitantMedication:
    """Record a concomitant medication, or correct `conmed` (a reason is then required).

    Refused: an end before the start, a date in the future, the same drug starting on the
    same day twice. A rescue medication makes the platelet assessments of its span not
    evaluable; that is derived when the response is computed, not stored here.
    """
    today = today or timezone.localdate()
    participant = Participant.objects.select_for_update().get(pk=participant.pk)
    if conmed is None:
        conmed = ConcomitantMedication(participant=participant)
    else:
        stored = ConcomitantMedication.objects.filter(pk=conmed.pk).first()
        if stored is None or stored.participant_id != participant.pk:
            raise ValidationError(_("This medication is not one of this participant's."))
        conmed = stored
    errors: Errors = {}
    assign_fields(conmed, data, allowed=CONMED_DATA_FIELDS, errors=errors)
    clean_fields_into(conmed, errors=errors, exclude=("participant",))
    _conmed_errors(conmed, participant=participant, today=today, errors=errors)
    if errors:
        raise ValidationError(errors)
    if audited_save(conmed, user=user, reason=reason, version=version):
        participant_changed(participant_id=participant.pk, today=today)
    return conmed


ACKNOWLEDGE_PERMISSION = "safety.acknowledge_flag"


@transaction.atomic
def flag_acknowledge(
    *,
    flag_id: int,
    user: Any,
    comment: str,
    now: datetime | None = None,
    version: int | None = None,
) -> Flag:
    """A reviewer acknowledges a protocol deviation (the kinds of ACKNOWLEDGED_KINDS).

    The comment is required and recorded with the user and the time, in the flag and its
    history. A flag that resolves itself when the data arrive (overdue visit, SAE report)
    is not acknowledged, nor one already acknowledged. `version` is the one the reviewer's
    page showed: a flag resolved, reopened or acknowledged since is refused with what changed.
    """
    if not user.has_perm(ACKNOWLEDGE_PERMISSION):
        raise PermissionDenied(_("Only an investigator or a monitor can acknowledge a flag."))
    flag = Flag.objects.select_for_update().get(pk=flag_id)
    version_check(flag, version=version, stored=flag)
    if flag.kind not in ACKNOWLEDGED_KINDS:
        raise ValidationError(
            _("A flag of this kind resolves itself when the data arrive; it is not acknowledged.")
        )
    if flag.acknowledged_at is not None:
        raise ValidationError(_("This flag has already been acknowledged."))
    comment = (comment or "").strip()
    if not comment:
        raise ValidationError({"comment": _("Say why the deviation is acceptable.")})
    flag.acknowledged_by = user
    flag.acknowledged_at = now or timezone.now()
    flag.acknowledgement_comment = comment
    flag.full_clean()
    flag._history_user = user
    flag._change_reason = comment
    flag.version += 1
    flag.save(
        update_fields=["acknowledged_by", "acknowledged_at", "acknowledgement_comment", "version"]
    )
    return flag
