"""subjects.csv and eligibility.csv applied through the participant services.

A participant's row is applied in four steps, each at its place in the dependency order:
screening (or correction of the screening CRF), enrolment (after the eligibility
answers), treatment discontinuation (after the infusions) and withdrawal (last).
Enrolment, discontinuation and withdrawal are events: the first time they are recorded
they need no reason, as on the pages; a recorded one is not changed by a file.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from subjects.models import EligibilityAnswer, Participant
from subjects.rules import is_minor
from subjects.services import (
    eligibility_record,
    participant_enrol,
    participant_screen,
    participant_update,
    participant_withdraw,
    treatment_discontinue,
)

from ..cells import format_value
from .parse import ParsedRow
from .run import CHANGED, Run, changes, given_values, same

Rows = Sequence[ParsedRow]

PARTICIPANT_FIELDS = (
    "sex",
    "birth_date",
    "consent_date",
    "consent_version",
    "guardian_consent",
    "child_assent",
    "itp_diagnosis_date",
    "prior_therapies",
    "splenectomy",
    "splenectomy_date",
    "height_cm",
)
DISCONTINUATION = ("treatment_discontinued_date", "treatment_discontinued_reason")
WITHDRAWAL = ("withdrawal_date", "withdrawal_reason", "withdrawal_detail")
SUBJECT_RAW = (
    "screening_number",
    *PARTICIPANT_FIELDS,
    "enrolled_on",
    "planned_first_infusion_date",
    *DISCONTINUATION,
    *WITHDRAWAL,
)


MINOR_ONLY = ("guardian_consent", "child_assent")


def adults_not_applicable(
    values: dict[str, Any], participant: Participant | None = None
) -> dict[str, Any]:
    """An adult's guardian consent and child assent left empty are exported as `N` (not
    applicable); read back, `N` is what is stored for that adult: nothing."""
    birth, consent = values.get("birth_date"), values.get("consent_date")
    if not birth or not consent or is_minor(birth, consent):
        return values
    empty = {k for k in MINOR_ONLY if participant is None or getattr(participant, k) is None}
    return {k: (None if k in empty and v is False else v) for k, v in values.items()}


def subjects_screen(run: Run, rows: Rows, *, screening_dates: dict[str, Any]) -> None:
    """Create the participants not yet in the database, correct the others' CRF fields."""
    for row in rows:
        subject_id = row.values["subject_id"]
        participant = Participant.objects.filter(subject_id=subject_id).first()
        given = adults_not_applicable(given_values(row, SUBJECT_RAW), participant)
        if participant is None:
            run.outcome(row, subject_id, stored=None, new=given)
            data = adults_not_applicable(given_values(row, PARTICIPANT_FIELDS))
            ok = run.call(
                row,
                lambda data=data, row=row, subject_id=subject_id: participant_screen(
                    user=run.user,
                    data=data,
                    screening_date=screening_dates.get(subject_id),
                    subject_id=subject_id,
                    screening_number=row.values.get("screening_number"),
                    today=run.today,
                ),
                columns={"screening_date": "consent_date"},
            )
            if ok:
                run.created_subjects.add(subject_id)
            else:
                run.refused_subjects[subject_id] = row
            continue
        if run.stale(row, participant):
            continue
        stored = {name: getattr(participant, name) for name in given}
        found = [c.column for c in changes(stored, given)]
        # Only the CRF fields are corrections that need a reason; the events that fill an
        # empty value are judged in their own step below.
        needs_reason = any(
            name in PARTICIPANT_FIELDS
            or (name == "planned_first_infusion_date" and participant.enrolled_on is not None)
            for name in found
        )
        run.outcome(row, subject_id, stored=stored, new=given, needs_reason=needs_reason)
        if "screening_number" in found:
            run.issue(row, "screening_number", _("A screening number never changes."))
        update = {name: given[name] for name in PARTICIPANT_FIELDS if name in found}
        if update and run.may_write(CHANGED):
            run.call(
                row,
                lambda p=participant, update=update: participant_update(
                    participant=p,
                    user=run.user,
                    data=update,
                    reason=run.service_reason,
                    today=run.today,
                ),
            )


