"""The visit schedule (protocol section 1) and the participant status (section 3)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from itp_trial import protocol
from subjects.models import ParticipantStatus
from visits.models import WindowStatus
from visits.schedule import (
    ScheduledVisit,
    ScheduleInput,
    VisitRecord,
    awaits_treatment_end,
    last_infusion_given,
    participant_status,
    schedule_compute,
    study_day,
    treatment_complete,
)

PLANNED = date(2026, 3, 2)
FAR_FUTURE = date(2030, 1, 1)
INF1_CODE = protocol.INFUSION_VISIT_CODES[1]
LAST_INFUSION = protocol.INFUSION_COUNT
FOLLOW_UP_CODES = [v.code for v in protocol.VISITS if v.anchor == protocol.ANCHOR_LAST_INFUSION]


def days(n: int) -> timedelta:
    return timedelta(days=n)


def offset(code: str) -> timedelta:
    return days(protocol.VISITS_BY_CODE[code].offset)


def on_time_infusions(count: int, first: date = PLANNED) -> dict[int, date]:
    """Infusions 1..count, each given on its target."""
    given = {1: first}
    for number in range(2, count + 1):
        given[number] = given[number - 1] + offset(protocol.INFUSION_VISIT_CODES[number])
    return given


def by_code(visits: list[ScheduledVisit]) -> dict[str, ScheduledVisit]:
    return {v.code: v for v in visits}


def compute(data: ScheduleInput, today: date = FAR_FUTURE) -> dict[str, ScheduledVisit]:
    return by_code(schedule_compute(data, today=today))


def anchored_input(
    definition: protocol.VisitDefinition, actual: date | None = None
) -> tuple[ScheduleInput, date]:
    """Input where the visit's anchor has happened; returns it with the anchor date.

    With `actual`, the visit itself is done on that date.
    """
    number = definition.infusion_number
    if definition.anchor == protocol.ANCHOR_INF1:
        given, anchor = {1: PLANNED}, PLANNED
    elif definition.anchor == protocol.ANCHOR_PLANNED_INF1:
        given, anchor = {}, PLANNED
    elif definition.anchor == protocol.ANCHOR_PREVIOUS_INFUSION:
        given = on_time_infusions(number - 1)
        anchor = given[number - 1]
    else:
        given = on_time_infusions(LAST_INFUSION)
        anchor = given[LAST_INFUSION]
    visits = {}
    if actual is not None and number is not None:
        given[number] = actual
    elif actual is not None:
        visits[definition.code] = VisitRecord(actual_date=actual)
    return ScheduleInput(PLANNED, given, visits), anchor


EDGES = [
    ("one day before", lambda start, end: start - days(1), WindowStatus.EARLY),
    ("first day in", lambda start, end: start, WindowStatus.IN_WINDOW),
    ("last day in", lambda start, end: end, WindowStatus.IN_WINDOW),
    ("one day after", lambda start, end: end + days(1), WindowStatus.LATE),
]


@pytest.mark.parametrize("definition", protocol.VISITS, ids=lambda d: d.code)
@pytest.mark.parametrize("edge, pick, expected", EDGES, ids=[e[0] for e in EDGES])
def test_it_grades_a_done_visit_at_each_window_edge(definition, edge, pick, expected):
    _, anchor = anchored_input(definition)
    target = anchor + days(definition.offset)
    start, end = target - days(definition.minus), target + days(definition.plus)
    data, _ = anchored_input(definition, actual=pick(start, end))

    visit = compute(data)[definition.code]

    assert (visit.target, visit.window_start, visit.window_end) == (target, start, end)
    assert visit.provisional is False
    if definition.code == INF1_CODE:
        # Infusion 1 defines study day 1: once given it is always in window.
        expected = WindowStatus.IN_WINDOW
    assert visit.status == expected


@pytest.mark.parametrize("definition", protocol.VISITS, ids=lambda d: d.code)
@pytest.mark.parametrize(
    "today_from_end, expected",
    [(-1, WindowStatus.PENDING), (0, WindowStatus.PENDING), (1, WindowStatus.OVERDUE)],
    ids=["day before window end", "last day in", "day after window end"],
)
def test_it_turns_a_visit_not_done_overdue_the_day_after_its_window(
    definition, today_from_end, expected
):
    data, anchor = anchored_input(definition)
    window_end = anchor + days(definition.offset + definition.plus)

    visit = compute(data, today=window_end + days(today_from_end))[definition.code]

    assert visit.actual_date is None
    assert visit.status == expected


def test_it_returns_one_visit_per_protocol_row_in_order():
    visits = schedule_compute(ScheduleInput(PLANNED, {}, {}), today=PLANNED)

    assert [v.code for v in visits] == list(protocol.VISIT_CODES)


def test_it_shows_provisional_targets_before_infusion_1():
    visits = compute(ScheduleInput(PLANNED, {}, {}), today=PLANNED - days(30))

    expected_target = {1: PLANNED}
    for number in range(2, LAST_INFUSION + 1):
        code = protocol.INFUSION_VISIT_CODES[number]
        expected_target[number] = expected_target[number - 1] + offset(code)
    for number, target in expected_target.items():
        visit = visits[protocol.INFUSION_VISIT_CODES[number]]
        assert visit.target == target
        # Infusion 1's target is the plan itself; the others hang on targets.
        assert visit.provisional is (number != 1)
    for code in ("V1", "V2"):
        assert visits[code].target == PLANNED + offset(code)
        assert visits[code].provisional is True
    for code in FOLLOW_UP_CODES:
        assert visits[code].target == expected_target[LAST_INFUSION] + offset(code)
        assert visits[code].provisional is True
    assert {v.status for v in visits.values()} == {WindowStatus.PENDING}


def test_it_firms_up_targets_as_infusions_are_given():
    given = on_time_infusions(2)
    visits = compute(ScheduleInput(PLANNED, given, {}), today=given[2])

    assert visits["V1"].provisional is False
    assert visits["V2"].provisional is False
    assert visits["V3-INF2"].provisional is False
    assert visits["V3-INF3"].provisional is False
    assert visits["V3-INF4"].provisional is True
    assert visits["V3-INF5"].provisional is True
    for code in FOLLOW_UP_CODES:
        # Follow-up hangs on infusion 5's provisional target while treatment is under way.
        assert visits[code].target == visits["V3-INF5"].target + offset(code)
        assert visits[code].provisional is True


def test_it_anchors_visits_1_and_2_on_infusion_1_given_off_its_planned_date():
    given_on = PLANNED + days(3)
    visits = compute(ScheduleInput(PLANNED, {1: given_on}, {}))

    assert visits["V1"].target == given_on + offset("V1")
    assert visits["V2"].target == given_on + offset("V2")
    assert visits[INF1_CODE].target == PLANNED


def test_it_has_no_target_without_a_planned_or_given_infusion_1():
    screened = PLANNED - days(20)
    visits = compute(ScheduleInput(None, {}, {"V1": VisitRecord(actual_date=screened)}))

    for visit in visits.values():
        assert (visit.target, visit.window_start, visit.window_end) == (None, None, None)
        assert visit.provisional is False
    assert visits["V1"].status == WindowStatus.IN_WINDOW
    assert {visits[c].status for c in protocol.VISIT_CODES if c != "V1"} == {WindowStatus.PENDING}


def assert_end_of_treatment_on(visits: dict, stopped: date):
    """V4 hangs on the discontinuation date, with the window of the configuration."""
    offset_, minus, plus = protocol.DISCONTINUATION_WINDOWS["V4"]
    v4 = visits["V4"]
    assert (v4.target, v4.window_start, v4.window_end) == (
        stopped + days(offset_),
        stopped + days(offset_ - minus),
        stopped + days(offset_ + plus),
    )
    return v4


def test_it_chains_windows_on_actual_dates_after_a_late_and_an_early_infusion():
    inf1 = PLANNED
    inf2 = inf1 + offset("V3-INF2") + days(1)  # one day late
    inf3 = inf2 + offset("V3-INF3") - days(2)  # two days early
    inf4 = inf3 + offset("V3-INF4")
    inf5 = inf4 + offset("V3-INF5") + days(3)  # three days late
    visits = compute(ScheduleInput(PLANNED, {1: inf1, 2: inf2, 3: inf3, 4: inf4, 5: inf5}, {}))

    assert visits["V3-INF2"].status == WindowStatus.IN_WINDOW
    assert visits["V3-INF3"].target == inf2 + offset("V3-INF3")
    assert visits["V3-INF3"].status == WindowStatus.IN_WINDOW
    assert visits["V3-INF4"].target == inf3 + offset("V3-INF4")
    assert visits["V3-INF5"].target == inf4 + offset("V3-INF5")
    for code in FOLLOW_UP_CODES:
        assert visits[code].target == inf5 + offset(code)
        assert visits[code].provisional is False


def test_it_follows_up_from_the_last_infusion_given_after_discontinuation():
    given = on_time_infusions(3)
    stopped = given[3] + days(5)
    data = ScheduleInput(PLANNED, given, {}, treatment_discontinued=stopped)

    visits = compute(data, today=given[3] + days(1))

    assert treatment_complete(data) is True
    assert last_infusion_given(data) == given[3]
    assert visits["V3-INF4"].status == WindowStatus.NOT_EXPECTED
    assert visits["V3-INF5"].status == WindowStatus.NOT_EXPECTED
    assert visits["V3-INF3"].status == WindowStatus.IN_WINDOW
    # V4 hangs on the discontinuation date, the follow-up visits on the last infusion given.
    assert_end_of_treatment_on(visits, stopped)
    assert visits["V5-M1"].target == given[3] + offset("V5-M1")
    for code in FOLLOW_UP_CODES:
        assert visits[code].provisional is False
        assert visits[code].status == WindowStatus.PENDING


D14 = protocol.VISITS_BY_CODE["V5-D14"]
D14_WINDOW_END_AFTER_LAST = D14.offset + D14.plus  # days from the last infusion


@pytest.mark.parametrize(
    "days_after_last, d14_expected",
    [
        (0, WindowStatus.PENDING),
        (1, WindowStatus.PENDING),
        (D14_WINDOW_END_AFTER_LAST, WindowStatus.PENDING),  # D14's window ends that day
        (D14_WINDOW_END_AFTER_LAST + 1, WindowStatus.NOT_EXPECTED),  # it ended the day before
        (25, WindowStatus.NOT_EXPECTED),
    ],
    ids=["same day", "1 day after", "D14 window ends that day", "D14 ended the day before", "25"],
)
def test_it_anchors_end_of_treatment_on_an_early_discontinuation(days_after_last, d14_expected):
    given = on_time_infusions(3)
    stopped = given[3] + days(days_after_last)
    data = ScheduleInput(PLANNED, given, {}, treatment_discontinued=stopped)

    # Seen on the day treatment stops: nothing it creates is overdue at once.
    visits = compute(data, today=stopped)

    v4 = assert_end_of_treatment_on(visits, stopped)
    assert v4.status == WindowStatus.PENDING
    assert visits["V5-D14"].target == given[3] + offset("V5-D14")
    assert visits["V5-D14"].status == d14_expected
    assert visits["V5-M1"].target == given[3] + offset("V5-M1")
    assert visits["V5-M1"].status == WindowStatus.PENDING
    assert WindowStatus.OVERDUE not in {visits[c].status for c in FOLLOW_UP_CODES}


def test_it_keeps_a_follow_up_visit_done_before_a_late_discontinuation():
    given = on_time_infusions(2)
    d14_done = given[2] + offset("V5-D14")
    data = ScheduleInput(
        PLANNED,
        given,
        {"V5-D14": VisitRecord(actual_date=d14_done)},
        treatment_discontinued=given[2] + days(40),
    )

    assert compute(data)["V5-D14"].status == WindowStatus.IN_WINDOW


def test_it_expects_nothing_when_discontinued_before_any_infusion():
    screened = PLANNED - days(10)
    data = ScheduleInput(
        PLANNED,
        {},
        {"V1": VisitRecord(actual_date=screened)},
        treatment_discontinued=PLANNED - days(2),
    )

    visits = compute(data)

    assert last_infusion_given(data) is None
    assert visits["V1"].status == WindowStatus.IN_WINDOW
    # Nothing is expected: not the baseline, not an infusion, not V4 or follow-up.
    assert {visits[c].status for c in protocol.VISIT_CODES if c != "V1"} == {
        WindowStatus.NOT_EXPECTED
    }
    for code in FOLLOW_UP_CODES:
        assert visits[code].target is None
    status = participant_status(
        **{
            **BASE_STATUS_FACTS,
            "eligible": True,
            "enrolled": True,
            "treatment_complete": treatment_complete(data),
        }
    )
    assert status == ParticipantStatus.FOLLOW_UP


@pytest.mark.parametrize(
    "given, discontinued, awaits",
    [
        (4, None, True),  # one infusion early
        (5, None, False),
        (2, PLANNED + days(40), False),
        (0, PLANNED, False),
        (0, None, True),
    ],
    ids=["four given", "five given", "discontinued after 2", "discontinued at 0", "none given"],
)
@pytest.mark.parametrize("code", FOLLOW_UP_CODES)
def test_it_holds_end_of_treatment_and_follow_up_until_treatment_is_complete(
    code, given, discontinued, awaits
):
    data = ScheduleInput(
        PLANNED, on_time_infusions(given) if given else {}, {}, treatment_discontinued=discontinued
    )

    assert awaits_treatment_end(code, data) is awaits


@pytest.mark.parametrize("code", ["V1", "V2", *protocol.INFUSION_VISIT_CODES.values()])
def test_it_never_holds_a_visit_before_the_end_of_treatment(code):
    assert awaits_treatment_end(code, ScheduleInput(PLANNED, {}, {})) is False


WITHDRAWAL_GIVEN = on_time_infusions(LAST_INFUSION)
LAST = WITHDRAWAL_GIVEN[LAST_INFUSION]
WITHDRAWN_ON = LAST + offset("V5-M1")  # exactly on month 1's target


@pytest.mark.parametrize(
    "code, expected",
    [
        ("V4", WindowStatus.OVERDUE),  # not done, target before withdrawal: stays overdue
        ("V5-D14", WindowStatus.IN_WINDOW),  # done: kept
        ("V5-M1", WindowStatus.OVERDUE),  # target on the withdrawal date: kept
        ("V5-M2", WindowStatus.MISSED),  # missed after withdrawal: kept
        ("V5-M3", WindowStatus.NOT_EXPECTED),  # target after withdrawal
        ("V5-M12", WindowStatus.NOT_EXPECTED),
    ],
)
def test_it_resolves_only_visits_due_after_withdrawal(code, expected):
    data = ScheduleInput(
        PLANNED,
        WITHDRAWAL_GIVEN,
        {
            "V5-D14": VisitRecord(actual_date=LAST + offset("V5-D14")),
            "V5-M2": VisitRecord(missed=True),
        },
        withdrawal=WITHDRAWN_ON,
    )

    visits = compute(data, today=LAST + offset("V5-M12"))

    assert visits[code].status == expected


def test_it_resolves_visits_without_a_target_on_withdrawal():
    data = ScheduleInput(None, {}, {}, withdrawal=PLANNED)

    visits = compute(data)

    assert {v.status for v in visits.values()} == {WindowStatus.NOT_EXPECTED}


@pytest.mark.parametrize(
    "today_after_inf3_target, inf3_before",
    [(-1, WindowStatus.PENDING), (20, WindowStatus.OVERDUE)],
    ids=["pending infusion", "overdue infusion"],
)
def test_it_ends_treatment_on_withdrawal_whatever_the_infusion_status(
    today_after_inf3_target, inf3_before
):
    given = on_time_infusions(2)
    inf3_target = given[2] + offset("V3-INF3")
    today = inf3_target + days(today_after_inf3_target)
    before = compute(ScheduleInput(PLANNED, given, {}), today=today)
    assert before["V3-INF3"].status == inf3_before

    data = ScheduleInput(PLANNED, given, {}, withdrawal=today)
    visits = compute(data, today=today)

    for number in range(3, LAST_INFUSION + 1):
        assert visits[protocol.INFUSION_VISIT_CODES[number]].status == WindowStatus.NOT_EXPECTED
    assert visits["V3-INF2"].status == WindowStatus.IN_WINDOW


def test_it_resolves_infusions_due_after_withdrawal_during_treatment():
    given = on_time_infusions(2)
    data = ScheduleInput(PLANNED, given, {}, withdrawal=given[2] + days(1))

    visits = compute(data)

    assert visits["V3-INF2"].status == WindowStatus.IN_WINDOW
    for code in ["V3-INF3", "V3-INF4", "V3-INF5", *FOLLOW_UP_CODES]:
        assert visits[code].status == WindowStatus.NOT_EXPECTED


def test_it_expects_nothing_after_screening_for_a_screen_failure():
    screened = PLANNED - days(20)
    data = ScheduleInput(
        PLANNED,
        {},
        {
            "V1": VisitRecord(actual_date=screened),
            "V2": VisitRecord(actual_date=PLANNED - days(1)),
        },
        screen_failed=True,
    )

    visits = compute(data)

    assert visits["V1"].status == WindowStatus.IN_WINDOW
    assert {v.status for c, v in visits.items() if c != "V1"} == {WindowStatus.NOT_EXPECTED}


def test_it_reports_a_visit_marked_missed_instead_of_overdue():
    data = ScheduleInput(
        PLANNED, on_time_infusions(LAST_INFUSION), {"V5-M1": VisitRecord(missed=True)}
    )

    visit = compute(data)["V5-M1"]

    assert visit.missed is True
    assert visit.status == WindowStatus.MISSED
    assert visit.actual_date is None


@pytest.mark.parametrize(
    "day, first_infusion, expected",
    [
        (PLANNED - days(1), PLANNED, -1),
        (PLANNED, PLANNED, 1),
        (PLANNED + days(1), PLANNED, 2),
        (PLANNED - days(14), PLANNED, -14),
        (PLANNED, None, None),
    ],
)
def test_it_counts_study_days_without_a_day_0(day, first_infusion, expected):
    assert study_day(day, first_infusion) == expected


def test_it_gives_each_done_visit_its_study_day():
    given = on_time_infusions(2)
    visits = compute(
        ScheduleInput(PLANNED, given, {"V2": VisitRecord(actual_date=PLANNED - days(1))})
    )

    assert visits["V2"].study_day == -1
    assert visits[INF1_CODE].study_day == 1
    assert visits["V3-INF2"].study_day == offset("V3-INF2").days + 1
    assert visits["V3-INF3"].study_day is None


def test_it_has_no_study_day_before_infusion_1_is_given():
    visits = compute(ScheduleInput(PLANNED, {}, {"V1": VisitRecord(actual_date=PLANNED)}))

    assert visits["V1"].study_day is None


@pytest.mark.parametrize(
    "given, discontinued, complete, last",
    [
        ({}, None, False, None),
        (on_time_infusions(4), None, False, None),
        (on_time_infusions(5), None, True, on_time_infusions(5)[5]),
        (on_time_infusions(2), PLANNED + days(10), True, on_time_infusions(2)[2]),
        ({}, PLANNED, True, None),
    ],
    ids=["none given", "four given", "five given", "discontinued after 2", "discontinued at 0"],
)
def test_it_knows_when_treatment_is_complete(given, discontinued, complete, last):
    data = ScheduleInput(PLANNED, given, {}, treatment_discontinued=discontinued)

    assert treatment_complete(data) is complete
    assert last_infusion_given(data) == last


BASE_STATUS_FACTS = dict(
    withdrawn=False,
    eligible=None,
    enrolled=False,
    final_visit_done_or_missed=False,
    treatment_complete=False,
    infusions_given=0,
)


@pytest.mark.parametrize(
    "facts, expected",
    [
        ({}, ParticipantStatus.SCREENING),
        ({"eligible": True}, ParticipantStatus.SCREENING),
        ({"eligible": True, "enrolled": True}, ParticipantStatus.ENROLLED),
        (
            {"eligible": True, "enrolled": True, "infusions_given": 1},
            ParticipantStatus.ON_TREATMENT,
        ),
        (
            {"eligible": True, "enrolled": True, "infusions_given": 3, "treatment_complete": True},
            ParticipantStatus.FOLLOW_UP,
        ),
        (
            {
                "eligible": True,
                "enrolled": True,
                "infusions_given": 5,
                "treatment_complete": True,
                "final_visit_done_or_missed": True,
            },
            ParticipantStatus.COMPLETED,
        ),
        ({"eligible": False}, ParticipantStatus.SCREEN_FAILED),
        ({"eligible": False, "withdrawn": True}, ParticipantStatus.WITHDRAWN),
        (
            {
                "eligible": True,
                "enrolled": True,
                "infusions_given": 5,
                "treatment_complete": True,
                "final_visit_done_or_missed": True,
                "withdrawn": True,
            },
            ParticipantStatus.WITHDRAWN,
        ),
    ],
)
def test_it_picks_the_first_participant_status_that_applies(facts, expected):
    assert participant_status(**{**BASE_STATUS_FACTS, **facts}) == expected
