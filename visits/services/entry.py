"""Visit data entry, missed visits and platelet counts: validated, then saved with history."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from itp_trial import protocol, stored_text
from itp_trial.audit import (
    REASON_REQUIRED,
    audited_save,
    overwritten,
    reason_needed,
    version_check,
)
from itp_trial.dates import date_future_add

from .. import schedule
from ..models import PlateletCount, Visit, WindowStatus
from ..selectors import participants_with_schedule, schedule_input
from .fields import (
    PLATELET_FIELDS,
    VISIT_FIELDS_BY_KIND,
    bleeding_grade_error,
    model_field,
    range_error,
    value_ranges,
)
from .sync import participant_changed

# The reasons a first entry gives the history: stored in English, shown translated.
REASON_ENTERED = gettext_noop("Visit entered")
REASON_MISSED = gettext_noop("Visit marked missed")
stored_text.register(REASON_ENTERED, REASON_MISSED)

logger = logging.getLogger(__name__)

Errors = dict[str, list[Any]]


def _add(errors: Errors, field: str, message: Any) -> None:
    errors.setdefault(field, []).append(message)


def _convert(model: Any, name: str, value: Any, errors: Errors) -> Any:
    """`value` as the field's Python type: a CSV string and a form value end up the same."""
    field = model._meta.get_field(name)
    if value is None or value == "":
        text = field.get_internal_type() in ("TextField", "CharField") and not field.null
        return "" if text else None
    try:
        return field.to_python(value)
    except ValidationError as error:
        errors.setdefault(name, []).extend(error.messages)
        return None


def _date_errors(participant: Any, day: date, *, field: str, today: date, errors: Errors) -> None:
    """A clinical date is never in the future, before consent, or after withdrawal."""
    if date_future_add(errors, field, day, today=today):
        pass  # refused; the order checks below only apply to a date not in the future
    elif day < participant.consent_date:
        _add(
            errors,
            field,
            _("The date cannot be before the consent date (%(date)s).")
            % {"date": participant.consent_date.isoformat()},
        )
    elif participant.withdrawal_date is not None and day > participant.withdrawal_date:
        _add(
            errors,
            field,
            _("The participant withdrew on %(date)s; nothing can be dated after withdrawal.")
            % {"date": participant.withdrawal_date.isoformat()},
        )


def _not_expected_message(participant: Any) -> str:
    if participant.withdrawal_date is not None:
        return _(
            "The participant withdrew on %(date)s: this visit is no longer expected and "
            "cannot be recorded."
        ) % {"date": participant.withdrawal_date.isoformat()}
    if participant.eligible is False:
        return _("A screen failure has no visits after screening.")
    if participant.treatment_discontinued_date is not None:
        return _("Treatment was discontinued: this visit is no longer expected.")
    return _("This visit is not expected for this participant.")


def _treatment_not_complete(code: str, data: schedule.ScheduleInput, field: str = "") -> None:
    """V4 and V5 wait for the end of treatment (protocol section 1); refused otherwise.

    `field` names the form field the refusal belongs to (none: the whole entry).
    """
    if schedule.awaits_treatment_end(code, data):
        message = _(
            "%(code)s cannot be entered before treatment is complete: %(given)s of "
            "%(count)s infusions given. Record the remaining infusions, or have the "
            "investigator discontinue treatment."
        ) % {
            "code": code,
            "given": len(data.infusion_dates),
            "count": protocol.INFUSION_COUNT,
        }
        raise ValidationError({field: message} if field else message)


def _participant_loaded(participant_id: int) -> Any:
    from subjects.models import Participant

    return participants_with_schedule(Participant.objects.filter(pk=participant_id)).get()


@dataclasses.dataclass(frozen=True)
class _VisitEntry:
    participant: Any
    values: dict[str, Any]
    status: str  # the window status the visit will have once recorded
    platelet_count: PlateletCount | None  # the count this entry updates, if one exists


@dataclasses.dataclass(frozen=True)
class Held:
    """A participant's records held in memory by a caller that judges many rows at once
    (the bulk import): the participant, the engine's input, and the platelet counts by
    sample date with the visit code each belongs to."""

    participant: Any
    current: schedule.ScheduleInput
    counts: Mapping[date, tuple[PlateletCount, str | None]]