class SubjectStore:
    """The participants as the row rules see them, and the services they write through:
    the database (the per-record path); `bulk.HeldStore` holds them in memory instead."""

    def __init__(self, run: Run) -> None:
        self.run = run

    def find(self, subject_id: str) -> Participant | None:
        return Participant.objects.filter(subject_id=subject_id).first()

    def participant(self, row: ParsedRow) -> Participant | None:
        return self.run.participant(row)

    def answers(self, participant: Participant) -> dict[str, EligibilityAnswer]:
        """The participant's stored answers, by criterion."""
        return {a.criterion: a for a in participant.eligibility_answers.all()}

    def write(self, row: ParsedRow, service: str, /, **call: Any) -> bool:
        options = {k: call.pop(k) for k in ("columns", "default_column", "hint") if k in call}
        function = SERVICES[service]
        return self.run.call(row, lambda: function(user=self.run.user, **call), **options)

    def record_eligibility(self, participant: Participant, answers: dict[str, Any]) -> None:
        """Raises the service's refusal; writes nothing then."""
        with transaction.atomic():
            eligibility_record(
                participant=participant,
                user=self.run.user,
                answers=answers,
                reason=self.run.service_reason,
                today=self.run.today,
            )


SERVICES = {
    "participant_enrol": participant_enrol,
    "participant_update": participant_update,
    "participant_withdraw": participant_withdraw,
    "treatment_discontinue": treatment_discontinue,
}


def subjects_enrol(run: Run, rows: Rows, store: SubjectStore | None = None) -> None:
    """Enrol on enrolled_on with the planned date of infusion 1 (each is required with the
    other); once enrolled, a new planned date re-plans it, and the enrolment date, an event,
    is not changed by a file."""
    store = store or SubjectStore(run)
    for row in rows:
        if "planned_first_infusion_date" not in row.values and "enrolled_on" not in row.values:
            continue
        planned = row.values.get("planned_first_infusion_date")
        enrolled_on = row.values.get("enrolled_on")
        participant = store.find(row.values["subject_id"])
        if participant is None or not row.ok:
            continue  # refused at screening (or stale), already reported
        if participant.enrolled_on is None:
            if planned is None and enrolled_on is None:
                continue
            if planned is None:
                run.issue(
                    row,
                    "planned_first_infusion_date",
                    _("Required with enrolled_on: give the planned date of infusion 1."),
                )
            elif enrolled_on is None:
                run.issue(
                    row,
                    "enrolled_on",
                    _("Required with planned_first_infusion_date: give the enrolment date."),
                )
            else:
                store.write(
                    row,
                    "participant_enrol",
                    participant=participant,
                    planned_first_infusion_date=planned,
                    enrolled_on=enrolled_on,
                    today=run.today,
                    default_column="planned_first_infusion_date",
                )
            continue
        if "enrolled_on" in row.values and not same(participant.enrolled_on, enrolled_on):
            run.issue(
                row,
                "enrolled_on",
                _(
                    "Already recorded as “%(old)s”: a recorded enrolment is not changed by "
                    "an import."
                )
                % {"old": format_value(participant.enrolled_on)},
            )
        if "planned_first_infusion_date" not in row.values:
            continue
        if planned is None:
            run.issue(
                row,
                "planned_first_infusion_date",
                _("The participant is enrolled: the planned date of infusion 1 cannot be removed."),
            )
        elif planned != participant.planned_first_infusion_date and run.may_write(CHANGED):
            store.write(
                row,
                "participant_update",
                participant=participant,
                data={"planned_first_infusion_date": planned},
                reason=run.service_reason,
                today=run.today,
            )


