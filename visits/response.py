"""Platelet response of protocol section 4 (IWG 2009): category, confirmation, loss.

Pure functions on plain values, no database: a selector loads a participant's counts, the
rescue start dates and the date of infusion 1, and calls `response_summarise`.

How the protocol text is read here:

- Baseline is the last count dated on or before the date of infusion 1; without infusion 1
  there is no baseline. Two counts on the same date (the database allows one per day) are
  kept in the order given, and the later one wins.
- Assessments are the counts dated strictly after infusion 1, in date order (same-date ties
  in the order given).
- A count is not evaluable (NE) from the start date of a rescue therapy to
  RESCUE_NOT_EVALUABLE_DAYS after it, both ends included, whatever its other values. A
  rescue started before infusion 1 still covers the counts after infusion 1 in its span.
- Without a baseline R cannot be met (it needs "at least twice baseline"); CR, which does not
  refer to baseline, still can.
- A run is a longest stretch of consecutive evaluable assessments (NE skipped) that all reach
  a level: "R or better" (R or CR) or "CR". A level is confirmed when one of its runs spans
  at least CONFIRMATION_DAYS (last date - first date).
- Time to response is the first date of the earliest confirmed R-or-better run minus the date
  of infusion 1, as a plain day difference (not a study day, which would be one more).
- Loss of response is judged against the best confirmed level (below CR for a CR, below R or
  better for an R). The response starts on the first date of the earliest run confirming
  that level. The response is lost at the first run, after that start, of consecutive
  evaluable assessments below the level (none reaching it between them) that spans at least
  LOSS_OF_RESPONSE_APART_DAYS: IWG's "two occasions at least 1 day apart". A single dip
  followed by a recovery does not count, and two counts on the same day are one occasion.
  `response_lost_on` is the first date of that run; the duration of response is
  response_lost_on minus the response start, empty while not lost (an analysis censors it
  at the last evaluable assessment). Only the first loss is reported.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from operator import attrgetter
from typing import NamedTuple

from itp_trial import protocol

CR = "CR"
R = "R"
NR = "NR"
NE = "NE"
CATEGORIES: tuple[str, ...] = (CR, R, NR, NE)


# A sample and an assessment are named tuples, not dataclasses: a nightly pass builds two
# million of them, and a tuple is built in a third of the time of a frozen dataclass.
class PlateletSample(NamedTuple):
    sample_date: date
    platelets: int
    bleeding_grade: int | None = None


class Assessment(NamedTuple):
    sample: PlateletSample
    evaluable: bool
    category: str  # CR, R, NR or NE


@dataclass(frozen=True)
class ResponseSummary:
    baseline: int | None
    assessments: tuple[Assessment, ...]  # the counts dated after infusion 1, in date order
    best_response: str  # CR, R, NR or NE
    time_to_response_days: int | None
    response_start: date | None  # first date of the earliest run confirming the best level
    response_lost_on: date | None
    response_duration_days: int | None  # response_lost_on - response_start

    @property
    def loss_of_response(self) -> bool:
        return self.response_lost_on is not None


_SAMPLE_DATE = attrgetter("sample_date")


def _by_date(samples: Iterable[PlateletSample]) -> list[PlateletSample]:
    # sorted() is stable: same-date samples keep the order they were given in.
    return sorted(samples, key=_SAMPLE_DATE)


def baseline_platelets(
    samples: Iterable[PlateletSample], *, first_infusion: date | None
) -> int | None:
    """The last count dated on or before infusion 1; None without infusion 1 or such a count."""
    if first_infusion is None:
        return None
    return _baseline_of_sorted(_by_date(samples), first_infusion=first_infusion)


def _baseline_of_sorted(samples: Sequence[PlateletSample], *, first_infusion: date) -> int | None:
    # The counts on or before infusion 1 are the start of the date order; the last one wins.
    baseline = None
    for s in samples:
        if s.sample_date > first_infusion:
            break
        baseline = s.platelets
    return baseline


def _rescue_spans(rescue_starts: Iterable[date]) -> tuple[tuple[date, date], ...]:
    """The not-evaluable spans: each rescue start to RESCUE_NOT_EVALUABLE_DAYS after it."""
    span = timedelta(days=protocol.RESCUE_NOT_EVALUABLE_DAYS)
    return tuple((start, start + span) for start in rescue_starts)


def _in_spans(sample_date: date, spans: Sequence[tuple[date, date]]) -> bool:
    return any(start <= sample_date <= end for start, end in spans)


def is_evaluable(sample_date: date, *, rescue_starts: Iterable[date]) -> bool:
    """False when the date lies from a rescue start to RESCUE_NOT_EVALUABLE_DAYS after it."""
    return not _in_spans(sample_date, _rescue_spans(rescue_starts))


def bleeding_present(grade: int | None) -> bool:
    """WHO grade 1 or more; a missing grade counts as no bleeding."""
    return grade is not None and grade >= protocol.BLEEDING_PRESENT_FROM_GRADE


def assessment_category(
    *, platelets: int, bleeding_grade: int | None, baseline: int | None, evaluable: bool
) -> str:
    """IWG category of one assessment, the first that applies: NE, CR, R, NR.

    R needs a baseline (count >= R_BASELINE_FACTOR x baseline); with none it cannot be met.
    """
    if not evaluable:
        return NE
    bleeding = bleeding_present(bleeding_grade)
    if platelets >= protocol.CR_PLATELETS and not bleeding:
        return CR
    if (
        baseline is not None
        and platelets >= protocol.R_PLATELETS
        and platelets >= protocol.R_BASELINE_FACTOR * baseline
        and not bleeding
    ):
        return R
    return NR


# The levels a response is judged against: the categories that reach each.
R_OR_BETTER: frozenset[str] = frozenset((CR, R))
CR_LEVEL: frozenset[str] = frozenset((CR,))


def _runs(
    assessments: Sequence[Assessment], level: frozenset[str], *, reaching: bool = True
) -> list[tuple[Assessment, ...]]:
    """The longest stretches of consecutive assessments whose category reaches `level` (or,
    with `reaching` False, does not)."""
    runs: list[tuple[Assessment, ...]] = []
    current: list[Assessment] = []
    for a in assessments:
        if (a.category in level) is reaching:
            current.append(a)
        elif current:
            runs.append(tuple(current))
            current = []
    if current:
        runs.append(tuple(current))
    return runs


def _span_days(run: Sequence[Assessment]) -> int:
    return (run[-1].sample.sample_date - run[0].sample.sample_date).days


def _first_confirmed_run(
    evaluable: Sequence[Assessment], level: frozenset[str]
) -> tuple[Assessment, ...] | None:
    for run in _runs(evaluable, level):
        if _span_days(run) >= protocol.CONFIRMATION_DAYS:
            return run
    return None


def _loss_date(
    evaluable: Sequence[Assessment], *, after: date, level: frozenset[str]
) -> date | None:
    """Date the response is lost: see the module docstring."""
    later = [a for a in evaluable if a.sample.sample_date > after]
    for run in _runs(later, level, reaching=False):
        if _span_days(run) >= protocol.LOSS_OF_RESPONSE_APART_DAYS:
            return run[0].sample.sample_date
    return None


def response_summarise(
    samples: Iterable[PlateletSample],
    *,
    first_infusion: date | None,
    rescue_starts: Iterable[date] = (),
) -> ResponseSummary:
    """Baseline, categorised assessments, best response, time to response and loss of response.

    The rules and the reading of the protocol behind them are in the module docstring.
    """
    samples = _by_date(samples)
    spans = _rescue_spans(rescue_starts)
    if first_infusion is None:
        return ResponseSummary(
            baseline=None,
            assessments=(),
            best_response=NE,
            time_to_response_days=None,
            response_start=None,
            response_lost_on=None,
            response_duration_days=None,
        )

    baseline = _baseline_of_sorted(samples, first_infusion=first_infusion)
    assessments: list[Assessment] = []
    for s in samples:
        if s.sample_date <= first_infusion:
            continue
        # is_evaluable, with the spans worked out once (a full pass judges a million counts).
        evaluable = not spans or not _in_spans(s.sample_date, spans)
        category = assessment_category(
            platelets=s.platelets,
            bleeding_grade=s.bleeding_grade,
            baseline=baseline,
            evaluable=evaluable,
        )
        assessments.append(Assessment(s, evaluable, category))
    evaluable_ones = [a for a in assessments if a.evaluable]

    r_run = _first_confirmed_run(evaluable_ones, R_OR_BETTER)
    cr_run = _first_confirmed_run(evaluable_ones, CR_LEVEL)
    if cr_run is not None:
        best, confirming, level = CR, cr_run, CR_LEVEL
    elif r_run is not None:
        best, confirming, level = R, r_run, R_OR_BETTER
    else:
        best, confirming, level = (NR if evaluable_ones else NE), None, None

    time_to_response = None
    start = loss_date = duration = None
    if r_run is not None:  # a confirmed CR run always lies inside a confirmed R-or-better run
        time_to_response = (r_run[0].sample.sample_date - first_infusion).days
    if confirming is not None and level is not None:
        start = confirming[0].sample.sample_date
        loss_date = _loss_date(evaluable_ones, after=start, level=level)
        if loss_date is not None:
            duration = (loss_date - start).days

    return ResponseSummary(
        baseline=baseline,
        assessments=tuple(assessments),
        best_response=best,
        time_to_response_days=time_to_response,
        response_start=start,
        response_lost_on=loss_date,
        response_duration_days=duration,
    )
