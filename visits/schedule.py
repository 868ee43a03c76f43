"""The visit schedule of one participant, computed from dates alone (protocol section 1).

Pure functions: no ORM access. Services, forms, the CSV import, background checks and
exports build a `ScheduleInput` from what was entered and call `schedule_compute`, so every
part of the system agrees on a visit's target, window and status.

The numbers (offsets, windows, the number of infusions) are read from
`itp_trial.protocol`; this module holds only the rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from itp_trial import protocol
from itp_trial.choices import ParticipantStatus, WindowStatus


@dataclass(frozen=True)
class VisitRecord:
    """What the site entered for one non-infusion visit."""

    actual_date: date | None = None
    missed: bool = False


@dataclass(frozen=True)
class ScheduleInput:
    """Everything the schedule depends on.

    `infusion_dates` maps an infusion number (1..INFUSION_COUNT) to the date it was given;
    `visits` maps a non-infusion visit code to its record (a missing code: nothing entered).
    Records under infusion visit codes are ignored: an infusion visit is done when its
    infusion is recorded, and its actual date is the infusion date.
    """

    planned_first_infusion: date | None
    infusion_dates: Mapping[int, date]
    visits: Mapping[str, VisitRecord]
    screen_failed: bool = False
    treatment_discontinued: date | None = None
    withdrawal: date | None = None


@dataclass(frozen=True)
class ScheduledVisit:
    code: str
    target: date | None
    window_start: date | None
    window_end: date | None
    provisional: bool  # target computed from an anchor that has not happened yet
    actual_date: date | None  # for infusion visits, the infusion date
    missed: bool
    status: str  # a WindowStatus value
    study_day: int | None  # of actual_date


def study_day(day: date, first_infusion: date | None) -> int | None:
    """Study day of `day` (CDISC): infusion 1 is day 1, the day before is -1; no day 0."""
    if first_infusion is None:
        return None
    delta = (day - first_infusion).days
    return delta + 1 if delta >= 0 else delta


def treatment_complete(data: ScheduleInput) -> bool:
    """Five infusions given, or treatment discontinued by the investigator."""
    if data.treatment_discontinued is not None:
        return True
    return all(n in data.infusion_dates for n in range(1, protocol.INFUSION_COUNT + 1))


def last_infusion_given(data: ScheduleInput) -> date | None:
    """The date follow-up hangs on: infusion 5, or the last one given when discontinued.

    None while treatment is under way, and when treatment was discontinued before any
    infusion was given.
    """
    if protocol.INFUSION_COUNT in data.infusion_dates:
        return data.infusion_dates[protocol.INFUSION_COUNT]
    if data.treatment_discontinued is not None and data.infusion_dates:
        return data.infusion_dates[max(data.infusion_dates)]
    return None


def _infusion_targets(data: ScheduleInput) -> dict[int, tuple[date | None, bool]]:
    """Target and provisional flag of every infusion, chained on actual dates.

    Infusion 1 is due on its planned date (never provisional: the plan is the anchor).
    Infusion n hangs on the actual date of infusion n-1, or, until that one is given, on
    its target, and is then provisional.
    """
    targets: dict[int, tuple[date | None, bool]] = {}
    for number in range(1, protocol.INFUSION_COUNT + 1):
        definition = protocol.VISITS_BY_CODE[protocol.INFUSION_VISIT_CODES[number]]
        if definition.anchor == protocol.ANCHOR_PLANNED_INF1:
            anchor, provisional = data.planned_first_infusion, False
        elif number - 1 in data.infusion_dates:
            anchor, provisional = data.infusion_dates[number - 1], False
        else:
            anchor, provisional = targets[number - 1][0], True
        target = anchor + timedelta(days=definition.offset) if anchor is not None else None
        targets[number] = (target, provisional and target is not None)
    return targets


def _anchor(
    definition: protocol.VisitDefinition,
    data: ScheduleInput,
    infusion_targets: Mapping[int, tuple[date | None, bool]],
) -> tuple[date | None, bool]:
    """Anchor date of a non-infusion visit and whether it is provisional."""
    if definition.anchor == protocol.ANCHOR_INF1:
        if 1 in data.infusion_dates:
            return data.infusion_dates[1], False
        return data.planned_first_infusion, data.planned_first_infusion is not None
    if definition.anchor == protocol.ANCHOR_LAST_INFUSION:
        if treatment_complete(data):
            return last_infusion_given(data), False
        last_target = infusion_targets[protocol.INFUSION_COUNT][0]
        return last_target, last_target is not None
    raise ValueError(f"Visit {definition.code} has an unknown anchor {definition.anchor!r}")


def discontinued_early(data: ScheduleInput) -> bool:
    """Treatment stopped by the investigator before the last infusion was given."""
    return (
        data.treatment_discontinued is not None
        and protocol.INFUSION_COUNT not in data.infusion_dates
    )


def awaits_treatment_end(code: str, data: ScheduleInput) -> bool:
    """True for the end-of-treatment and follow-up visits while treatment is under way.

    They cannot be entered (nor marked missed) before treatment is complete: five
    infusions given, or treatment discontinued (protocol section 1).
    """
    definition = protocol.VISITS_BY_CODE[code]
    return definition.anchor == protocol.ANCHOR_LAST_INFUSION and not treatment_complete(data)


def _window(
    definition: protocol.VisitDefinition,
    data: ScheduleInput,
    infusion_targets: Mapping[int, tuple[date | None, bool]],
) -> tuple[date | None, bool, int, int, int]:
    """Anchor, provisional flag, offset, minus and plus of a non-infusion visit.

    After an early discontinuation the visits of DISCONTINUATION_WINDOWS (V4) hang on the
    discontinuation date, with their own window; with no infusion given they have none.
    """
    anchor, provisional = _anchor(definition, data, infusion_targets)
    offset, minus, plus = definition.offset, definition.minus, definition.plus
    if (
        definition.code in protocol.DISCONTINUATION_WINDOWS
        and discontinued_early(data)
        and anchor is not None
    ):
        anchor, provisional = data.treatment_discontinued, False
        offset, minus, plus = protocol.DISCONTINUATION_WINDOWS[definition.code]
    return anchor, provisional, offset, minus, plus


def _window_status(
    actual: date | None,
    missed: bool,
    window_start: date | None,
    window_end: date | None,
    today: date,
) -> str:
    # Missed first: a visit the site says was missed raises no out-of-window flag.
    if missed:
        return WindowStatus.MISSED
    if actual is not None:
        if window_start is not None and actual < window_start:
            return WindowStatus.EARLY
        if window_end is not None and actual > window_end:
            return WindowStatus.LATE
        return WindowStatus.IN_WINDOW
    if window_end is not None and today > window_end:
        return WindowStatus.OVERDUE
    return WindowStatus.PENDING


def schedule_compute(data: ScheduleInput, *, today: date) -> list[ScheduledVisit]:
    """One `ScheduledVisit` per `protocol.VISITS`, in protocol order.

    Rules applied after the window status, each overriding the previous. "Not done" means
    no actual date and not marked missed; a visit the site entered or marked missed keeps
    its status under every rule but the screen failure's, so data entered is never hidden.

    - Treatment discontinued early: every infusion not given is `not_expected`; V4 hangs on
      the discontinuation date (DISCONTINUATION_WINDOWS); a follow-up visit not done whose
      window ended before the discontinuation date is `not_expected` (the participant was
      still on treatment then); the others hang on the last infusion given.
    - Treatment discontinued before any infusion: nothing is expected any more. The
      end-of-treatment and follow-up visits have no anchor (no target, no window), and
      every visit not done is `not_expected`, the baseline included.
    - Withdrawal: a visit not done whose target is after the withdrawal date, or that has
      no target, is `not_expected`. One whose target is on or before the withdrawal date
      keeps its status, so an overdue visit stays overdue until the site enters it or marks
      it missed. Withdrawal also ends treatment: every infusion not given is
      `not_expected`, overdue or not (an infusion can never be marked missed).
    - Screen failure: every visit after the screening visit is `not_expected`, whatever
      was entered; the screening visit keeps its status.
    """
    infusion_targets = _infusion_targets(data)
    first_infusion = data.infusion_dates.get(1)
    discontinued = data.treatment_discontinued
    early_stop = discontinued_early(data)
    nothing_given = discontinued is not None and not data.infusion_dates
    scheduled: list[ScheduledVisit] = []
    for definition in protocol.VISITS:
        number = definition.infusion_number
        if number is not None:
            target, provisional = infusion_targets[number]
            actual, missed = data.infusion_dates.get(number), False
            minus, plus = definition.minus, definition.plus
        else:
            anchor, provisional, offset, minus, plus = _window(definition, data, infusion_targets)
            target = anchor + timedelta(days=offset) if anchor is not None else None
            record = data.visits.get(definition.code, VisitRecord())
            actual, missed = record.actual_date, record.missed
        window_start = window_end = None
        if target is not None:
            window_start = target - timedelta(days=minus)
            window_end = target + timedelta(days=plus)

        if number == 1 and actual is not None:
            # Infusion 1 defines study day 1: once given it is in window by definition.
            status = WindowStatus.IN_WINDOW
        else:
            status = _window_status(actual, missed, window_start, window_end, today)

        done_or_missed = actual is not None or missed
        if number is not None and actual is None and discontinued is not None:
            status = WindowStatus.NOT_EXPECTED
        if (
            early_stop
            and definition.kind == protocol.KIND_FOLLOW_UP
            and not done_or_missed
            and window_end is not None
            and window_end < discontinued
        ):
            status = WindowStatus.NOT_EXPECTED
        if nothing_given and not done_or_missed:
            status = WindowStatus.NOT_EXPECTED
        if data.withdrawal is not None and not done_or_missed:
            if number is not None or target is None or target > data.withdrawal:
                status = WindowStatus.NOT_EXPECTED
        if data.screen_failed and definition.kind != protocol.KIND_SCREENING:
            status = WindowStatus.NOT_EXPECTED

        scheduled.append(
            ScheduledVisit(
                code=definition.code,
                target=target,
                window_start=window_start,
                window_end=window_end,
                provisional=provisional,
                actual_date=actual,
                missed=missed,
                status=str(status),
                study_day=study_day(actual, first_infusion) if actual is not None else None,
            )
        )
    return scheduled


def participant_status(
    *,
    withdrawn: bool,
    eligible: bool | None,
    enrolled: bool,
    final_visit_done_or_missed: bool,
    treatment_complete: bool,
    infusions_given: int,
) -> str:
    """Participant status (protocol section 3), the first that applies.

    `eligible` is None while eligibility has not been decided; `enrolled` means the
    eligible participant was enrolled with a planned infusion-1 date.
    """
    if withdrawn:
        return ParticipantStatus.WITHDRAWN.value
    if eligible is False:
        return ParticipantStatus.SCREEN_FAILED.value
    if final_visit_done_or_missed:
        return ParticipantStatus.COMPLETED.value
    if treatment_complete:
        return ParticipantStatus.FOLLOW_UP.value
    if infusions_given >= 1:
        return ParticipantStatus.ON_TREATMENT.value
    if enrolled:
        return ParticipantStatus.ENROLLED.value
    return ParticipantStatus.SCREENING.value