def _visit_prepare(
    *,
    visit: Visit,
    data: Mapping[str, Any],
    today: date,
    reason: str | None = None,
    held: Held | None = None,
) -> _VisitEntry:
    """Every refusal of visit_record, checked without writing; raises a ValidationError.

    With `reason` given (a page checking before saving), a change or clearing of a stored
    value without one is refused with the rest, so that the page shows it in the same round.
    With `held`, the participant's records are those given, not read from the database.
    """
    definition = visit.definition
    if definition.kind == protocol.KIND_INFUSION:
        raise ValidationError(
            _("An infusion visit is recorded with its infusion, on the infusion form.")
        )
    errors: Errors = {}
    allowed = ("actual_date", *VISIT_FIELDS_BY_KIND[definition.kind])
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        _add(
            errors,
            NON_FIELD_ERRORS,
            _("Not entered at %(code)s: %(names)s.")
            % {"code": visit.code, "names": ", ".join(unknown)},
        )
    values = {
        name: _convert(model_field(name).model, name, data[name], errors)
        for name in allowed
        if name in data
    }

    if held is None:
        participant = _participant_loaded(visit.participant_id)
        current = schedule_input(
            participant, visits=participant.visits.all(), infusions=participant.infusions.all()
        )
    else:
        participant, current = held.participant, held.current
    computed = {s.code: s for s in schedule.schedule_compute(current, today=today)}
    if computed[visit.code].status == WindowStatus.NOT_EXPECTED:
        raise ValidationError(_not_expected_message(participant))
    _treatment_not_complete(visit.code, current)

    actual = values.get("actual_date")
    if actual is None and "actual_date" not in errors:
        _add(errors, "actual_date", _("Give the date of the visit."))
    if actual is not None:
        _date_errors(participant, actual, field="actual_date", today=today, errors=errors)
        _order_errors(visit.code, actual, computed.values(), errors)

    for name, value in values.items():
        if name in value_ranges() and name not in errors:
            message = range_error(name, value)
            if message:
                _add(errors, name, message)
    if values.get("physical_exam_normal") is False and not values.get("physical_exam_findings"):
        _add(errors, "physical_exam_findings", _("Describe the abnormal findings."))
    if "who_bleeding_grade" in allowed and not {"platelets", "who_bleeding_grade"} & set(errors):
        message = bleeding_grade_error(
            platelets=values.get("platelets"),
            grade=values.get("who_bleeding_grade"),
            scheduled=True,
        )
        if message:
            _add(errors, "who_bleeding_grade", message)

    count = _platelet_count_for(visit, participant, actual, values, errors, held=held)
    if reason is not None and not reason.strip():
        stored = {n: getattr(visit, n) for n in values if n not in PLATELET_FIELDS}
        on_visit = {n: (old, values[n]) for n, old in stored.items() if old != values[n]}
        on_count = {}
        if count is not None:
            on_count = {
                n: (getattr(count, n), values[n])
                for n in PLATELET_FIELDS
                if n in values and getattr(count, n) != values[n]
            }
        if reason_needed({**on_visit, **on_count}):
            _add(errors, "reason", REASON_REQUIRED)
            # Which stored values the change overwrites, so the reason can be given for them.
            parts = [
                overwritten(model, changes)
                for model, changes in ((Visit, on_visit), (PlateletCount, on_count))
                if reason_needed(changes)
            ]
            _add(errors, "reason", " ".join(parts))
    if errors:
        raise ValidationError(errors)

    status = _status_if_dated(current, visit.code, actual, today=today)
    return _VisitEntry(participant=participant, values=values, status=status, platelet_count=count)


def _status_if_dated(current: Any, code: str, actual: date, *, today: date) -> str:
    preview = dataclasses.replace(
        current, visits={**current.visits, code: schedule.VisitRecord(actual_date=actual)}
    )
    return next(s.status for s in schedule.schedule_compute(preview, today=today) if s.code == code)


