"""Data for the dashboard and overview tests.

Participants and their clinical data go through the real services (screening, enrolment,
infusions, visits, counts, events, rescue therapy) and the real background checks, so the
stored schedule, the dose columns and the flags are the ones the site would see. For the
query-count tests many participants are inserted in bulk instead (`bulk_participants`),
which keeps those tests fast; their derived columns come from the same rule functions.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from infusions.dosing import dose_assess, planned_cells
from infusions.models import Infusion
from infusions.services import infusion_record
from itp_trial import protocol
from reporting.figures import figures_sync
from safety.checks import checks_run
from safety.models import AdverseEvent, ConcomitantMedication
from safety.services import adverse_event_record, conmed_record
from subjects.models import Participant
from visits import schedule
from visits.models import PlateletCount, Visit
from visits.services import platelet_record, responses_sync, visit_mark_missed, visit_record

TODAY = date(2026, 6, 1)
WEIGHT = Decimal("60.0")


def at(day: date, hour: int = 9) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour)))


def infusions_give(
    participant: Participant,
    user: Any,
    dates: Iterable[date],
    *,
    actual_cells: dict[int, int] | None = None,
    reactions: Iterable[int] = (),
) -> list[Infusion]:
    """Infusions 1..n on the given dates, at the planned dose unless `actual_cells` says."""
    actual_cells = actual_cells or {}
    reactions = set(reactions)
    return [
        infusion_record(
            participant=participant,
            user=user,
            number=number,
            data={
                "infusion_date": day,
                "dosing_weight_kg": WEIGHT,
                "actual_cells": actual_cells.get(number, planned_cells(weight_kg=WEIGHT)),
                "lot_number": f"LOT-{participant.pk}-{number}",
                "reaction": number in reactions,
            },
            today=TODAY,
        )
        for number, day in enumerate(dates, start=1)
    ]


def visit_enter(
    participant: Participant,
    user: Any,
    code: str,
    day: date,
    *,
    platelets: int | None = None,
    grade: int | None = None,
) -> None:
    """Enter a visit on `day`, with its platelet count and bleeding grade when given."""
    data: dict[str, Any] = {"actual_date": day}
    if platelets is not None:
        data.update(platelets=platelets, who_bleeding_grade=grade)
    visit_record(visit=participant.visits.get(code=code), user=user, data=data, today=TODAY)


def visit_missed(participant: Participant, user: Any, code: str) -> None:
    visit_mark_missed(
        visit=participant.visits.get(code=code),
        user=user,
        missed_reason="Unreachable",
        today=TODAY,
    )


def count_add(
    participant: Participant, user: Any, day: date, platelets: int, grade: int | None = None
) -> None:
    """An unscheduled platelet count (a lab result)."""
    platelet_record(
        participant=participant,
        user=user,
        sample_date=day,
        platelets=platelets,
        who_bleeding_grade=grade,
        today=TODAY,
    )


def ae_add(participant: Participant, user: Any, *, now: datetime | None = None, **fields: Any):
    values: dict[str, Any] = {
        "term": "Headache",
        "ctcae_grade": 1,
        "relationship": "possible",
        "action_taken": "none",
        "outcome": "recovered",
        "serious": False,
        "ongoing": False,
    }
    values.update(fields)
    onset = values.setdefault("onset_date", TODAY - timedelta(days=30))
    if not values["ongoing"]:
        values.setdefault("end_date", onset)
    values.setdefault("awareness_at", at(onset))
    return adverse_event_record(
        participant=participant, user=user, data=values, now=now or at(TODAY, 10)
    )


def rescue_add(participant: Participant, user: Any, start: date, drug: str = "IVIg") -> None:
    conmed_record(
        participant=participant,
        user=user,
        data={"drug": drug, "indication": "Bleeding", "start_date": start, "rescue": True},
        today=TODAY,
    )


def checks(*participants: Participant, now: datetime | None = None) -> None:
    """The background checks, run now (in a test's transaction on_commit never fires)."""
    checks_run(participant_ids=[p.pk for p in participants], now=now or at(TODAY, 10))
    for p in participants:
        p.refresh_from_db()


def infusion_dates(first: date) -> list[date]:
    """Five infusion dates on their targets: +7, then +14 three times."""
    dates = [first]
    for number in range(2, protocol.INFUSION_COUNT + 1):
        offset = protocol.VISITS_BY_CODE[protocol.INFUSION_VISIT_CODES[number]].offset
        dates.append(dates[-1] + timedelta(days=offset))
    return dates


def treated(
    user: Any,
    *,
    first: date,
    consent: date,
    infusions: int = 5,
    actual_cells: dict[int, int] | None = None,
    reactions: Iterable[int] = (),
    **overrides: Any,
) -> Participant:
    """An enrolled participant given `infusions` infusions on their targets from `first`."""
    from tests.factories import enrolled

    participant = enrolled(user, planned=first, today=consent, consent_date=consent, **overrides)
    infusions_give(
        participant,
        user,
        infusion_dates(first)[:infusions],
        actual_cells=actual_cells,
        reactions=reactions,
    )
    participant.refresh_from_db()
    return participant


def dashboard_participant(user: Any) -> Participant:
    """A participant in follow-up with something in every section of the dashboard."""
    first = date(2026, 1, 5)
    p = treated(user, first=first, consent=date(2025, 12, 20), reactions=[3])
    inf = infusion_dates(first)
    count_add(p, user, first - timedelta(days=10), 12, 2)
    visit_enter(p, user, "V2", first - timedelta(days=1), platelets=18, grade=1)
    count_add(p, user, first + timedelta(days=14), 25, 1)
    count_add(p, user, first + timedelta(days=35), 60, 0)
    count_add(p, user, first + timedelta(days=45), 75, 0)
    visit_enter(p, user, "V4", inf[4] + timedelta(days=6), platelets=110, grade=0)  # late
    visit_missed(p, user, "V5-D14")
    visit_enter(p, user, "V5-M1", inf[4] + timedelta(days=30), platelets=130, grade=0)
    rescue_add(p, user, first + timedelta(days=10))
    ae_add(p, user, term="Fever", ctcae_grade=2, onset_date=first + timedelta(days=1))
    ae_add(
        p,
        user,
        term="Epistaxis requiring admission",
        ctcae_grade=3,
        serious=True,
        serious_criteria="hospitalisation",
        onset_date=first + timedelta(days=20),
        awareness_at=at(first + timedelta(days=20), 8),
        reported_at=at(first + timedelta(days=21), 12),  # 28 h: late
    )
    checks(p)
    return p


def bulk_participants(count: int, *, platelets_each: int = 3, today: date = TODAY) -> list:
    """`count` participants in follow-up, inserted in bulk (no services: for query counts).

    They all share one history, so the schedule engine runs once and its stored columns
    (windows, statuses, participant status) are written with the rows.
    """
    first = today - timedelta(days=200)
    consent = first - timedelta(days=20)
    dates = infusion_dates(first)
    data = schedule.ScheduleInput(
        planned_first_infusion=first,
        infusion_dates=dict(enumerate(dates, start=1)),
        visits={"V1": schedule.VisitRecord(actual_date=consent)},
    )
    computed = schedule.schedule_compute(data, today=today)
    status = schedule.participant_status(
        withdrawn=False,
        eligible=True,
        enrolled=True,
        final_visit_done_or_missed=False,
        treatment_complete=schedule.treatment_complete(data),
        infusions_given=len(dates),
    )
    start = Participant.objects.count()
    participants = Participant.objects.bulk_create(
        Participant(
            subject_id=f"BLK-{start + i:04d}",
            screening_number=f"SCB-{start + i:04d}",
            sex="F" if i % 2 else "M",
            birth_date=date(1980, 1, 1),
            consent_date=consent,
            consent_version="2.1",
            eligible=True,
            enrolled_on=first - timedelta(days=10),
            planned_first_infusion_date=first,
            status=status,
        )
        for i in range(count)
    )
    Visit.objects.bulk_create(
        Visit(
            participant=p,
            code=s.code,
            actual_date=consent if s.code == "V1" else None,
            target_date=s.target,
            window_start=s.window_start,
            window_end=s.window_end,
            provisional=s.provisional,
            window_status=s.status,
        )
        for p in participants
        for s in computed
    )
    dose = dose_assess(weight_kg=WEIGHT, actual_cells=6_500_000_000)
    Infusion.objects.bulk_create(
        Infusion(
            participant=p,
            number=n,
            infusion_date=d,
            dosing_weight_kg=WEIGHT,
            dose_per_kg=dose.dose_per_kg,
            dose_tolerance_pct=dose.tolerance_pct,
            planned_cells=dose.planned_cells,
            dose_deviation=dose.deviation,
            actual_cells=6_500_000_000,
            lot_number="LOT-B",
        )
        for p in participants
        for n, d in enumerate(dates, start=1)
    )
    PlateletCount.objects.bulk_create(
        PlateletCount(
            participant=p,
            sample_date=first - timedelta(days=2) + timedelta(days=k),
            platelets=10 + k % 200,
            who_bleeding_grade=k % 2,
        )
        for p in participants
        for k in range(platelets_each)
    )
    AdverseEvent.objects.bulk_create(
        AdverseEvent(
            participant=p,
            ae_number=1,
            term="Fever",
            onset_date=first + timedelta(days=1),
            end_date=first + timedelta(days=2),
            ctcae_grade=1 + i % 3,
            serious=False,
            relationship="possible",
            outcome="recovered",
            awareness_at=at(first + timedelta(days=1)),
        )
        for i, p in enumerate(participants)
    )
    ConcomitantMedication.objects.bulk_create(
        ConcomitantMedication(
            participant=p, drug="IVIg", indication="Bleeding", start_date=first, rescue=True
        )
        for p in participants
    )
    responses_sync([p.pk for p in participants])
    figures_sync(participant_ids=[p.pk for p in participants])
    return participants
