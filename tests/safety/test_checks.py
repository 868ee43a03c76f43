"""The flag lifecycle of protocol section 6, run by safety.checks.checks_run."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from infusions.dosing import dose_assess
from infusions.models import Infusion
from safety.checks import checks_run, sae_report_overdue_cutoff
from safety.models import AdverseEvent, Flag, FlagKind
from safety.rules import sae_clock
from subjects.models import Participant
from subjects.services import participant_withdraw
from tests.factories import enrolled, schedules_bulk, signed
from visits.models import Visit, WindowStatus
from visits.services import schedule_sync

pytestmark = pytest.mark.django_db

T0 = date(2025, 3, 3)  # enrolment; infusion 1 planned for T0 + 7, so V2's window is T0..T0+7


def noon(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(12)))


@pytest.fixture
def participant(coordinator):
    return enrolled(coordinator, today=T0, planned=T0 + timedelta(days=7))


def visit(participant, code: str) -> Visit:
    return Visit.objects.get(participant=participant, code=code)


def enter(participant, code: str, *, today: date, **fields) -> None:
    """What the visit services do: write the visit, then resync the stored schedule."""
    Visit.objects.filter(participant=participant, code=code).update(**fields)
    schedule_sync(participant_ids=[participant.pk], today=today)


def infusion_given(participant, *, number: int, weight: str, actual_cells: int) -> Infusion:
    """A stored infusion with its derived dose columns, as the infusion service stores them."""
    dose = dose_assess(weight_kg=Decimal(weight), actual_cells=actual_cells)
    return Infusion.objects.create(
        participant=participant,
        number=number,
        infusion_date=T0 + timedelta(days=7),
        dosing_weight_kg=Decimal(weight),
        dose_per_kg=dose.dose_per_kg,
        dose_tolerance_pct=dose.tolerance_pct,
        planned_cells=dose.planned_cells,
        dose_deviation=dose.deviation,
        actual_cells=actual_cells,
        lot_number="LOT-1",
    )


def adverse_event(participant, *, awareness_at: datetime, number: int = 1, **fields):
    data = {
        "participant": participant,
        "ae_number": number,
        "term": "Pneumonia",
        "onset_date": awareness_at.date(),
        "ongoing": True,
        "ctcae_grade": 3,
        "serious": True,
        "serious_criteria": "hospitalisation",
        "relationship": "possible",
        "outcome": "recovering",
        "awareness_at": awareness_at,
    }
    data.update(fields)
    return AdverseEvent.objects.create(**data)


def test_it_turns_a_pending_visit_overdue_and_flags_it_once_its_window_has_ended(participant):
    assert visit(participant, "V2").window_status == WindowStatus.PENDING

    counts = checks_run(now=noon(T0 + timedelta(days=8)))

    v2 = visit(participant, "V2")
    assert v2.window_status == WindowStatus.OVERDUE
    flag = Flag.objects.get(kind=FlagKind.OVERDUE)
    assert (flag.participant_id, flag.visit_id) == (participant.pk, v2.pk)
    assert flag.raised_at == noon(T0 + timedelta(days=8))
    assert flag.resolved_at is None
    assert "V2" in flag.detail and str(v2.window_end) in flag.detail
    assert counts[FlagKind.OVERDUE]["raised"] == 1
    assert Flag.objects.count() == 1


def test_it_does_not_flag_a_visit_on_the_last_day_of_its_window(participant):
    checks_run(now=noon(T0 + timedelta(days=7)))

    assert visit(participant, "V2").window_status == WindowStatus.PENDING
    assert not Flag.objects.exists()


def test_it_raises_nothing_new_when_run_twice(participant, investigator):
    signed(investigator, participant, now=noon(T0))
    infusion_given(participant, number=1, weight="60.0", actual_cells=7_000_000_000)
    adverse_event(participant, awareness_at=noon(T0))
    enter(participant, "V1", today=T0, missed=True, missed_reason="Lost")
    now = noon(T0 + timedelta(days=10))
    first = checks_run(now=now)
    flags = list(Flag.objects.order_by("pk").values())
    assert {f["kind"] for f in flags} == set(FlagKind.values) - {FlagKind.OUT_OF_WINDOW}

    second = checks_run(now=now)
    third = checks_run(now=now + timedelta(hours=1))

    assert list(Flag.objects.order_by("pk").values()) == flags
    assert all(c["raised"] for k, c in first.items() if k != FlagKind.OUT_OF_WINDOW)
    for counts in (second, third):
        assert all(c == {"raised": 0, "resolved": 0, "reopened": 0} for c in counts.values())
    assert len(mail.outbox) == 1  # the SAE alert went out once


def test_it_resolves_the_overdue_flag_and_flags_the_late_visit_when_it_is_entered(participant):
    checks_run(now=noon(T0 + timedelta(days=8)))
    enter(participant, "V2", today=T0 + timedelta(days=9), actual_date=T0 + timedelta(days=9))

    counts = checks_run(now=noon(T0 + timedelta(days=9)))

    overdue = Flag.objects.get(kind=FlagKind.OVERDUE)
    assert overdue.resolved_at == noon(T0 + timedelta(days=9))
    late = Flag.objects.get(kind=FlagKind.OUT_OF_WINDOW)
    assert late.visit.code == "V2" and late.resolved_at is None
    assert str(T0 + timedelta(days=9)) in late.detail
    assert counts[FlagKind.OVERDUE] == {"raised": 0, "resolved": 1, "reopened": 0}
    assert counts[FlagKind.OUT_OF_WINDOW]["raised"] == 1


def test_it_dates_a_late_infusion_visit_by_its_infusion(participant):
    # Infusion 1 on T0+7, so infusion 2's window is T0+13 to T0+15.
    infusion_given(participant, number=1, weight="60.0", actual_cells=6_000_000_000)
    infusion_given(participant, number=2, weight="60.0", actual_cells=6_000_000_000)
    late = T0 + timedelta(days=20)
    Infusion.objects.filter(participant=participant, number=2).update(infusion_date=late)
    schedule_sync(participant_ids=[participant.pk], today=late)

    checks_run(now=noon(late))

    (flag,) = [
        f for f in Flag.objects.filter(kind=FlagKind.OUT_OF_WINDOW) if f.visit.code == "V3-INF2"
    ]
    assert flag.visit.actual_date is None  # infusion visits never fill it
    assert f"V3-INF2 done on {late}, outside its window" in flag.detail


def test_it_never_resolves_an_out_of_window_flag_by_itself(participant):
    enter(participant, "V2", today=T0 + timedelta(days=9), actual_date=T0 + timedelta(days=9))
    checks_run(now=noon(T0 + timedelta(days=9)))
    # A correction brings the date back into the window: the deviation stays for review.
    enter(participant, "V2", today=T0 + timedelta(days=9), actual_date=T0 + timedelta(days=6))

    checks_run(now=noon(T0 + timedelta(days=10)))

    flag = Flag.objects.get(kind=FlagKind.OUT_OF_WINDOW)
    assert flag.resolved_at is None and flag.acknowledged_at is None


def test_it_reopens_the_overdue_flag_when_the_visit_becomes_overdue_again(participant):
    checks_run(now=noon(T0 + timedelta(days=8)))
    enter(participant, "V2", today=T0 + timedelta(days=9), actual_date=T0 + timedelta(days=7))
    checks_run(now=noon(T0 + timedelta(days=9)))
    assert Flag.objects.get(kind=FlagKind.OVERDUE).resolved_at is not None
    # The date was entered on the wrong participant: cleared, the visit is overdue again.
    enter(participant, "V2", today=T0 + timedelta(days=10), actual_date=None)

    counts = checks_run(now=noon(T0 + timedelta(days=10)))

    flag = Flag.objects.get(kind=FlagKind.OVERDUE)
    assert flag.resolved_at is None
    assert flag.raised_at == noon(T0 + timedelta(days=8))
    assert "reopened" in flag.detail
    assert counts[FlagKind.OVERDUE] == {"raised": 0, "resolved": 0, "reopened": 1}


def test_it_resolves_the_overdue_flag_when_the_visit_is_marked_missed(participant):
    checks_run(now=noon(T0 + timedelta(days=8)))
    enter(participant, "V2", today=T0 + timedelta(days=9), missed=True, missed_reason="Flu")

    checks_run(now=noon(T0 + timedelta(days=9)))

    assert Flag.objects.get(kind=FlagKind.OVERDUE).resolved_at is not None
    missed = Flag.objects.get(kind=FlagKind.MISSED_VISIT)
    assert missed.visit.code == "V2" and "Flu" in missed.detail and missed.resolved_at is None


def test_it_resolves_the_overdue_flag_when_a_withdrawal_makes_the_visit_not_expected(
    participant, coordinator
):
    checks_run(now=noon(T0 + timedelta(days=8)))

    participant_withdraw(
        participant=participant,
        user=coordinator,
        on=T0 + timedelta(days=2),
        withdrawal_reason="withdrew_consent",
        today=T0 + timedelta(days=9),
    )
    checks_run(now=noon(T0 + timedelta(days=9)))

    assert visit(participant, "V2").window_status == WindowStatus.NOT_EXPECTED
    assert Flag.objects.get(kind=FlagKind.OVERDUE).resolved_at == noon(T0 + timedelta(days=9))


def test_it_flags_a_dose_deviation_with_planned_actual_and_percent(participant):
    within = infusion_given(participant, number=1, weight="60.0", actual_cells=6_600_000_000)
    beyond = infusion_given(participant, number=2, weight="60.0", actual_cells=6_600_000_001)

    checks_run(now=noon(T0 + timedelta(days=7)))

    flag = Flag.objects.get(kind=FlagKind.DOSE_DEVIATION)
    assert flag.infusion_id == beyond.pk != within.pk
    assert "6,000,000,000" in flag.detail and "6,600,000,001" in flag.detail
    assert "+10.00 %" in flag.detail
    assert flag.resolved_at is None


def test_it_flags_an_unreported_sae_only_after_24_hours_and_emails_the_investigators_once(
    participant, investigator, coordinator
):
    aware = noon(T0)
    event = adverse_event(participant, awareness_at=aware)
    due = aware + timedelta(hours=24)

    checks_run(now=due)  # exactly at the due time: not yet overdue
    assert not Flag.objects.exists()
    assert not sae_clock(serious=True, awareness_at=aware, reported_at=None, now=due).overdue

    checks_run(now=due + timedelta(seconds=1))
    checks_run(now=due + timedelta(hours=2))

    flag = Flag.objects.get(kind=FlagKind.SAE_REPORT_OVERDUE)
    assert flag.adverse_event_id == event.pk and flag.raised_at == due + timedelta(seconds=1)
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [investigator.email]
    assert participant.subject_id in mail.outbox[0].subject
    assert "Pneumonia" in mail.outbox[0].body


def test_it_resolves_the_sae_flag_when_the_report_time_is_entered(participant, investigator):
    event = adverse_event(participant, awareness_at=noon(T0))
    checks_run(now=noon(T0 + timedelta(days=2)))
    AdverseEvent.objects.filter(pk=event.pk).update(reported_at=noon(T0 + timedelta(days=2)))

    counts = checks_run(now=noon(T0 + timedelta(days=3)))

    flag = Flag.objects.get(kind=FlagKind.SAE_REPORT_OVERDUE)
    assert flag.resolved_at == noon(T0 + timedelta(days=3))
    assert counts[FlagKind.SAE_REPORT_OVERDUE] == {"raised": 0, "resolved": 1, "reopened": 0}
    assert len(mail.outbox) == 1


def test_it_ignores_non_serious_and_reported_events(participant, investigator):
    adverse_event(participant, awareness_at=noon(T0), serious=False, serious_criteria="")
    adverse_event(
        participant, awareness_at=noon(T0), number=2, reported_at=noon(T0) + timedelta(hours=30)
    )

    checks_run(now=noon(T0 + timedelta(days=3)))

    assert not Flag.objects.exists()
    assert not mail.outbox


@pytest.mark.parametrize("offset", [timedelta(0), timedelta(microseconds=1)])
def test_it_finds_overdue_reports_with_the_same_cutoff_as_the_sae_clock(offset):
    now = noon(T0)
    awareness = sae_report_overdue_cutoff(now) - offset
    clock = sae_clock(serious=True, awareness_at=awareness, reported_at=None, now=now)
    assert clock.overdue == (awareness < sae_report_overdue_cutoff(now))


def test_it_restricts_a_run_to_the_participants_given(coordinator):
    first = enrolled(coordinator, today=T0, planned=T0 + timedelta(days=7))
    second = enrolled(coordinator, today=T0, planned=T0 + timedelta(days=7))

    checks_run(participant_ids=[second.pk], now=noon(T0 + timedelta(days=8)))

    assert visit(first, "V2").window_status == WindowStatus.PENDING
    assert list(Flag.objects.values_list("participant_id", flat=True)) == [second.pk]


def test_it_recomputes_the_schedule_only_on_the_full_pass(participant):
    # A write that bypassed the services: only the nightly full pass notices it.
    Visit.objects.filter(participant=participant, code="V2").update(actual_date=T0 + timedelta(9))

    checks_run(now=noon(T0 + timedelta(days=9)))
    assert visit(participant, "V2").window_status == WindowStatus.OVERDUE

    checks_run(now=noon(T0 + timedelta(days=9)), full=True)
    assert visit(participant, "V2").window_status == WindowStatus.LATE
    assert Flag.objects.get(kind=FlagKind.OVERDUE).resolved_at is not None
    assert Flag.objects.filter(kind=FlagKind.OUT_OF_WINDOW).exists()


# Each participant: one visit of every flag-raising kind and some that raise nothing.
MIX = {
    "V1": (WindowStatus.IN_WINDOW, -40),
    "V2": (WindowStatus.LATE, -30),
    "V3-INF1": (WindowStatus.EARLY, -20),
    "V3-INF2": (WindowStatus.PENDING, -1),  # turns overdue at this run
    "V3-INF3": (WindowStatus.OVERDUE, -5),
    "V3-INF4": (WindowStatus.PENDING, 0),  # last day of its window: stays pending
    "V3-INF5": (WindowStatus.PENDING, 10),
    "V4": (WindowStatus.MISSED, -3),
    "V5-D14": (WindowStatus.NOT_EXPECTED, -2),
    "V5-M1": (WindowStatus.PENDING, 30),
}


def _run_counting_queries(now: datetime) -> tuple[int, dict]:
    with CaptureQueriesContext(connection) as ctx:
        counts = checks_run(now=now)
    return len(ctx.captured_queries), counts


def test_it_takes_the_same_number_of_queries_for_100_and_10000_visits(coordinator, investigator):
    today = date(2025, 6, 2)
    now = noon(today)

    def batch(participants: int, prefix: str) -> None:
        ids = schedules_bulk(participants=participants, visits=MIX, today=today, prefix=prefix)
        first = Participant.objects.get(pk=ids[0])
        assert infusion_given(first, number=1, weight="60.0", actual_cells=1).dose_deviation
        adverse_event(first, awareness_at=now - timedelta(days=2))

    batch(10, "A")  # 100 visits
    small, small_counts = _run_counting_queries(now)
    batch(1000, "B")  # 10,000 more
    assert Visit.objects.count() == 10_100
    large, large_counts = _run_counting_queries(now)

    assert large == small
    for kind, per_participant in {
        FlagKind.OVERDUE: 2,
        FlagKind.OUT_OF_WINDOW: 2,
        FlagKind.MISSED_VISIT: 1,
    }.items():
        assert small_counts[kind]["raised"] == 10 * per_participant
        assert large_counts[kind]["raised"] == 1000 * per_participant
    assert large_counts[FlagKind.DOSE_DEVIATION]["raised"] == 1
    assert large_counts[FlagKind.SAE_REPORT_OVERDUE]["raised"] == 1
    assert Flag.objects.count() == 1010 * 5 + 4
    assert Visit.objects.filter(window_status=WindowStatus.OVERDUE).count() == 1010 * 2