def visit_window_status(*, visit: Visit, actual_date: date, today: date | None = None) -> str:
    """The window status the visit would have if done on `actual_date`, whatever else the
    form holds: so that a page shows the window warning with the other refusals at once."""
    participant = _participant_loaded(visit.participant_id)
    current = schedule_input(
        participant, visits=participant.visits.all(), infusions=participant.infusions.all()
    )
    return _status_if_dated(current, visit.code, actual_date, today=today or timezone.localdate())


def _order_errors(
    code: str, actual: date, computed: Iterable[schedule.ScheduledVisit], errors: Errors
) -> None:
    """Visits are dated in protocol order: not before an earlier done visit, not after a later."""
    position = protocol.VISIT_ORDER[code]
    done = [s for s in computed if s.code != code and s.actual_date is not None]
    earlier = [s for s in done if protocol.VISIT_ORDER[s.code] < position]
    later = [s for s in done if protocol.VISIT_ORDER[s.code] > position]
    latest_earlier = max(earlier, key=lambda s: s.actual_date, default=None)
    earliest_later = min(later, key=lambda s: s.actual_date, default=None)
    if latest_earlier is not None and actual < latest_earlier.actual_date:
        _add(
            errors,
            "actual_date",
            _("Visits are dated in protocol order: %(code)s cannot be before %(other)s (%(date)s).")
            % {
                "code": code,
                "other": latest_earlier.code,
                "date": latest_earlier.actual_date.isoformat(),
            },
        )
    if earliest_later is not None and actual > earliest_later.actual_date:
        _add(
            errors,
            "actual_date",
            _("Visits are dated in protocol order: %(code)s cannot be after %(other)s (%(date)s).")
            % {
                "code": code,
                "other": earliest_later.code,
                "date": earliest_later.actual_date.isoformat(),
            },
        )


def _platelet_count_for(
    visit: Visit,
    participant: Any,
    actual: date | None,
    values: Mapping[str, Any],
    errors: Errors,
    *,
    held: Held | None = None,
) -> PlateletCount | None:
    """The stored count a visit's entry updates: its own, or an unscheduled one that day."""
    if not any(name in values for name in PLATELET_FIELDS):
        return None
    platelets, grade = values.get("platelets"), values.get("who_bleeding_grade")
    if held is None:
        own = PlateletCount.objects.filter(visit=visit).order_by("sample_date").first()
    else:
        own = next(
            (c for day, (c, code) in sorted(held.counts.items()) if code == visit.code), None
        )
    if platelets is None:
        if own is not None and "platelets" in values and "platelets" not in errors:
            _add(
                errors,
                "platelets",
                _("A recorded platelet count cannot be removed; correct its value instead."),
            )
        elif grade is not None:
            _add(errors, "platelets", _("Give the platelet count the bleeding grade goes with."))
        return own
    if actual is None:
        return own
    if held is None:
        same_day = (
            PlateletCount.objects.filter(participant=participant, sample_date=actual)
            .exclude(pk=own.pk if own else None)
            .first()
        )
        other_visit = same_day is not None and same_day.visit_id not in (None, visit.pk)
    else:
        found = held.counts.get(actual)
        same_day = found[0] if found is not None and found[0] is not own else None
        other_visit = found is not None and found[1] not in (None, visit.code)
    if same_day is not None and (own is not None or other_visit):
        _add(
            errors,
            "actual_date",
            _("Another platelet count is already recorded on %(date)s.")
            % {"date": actual.isoformat()},
        )
    return own or same_day


def visit_validate(
    *,
    visit: Visit,
    data: Mapping[str, Any],
    today: date | None = None,
    reason: str | None = None,
) -> str:
    """Check what visit_record would refuse, without writing anything.

    Raises the same ValidationError visit_record would; otherwise returns the window status
    the visit would have once recorded, so that a page can warn before saving a visit that
    falls outside its window (`early` or `late`), which is allowed but a protocol deviation.
    """
    return _visit_prepare(
        visit=visit, data=data, today=today or timezone.localdate(), reason=reason
    ).status