def _once(
    run: Run, row: ParsedRow, participant: Participant, names: Sequence[str], *, event: str
) -> bool:
    """True when the row records the event (dated by names[0]) for the first time; an issue
    when it would change or remove one already recorded: that correction is made on the
    participant's page, by the people allowed to make it, not by a file."""
    given = given_values(row, names)
    if getattr(participant, names[0]) is None:
        if given.get(names[0]) is not None:
            return True
        for name, value in given.items():
            if value not in (None, ""):
                run.issue(
                    row,
                    names[0],
                    _("%(column)s is given without the date of the %(event)s.")
                    % {"column": name, "event": event},
                )
        return False
    for name, value in given.items():
        stored = getattr(participant, name)
        if not same(stored, value):
            run.issue(
                row,
                name,
                _(
                    "Already recorded as “%(old)s”: a recorded %(event)s is not changed by "
                    "an import."
                )
                % {"old": format_value(stored), "event": event},
            )
    return False


def subjects_discontinue(run: Run, rows: Rows, store: SubjectStore | None = None) -> None:
    """Treatment discontinued, after the infusions: it stops any further one."""
    store = store or SubjectStore(run)
    for row in rows:
        participant = store.find(row.values["subject_id"])
        if (
            participant is None
            or not row.ok
            or not _once(
                run, row, participant, DISCONTINUATION, event=_("treatment discontinuation")
            )
        ):
            continue
        hint = ""
        if not run.user.has_perm("subjects.discontinue_treatment"):
            hint = _(
                "Only an investigator can discontinue treatment, and the import runs as "
                "%(user)s: have an investigator run it (--user), or record the "
                "discontinuation on the participant's page."
            ) % {"user": run.user.get_username()}
        store.write(
            row,
            "treatment_discontinue",
            participant=participant,
            on=row.values["treatment_discontinued_date"],
            reason=row.values.get("treatment_discontinued_reason") or "",
            today=run.today,
            columns={
                "on": "treatment_discontinued_date",
                "reason": "treatment_discontinued_reason",
            },
            default_column="treatment_discontinued_date",
            hint=hint,
        )


def subjects_withdraw(run: Run, rows: Rows, store: SubjectStore | None = None) -> None:
    """Withdrawal, last of all: nothing new can be recorded after it."""
    store = store or SubjectStore(run)
    for row in rows:
        participant = store.find(row.values["subject_id"])
        if (
            participant is None
            or not row.ok
            or not _once(run, row, participant, WITHDRAWAL, event=_("withdrawal"))
        ):
            continue
        store.write(
            row,
            "participant_withdraw",
            participant=participant,
            on=row.values["withdrawal_date"],
            withdrawal_reason=row.values.get("withdrawal_reason") or "",
            detail=row.values.get("withdrawal_detail") or "",
            today=run.today,
            columns={"on": "withdrawal_date"},
            default_column="withdrawal_date",
        )


def eligibility_apply(run: Run, rows: Rows, store: SubjectStore | None = None) -> None:
    """Each participant's answers in one call, as the checklist is submitted."""
    store = store or SubjectStore(run)
    by_subject: dict[str, list[ParsedRow]] = defaultdict(list)
    for row in rows:
        by_subject[row.values["subject_id"]].append(row)
    for group in by_subject.values():
        participant = store.participant(group[0])
        if participant is None:
            continue
        stored = store.answers(participant)
        stale = [row for row in group if run.stale(row, stored.get(row.values["criterion"]))]
        if stale:
            continue
        answers, write = {}, False
        for row in group:
            criterion, met = row.values["criterion"], row.values["met"]
            answers[criterion] = met
            previous = {"met": stored[criterion].met} if criterion in stored else None
            action = run.outcome(
                row, f"{row.values['subject_id']} {criterion}", stored=previous, new={"met": met}
            )
            write = write or run.may_write(action)
        if not write:
            continue
        rows_by_criterion = {row.values["criterion"]: row for row in group}
        try:
            store.record_eligibility(participant, answers)
        except ValidationError as error:
            messages = error.message_dict if hasattr(error, "error_dict") else {"": error.messages}
            for name, texts in messages.items():
                row = rows_by_criterion.get(name, group[0])
                column = "met" if name in rows_by_criterion else ""
                if name == NON_FIELD_ERRORS or name == "":
                    column = ""
                for text in texts:
                    run.issue(row, column, text)
