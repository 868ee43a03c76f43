"""Platelet response (protocol section 4, IWG 2009): category, confirmation, loss."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from itp_trial import protocol
from visits.response import (
    CR,
    NE,
    NR,
    PlateletSample,
    R,
    assessment_category,
    baseline_platelets,
    bleeding_present,
    is_evaluable,
    response_summarise,
)

INF1 = date(2026, 3, 2)
CR_COUNT = protocol.CR_PLATELETS  # 100
R_COUNT = protocol.R_PLATELETS  # 30
TWICE = protocol.R_BASELINE_FACTOR  # 2
RESCUE_DAYS = protocol.RESCUE_NOT_EVALUABLE_DAYS  # 28
CONFIRM = protocol.CONFIRMATION_DAYS  # 7
APART = protocol.LOSS_OF_RESPONSE_APART_DAYS  # 1
BLEEDING = protocol.BLEEDING_PRESENT_FROM_GRADE  # 1
LOW_BASELINE = 10  # so that R_COUNT is more than twice baseline
NR_COUNT = R_COUNT - 1
R_ONLY = CR_COUNT - 1  # R with LOW_BASELINE, not CR


def day(n: int) -> date:
    """The date n days after infusion 1 (a plain difference, not a study day)."""
    return INF1 + timedelta(days=n)


def s(n: int, platelets: int, grade: int | None = None) -> PlateletSample:
    return PlateletSample(sample_date=day(n), platelets=platelets, bleeding_grade=grade)


def with_baseline(*samples: PlateletSample, baseline: int = LOW_BASELINE) -> list[PlateletSample]:
    return [s(-1, baseline), *samples]


# --- one assessment --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("grade", "present"),
    [(None, False), (0, False), (BLEEDING, True), (protocol.WHO_BLEEDING_MAX, True)],
)
def test_it_says_whether_bleeding_is_present(grade: int | None, present: bool) -> None:
    assert bleeding_present(grade) is present


@pytest.mark.parametrize(
    ("platelets", "grade", "baseline", "evaluable", "expected"),
    [
        # NE whatever the count or the bleeding.
        (CR_COUNT, None, LOW_BASELINE, False, NE),
        (CR_COUNT, BLEEDING, LOW_BASELINE, False, NE),
        (0, None, LOW_BASELINE, False, NE),
        # CR: >= 100 and no bleeding.
        (CR_COUNT, None, LOW_BASELINE, True, CR),
        (CR_COUNT, 0, LOW_BASELINE, True, CR),
        (CR_COUNT, BLEEDING, LOW_BASELINE, True, NR),
        (CR_COUNT, 4, LOW_BASELINE, True, NR),
        (CR_COUNT - 1, None, LOW_BASELINE, True, R),  # 99: not CR, still R
        (CR_COUNT - 1, None, CR_COUNT // TWICE, True, NR),  # 99 < 2 x 50
        (CR_COUNT, None, CR_COUNT, True, CR),  # CR does not look at baseline
        (CR_COUNT, None, None, True, CR),
        # R: >= 30, >= twice baseline, no bleeding.
        (R_COUNT, None, LOW_BASELINE, True, R),
        (R_COUNT, 0, LOW_BASELINE, True, R),
        (R_COUNT, BLEEDING, LOW_BASELINE, True, NR),
        (R_COUNT - 1, None, LOW_BASELINE, True, NR),  # 29
        (R_COUNT - 1, None, 0, True, NR),
        (40, None, 20, True, R),  # exactly twice baseline
        (39, None, 20, True, NR),  # one below twice baseline
        (60, None, 30, True, R),
        (59, None, 30, True, NR),
        (R_COUNT, None, 0, True, R),
        (R_ONLY, None, None, True, NR),  # without a baseline R cannot be met
        # NR otherwise.
        (0, None, LOW_BASELINE, True, NR),
        (0, BLEEDING, LOW_BASELINE, True, NR),
    ],
)
def test_it_categorises_one_assessment(
    platelets: int, grade: int | None, baseline: int | None, evaluable: bool, expected: str
) -> None:
    category = assessment_category(
        platelets=platelets, bleeding_grade=grade, baseline=baseline, evaluable=evaluable
    )
    assert category == expected


@pytest.mark.parametrize(
    ("sample_day", "rescue_days", "evaluable"),
    [
        (9, [10], True),  # the day before the rescue starts
        (10, [10], False),  # day 0 of the span
        (10 + RESCUE_DAYS, [10], False),  # day 28 of the span
        (10 + RESCUE_DAYS + 1, [10], True),  # day 29
        (50, [], True),
        (50, [10, 45], False),  # any rescue covering the date
        (50, [10, 51], True),
    ],
)
def test_it_makes_counts_around_a_rescue_not_evaluable(
    sample_day: int, rescue_days: list[int], evaluable: bool
) -> None:
    starts = [day(n) for n in rescue_days]
    assert is_evaluable(day(sample_day), rescue_starts=starts) is evaluable
    # A generator is accepted as well as a list.
    assert is_evaluable(day(sample_day), rescue_starts=(d for d in starts)) is evaluable


# --- baseline --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("samples", "first_infusion", "expected"),
    [
        ([s(-10, 20), s(-1, 15), s(3, 80)], INF1, 15),
        ([s(-1, 15), s(-10, 20), s(3, 80)], INF1, 15),  # order of input does not matter
        ([s(-10, 20), s(-1, 15), s(0, 12), s(1, 80)], INF1, 12),  # on the INF1 date counts
        ([s(1, 80)], INF1, None),  # nothing on or before INF1
        ([], INF1, None),
        ([s(-1, 15)], None, None),  # no infusion 1, no baseline
    ],
)
def test_it_takes_the_last_count_on_or_before_infusion_1_as_baseline(
    samples: list[PlateletSample], first_infusion: date | None, expected: int | None
) -> None:
    assert baseline_platelets(samples, first_infusion=first_infusion) == expected
    summary = response_summarise(samples, first_infusion=first_infusion)
    assert summary.baseline == expected


def test_it_assesses_only_the_counts_after_infusion_1_in_date_order() -> None:
    samples = [s(14, R_COUNT), s(0, LOW_BASELINE), s(-1, 50), s(7, 0), s(21, CR_COUNT, 2)]
    summary = response_summarise(samples, first_infusion=INF1, rescue_starts=[day(20)])
    assert summary.baseline == LOW_BASELINE  # the count on the INF1 date, not assessed
    assert [(a.sample.sample_date, a.evaluable, a.category) for a in summary.assessments] == [
        (day(7), True, NR),
        (day(14), True, R),
        (day(21), False, NE),
    ]


# --- best response and time to response ------------------------------------------------------

CASES = [
    # id, samples after the baseline, rescue start days, best, time to response
    ("no assessment", [], [], NE, None),
    ("only NE assessments", [s(7, CR_COUNT), s(14, CR_COUNT)], [5], NE, None),
    ("one NR", [s(7, NR_COUNT)], [], NR, None),
    ("one CR alone is not confirmed", [s(7, CR_COUNT)], [], NR, None),
    (
        "CR 6 days apart is not confirmed",
        [s(7, CR_COUNT), s(7 + CONFIRM - 1, CR_COUNT)],
        [],
        NR,
        None,
    ),
    ("CR 7 days apart is confirmed", [s(7, CR_COUNT), s(7 + CONFIRM, CR_COUNT)], [], CR, 7),
    ("R 6 days apart is not confirmed", [s(7, R_COUNT), s(7 + CONFIRM - 1, R_COUNT)], [], NR, None),
    ("R 7 days apart is confirmed", [s(7, R_COUNT), s(7 + CONFIRM, R_COUNT)], [], R, 7),
    ("R then CR confirm R", [s(7, R_COUNT), s(14, CR_COUNT)], [], R, 7),
    ("CR then R confirm R", [s(7, CR_COUNT), s(14, R_ONLY)], [], R, 7),
    (
        "confirmed with CR bleeding between: NR breaks the run",
        [s(7, CR_COUNT), s(10, CR_COUNT, BLEEDING), s(14, CR_COUNT)],
        [],
        NR,
        None,
    ),
    (
        "a worse NR between breaks the run",
        [s(7, CR_COUNT), s(10, NR_COUNT), s(14, CR_COUNT)],
        [],
        NR,
        None,
    ),
    (
        "an R between breaks the CR run but not the R run",
        [s(7, CR_COUNT), s(10, R_ONLY), s(14, CR_COUNT)],
        [],
        R,
        7,
    ),
    (
        "an NE between is skipped: still confirmed",
        [s(7, CR_COUNT), s(10, NR_COUNT), s(40, CR_COUNT)],
        [10],
        CR,
        7,
    ),
    (
        "an NE at the end does not extend the run",
        [s(7, CR_COUNT), s(10, CR_COUNT), s(14, CR_COUNT)],
        [12],
        NR,
        None,
    ),
    (
        "a long run confirms",
        [s(7, R_COUNT), s(9, R_COUNT), s(11, R_COUNT), s(14, R_COUNT)],
        [],
        R,
        7,
    ),
    (
        "time to response is the first date of the earliest confirmed run",
        [s(7, NR_COUNT), s(14, R_COUNT), s(21, R_COUNT)],
        [],
        R,
        14,
    ),
    (
        "an unconfirmed earlier response does not set the time",
        [s(3, CR_COUNT), s(5, NR_COUNT), s(10, R_COUNT), s(17, CR_COUNT)],
        [],
        R,
        10,
    ),
    (
        "CR confirmed later than R: time from the R-or-better run",
        [s(7, R_COUNT), s(14, R_COUNT), s(21, CR_COUNT), s(28, CR_COUNT)],
        [],
        CR,
        7,
    ),
    (
        "CR confirmed after an earlier broken run",
        [s(3, CR_COUNT), s(5, NR_COUNT), s(20, CR_COUNT), s(27, CR_COUNT)],
        [],
        CR,
        20,
    ),
]


@pytest.mark.parametrize(
    ("samples", "rescue_days", "best", "time_to_response"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_it_finds_the_best_confirmed_response(
    samples: list[PlateletSample],
    rescue_days: list[int],
    best: str,
    time_to_response: int | None,
) -> None:
    summary = response_summarise(
        with_baseline(*samples),
        first_infusion=INF1,
        rescue_starts=[day(n) for n in rescue_days],
    )
    assert summary.best_response == best
    assert summary.time_to_response_days == time_to_response


def test_it_needs_a_baseline_for_r() -> None:
    summary = response_summarise([s(7, R_ONLY), s(14, R_ONLY)], first_infusion=INF1)
    assert summary.baseline is None
    assert [a.category for a in summary.assessments] == [NR, NR]
    assert summary.best_response == NR


def test_it_gives_ne_without_infusion_1() -> None:
    samples = with_baseline(s(7, CR_COUNT), s(14, CR_COUNT))
    summary = response_summarise(samples, first_infusion=None)
    assert summary.best_response == NE
    assert summary.baseline is None
    assert summary.assessments == ()
    assert summary.time_to_response_days is None
    assert summary.loss_of_response is False
    assert (summary.response_start, summary.response_lost_on) == (None, None)
    assert summary.response_duration_days is None


def test_it_accepts_generators() -> None:
    summary = response_summarise(
        (x for x in with_baseline(s(7, CR_COUNT), s(14, CR_COUNT))),
        first_infusion=INF1,
        rescue_starts=(d for d in [day(30)]),
    )
    assert summary.best_response == CR


# --- loss of response ------------------------------------------------------------------------

R_CONFIRMED = [s(7, R_COUNT), s(14, R_COUNT)]
CR_CONFIRMED = [s(7, CR_COUNT), s(14, CR_COUNT)]

START = 7  # the confirming runs above start on day 7

LOSS_CASES = [
    # id, samples after the baseline, rescue start days, loss date (day) or None: the first
    # date of the first run below the level that spans at least APART days
    ("R: two below, 1 day apart", [*R_CONFIRMED, s(21, NR_COUNT), s(21 + APART, NR_COUNT)], [], 21),
    ("R: two below, far apart", [*R_CONFIRMED, s(21, NR_COUNT), s(60, 0)], [], 21),
    ("R: only one below", [*R_CONFIRMED, s(21, NR_COUNT)], [], None),
    ("R: one dip, then back", [*R_CONFIRMED, s(21, NR_COUNT), s(28, R_COUNT)], [], None),
    ("R: two below on the same day", [*R_CONFIRMED, s(21, NR_COUNT), s(21, NR_COUNT)], [], None),
    (
        "R: same day twice then the next day",
        [*R_CONFIRMED, s(21, NR_COUNT), s(21, NR_COUNT), s(22, NR_COUNT)],
        [],
        21,
    ),
    (
        "R: a response between two dips is no loss",
        [*R_CONFIRMED, s(21, NR_COUNT), s(25, R_COUNT), s(30, NR_COUNT)],
        [],
        None,
    ),
    (
        "R: a dip that recovers, then a later loss",
        [*R_CONFIRMED, s(21, NR_COUNT), s(25, R_COUNT), s(30, NR_COUNT), s(31, NR_COUNT)],
        [],
        30,
    ),
    ("R: bleeding counts as below", [*R_CONFIRMED, s(21, CR_COUNT, 2), s(22, R_COUNT, 1)], [], 21),
    ("R: a CR is not below R", [*R_CONFIRMED, s(21, CR_COUNT), s(22, CR_COUNT)], [], None),
    (
        "R: an NE between two below is skipped",
        [*R_CONFIRMED, s(21, NR_COUNT), s(30, NR_COUNT), s(60, NR_COUNT)],
        [22],
        21,
    ),
    ("R: NE counts are not below", [*R_CONFIRMED, s(21, NR_COUNT), s(22, NR_COUNT)], [20], None),
    (
        "CR: two R-level counts lose the CR",
        [*CR_CONFIRMED, s(21, R_ONLY), s(21 + APART, R_ONLY)],
        [],
        21,
    ),
    ("CR: only one below", [*CR_CONFIRMED, s(21, R_ONLY)], [], None),
    ("CR: one dip, then back", [*CR_CONFIRMED, s(21, R_ONLY), s(28, CR_COUNT)], [], None),
    (
        "CR: below-CR counts before the confirming run do not count",
        [s(3, R_COUNT), s(4, R_COUNT), *CR_CONFIRMED],
        [],
        None,
    ),
    ("not confirmed: no loss", [s(7, CR_COUNT), s(8, NR_COUNT), s(9, NR_COUNT)], [], None),
]


@pytest.mark.parametrize(
    ("samples", "rescue_days", "loss_day"),
    [pytest.param(*case[1:], id=case[0]) for case in LOSS_CASES],
)
def test_it_finds_the_loss_of_response(
    samples: list[PlateletSample], rescue_days: list[int], loss_day: int | None
) -> None:
    summary = response_summarise(
        with_baseline(*samples),
        first_infusion=INF1,
        rescue_starts=[day(n) for n in rescue_days],
    )
    assert summary.loss_of_response is (loss_day is not None)
    assert summary.response_lost_on == (None if loss_day is None else day(loss_day))
    expected_duration = None if loss_day is None else loss_day - START
    assert summary.response_duration_days == expected_duration


def test_it_dates_a_lost_cr_from_the_run_confirming_the_cr_not_the_first_r():
    samples = with_baseline(
        s(3, R_COUNT), s(4, R_COUNT), *CR_CONFIRMED, s(30, R_ONLY), s(31, NR_COUNT)
    )

    summary = response_summarise(samples, first_infusion=INF1)

    assert summary.best_response == CR
    assert summary.time_to_response_days == 3  # the earliest R-or-better run
    assert summary.response_start == day(START)  # the earliest CR run
    assert summary.response_lost_on == day(30)
    assert summary.response_duration_days == 30 - START