@transaction.atomic
def visit_record(
    *,
    visit: Visit,
    user: Any,
    data: Mapping[str, Any],
    reason: str = "",
    today: date | None = None,
    version: int | None = None,
    platelet_version: int | None = None,
) -> bool:
    """Enter or correct a visit: its date and the clinical data of its kind.

    `data` holds `actual_date` and any of VISIT_FIELDS_BY_KIND[kind], including the platelet
    count and WHO bleeding grade, which are stored as the visit's PlateletCount dated on the
    visit. Refused: a date in the future, before consent, after withdrawal or out of protocol
    order; a visit that is not expected; an infusion visit (recorded with its infusion);
    numbers out of range. A visit outside its window is accepted (the checks flag it).
    Entering a visit for the first time needs no reason, nor filling a field left empty;
    changing or clearing an entered value does. `version` and `platelet_version` are those
    of the visit and of its count (0: none yet) the form was loaded with: a save based on
    older ones is refused with what changed since. Returns whether anything was written.
    """
    today = today or timezone.localdate()
    original = visit
    visit = Visit.objects.select_for_update().get(pk=visit.pk)
    version_check(visit, version=version, stored=visit)
    entry = _visit_prepare(visit=visit, data=data, today=today)
    first_entry = visit.actual_date is None and not visit.missed
    values = dict(entry.values)
    platelets = {name: values.pop(name) for name in PLATELET_FIELDS if name in values}
    for name, value in values.items():
        setattr(visit, name, value)
    visit.missed, visit.missed_reason = False, ""  # a visit entered late is no longer missed
    history_reason = reason or (REASON_ENTERED if first_entry else "")
    changed = audited_save(visit, user=user, reason=history_reason)
    if platelet_version is not None and entry.platelet_count is not None:
        version_check(entry.platelet_count, version=platelet_version)
    if platelets.get("platelets") is not None:
        count = entry.platelet_count or PlateletCount(
            participant_id=visit.participant_id, sample_date=visit.actual_date
        )
        count.sample_date = visit.actual_date
        count.visit = visit
        count.platelets = platelets["platelets"]
        count.who_bleeding_grade = platelets.get("who_bleeding_grade")
        changed = audited_save(count, user=user, reason=reason) or changed
    if changed:
        participant_changed(participant_id=visit.participant_id, today=today)
    original.refresh_from_db()
    return changed


@transaction.atomic
def visit_mark_missed(
    *,
    visit: Visit,
    user: Any,
    missed_reason: str,
    reason: str = "",
    today: date | None = None,
    version: int | None = None,
) -> bool:
    """The site marks a visit missed, with the reason; the overdue flag resolves.

    Not for an infusion (given late, or treatment is discontinued), nor for a visit that was
    done, that is not expected, or whose window has not opened yet. Changing the reason of a
    visit already marked missed needs a reason for change. Returns whether it wrote.
    """
    today = today or timezone.localdate()
    original = visit
    visit = Visit.objects.select_for_update().get(pk=visit.pk)
    version_check(visit, version=version, stored=visit)
    participant = _participant_loaded(visit.participant_id)
    current = schedule_input(
        participant, visits=participant.visits.all(), infusions=participant.infusions.all()
    )
    text = visit_missed_check(
        visit, missed_reason=missed_reason, participant=participant, current=current, today=today
    )
    first = not visit.missed
    visit.missed, visit.missed_reason = True, text
    changed = audited_save(visit, user=user, reason=reason or (REASON_MISSED if first else ""))
    if changed:
        participant_changed(participant_id=visit.participant_id, today=today)
    original.refresh_from_db()
    return changed


def visit_missed_check(
    visit: Visit,
    *,
    missed_reason: str,
    participant: Any,
    current: schedule.ScheduleInput,
    today: date,
) -> str:
    """What visit_mark_missed refuses; the reason for missing, stripped (pure)."""
    if visit.definition.kind == protocol.KIND_INFUSION:
        raise ValidationError(
            _(
                "An infusion is never marked missed: it is given late, or the investigator "
                "discontinues treatment."
            )
        )
    if visit.actual_date is not None:
        raise ValidationError(
            _("This visit was done on %(date)s; it cannot be marked missed.")
            % {"date": visit.actual_date.isoformat()}
        )
    text = (missed_reason or "").strip()
    if not text:
        raise ValidationError({"missed_reason": _("Give the reason the visit was missed.")})
    computed = {s.code: s for s in schedule.schedule_compute(current, today=today)}[visit.code]
    if computed.status == WindowStatus.NOT_EXPECTED:
        raise ValidationError(_not_expected_message(participant))
    if computed.window_start is not None and today < computed.window_start:
        raise ValidationError(
            _("The window of this visit opens on %(date)s; it cannot be marked missed before.")
            % {"date": computed.window_start.isoformat()}
        )
    _treatment_not_complete(visit.code, current)
    return text


@transaction.atomic
def platelet_record(
    *,
    participant: Any,
    user: Any,
    sample_date: date,
    platelets: int,
    who_bleeding_grade: int | None,
    visit: Visit | None = None,
    reason: str = "",
    today: date | None = None,
    version: int | None = None,
) -> PlateletCount:
    """Record a platelet count (and WHO bleeding grade), at a visit or as an unscheduled result.

    One count per participant and sample date: a second one for the same date updates the
    first, which needs a reason for change. Refused: a count outside PLATELET_MIN..MAX, a
    grade outside the WHO scale, a count without its grade where the protocol requires one
    (at a scheduled visit), a date in the future, before consent or after withdrawal.
    `version` is the version of the count the correcting form was loaded from (a count not
    recorded yet is 0): a save based on an older one is refused.
    """
    from subjects.models import Participant

    today = today or timezone.localdate()
    participant = Participant.objects.get(pk=participant.pk)

    def current() -> schedule.ScheduleInput:
        loaded = _participant_loaded(participant.pk)
        return schedule_input(loaded, visits=loaded.visits.all(), infusions=loaded.infusions.all())

    day, count_value, grade = platelet_check(
        participant=participant,
        sample_date=sample_date,
        platelets=platelets,
        who_bleeding_grade=who_bleeding_grade,
        visit=visit,
        current=current,
        today=today,
    )
    count = PlateletCount.objects.select_for_update().filter(
        participant=participant, sample_date=day
    ).first() or PlateletCount(participant=participant, sample_date=day)
    count.platelets = count_value
    count.who_bleeding_grade = grade
    if visit is not None:
        count.visit = visit
    if audited_save(count, user=user, reason=reason, version=version):
        participant_changed(participant_id=participant.pk, today=today)
    return count


def platelet_check(
    *,
    participant: Any,
    sample_date: Any,
    platelets: Any,
    who_bleeding_grade: Any,
    visit: Visit | None,
    current: Any,
    today: date,
) -> tuple[date, int, int | None]:
    """What platelet_record refuses; the date, count and grade converted. `current` gives
    the participant's schedule input when a visit is named (called only then)."""
    errors: Errors = {}
    day = _convert(PlateletCount, "sample_date", sample_date, errors)
    count_value = _convert(PlateletCount, "platelets", platelets, errors)
    grade = _convert(PlateletCount, "who_bleeding_grade", who_bleeding_grade, errors)
    if day is None and "sample_date" not in errors:
        _add(errors, "sample_date", _("Give the date the sample was taken."))
    if count_value is None and "platelets" not in errors:
        _add(errors, "platelets", _("Give the platelet count."))
    for name, value in (("platelets", count_value), ("who_bleeding_grade", grade)):
        message = range_error(name, value)
        if message:
            _add(errors, name, message)
    if not {"platelets", "who_bleeding_grade"} & set(errors):
        message = bleeding_grade_error(
            platelets=count_value, grade=grade, scheduled=visit is not None
        )
        if message:
            _add(errors, "who_bleeding_grade", message)
    if day is not None:
        _date_errors(participant, day, field="sample_date", today=today, errors=errors)
    if visit is not None and visit.participant_id != participant.pk:
        _add(errors, NON_FIELD_ERRORS, _("The visit belongs to another participant."))
    if errors:
        raise ValidationError(errors)
    if visit is not None:
        _treatment_not_complete(visit.code, current(), field="visit")
    return day, count_value, grade
