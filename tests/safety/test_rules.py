"""Safety rules (protocol section 5): AE consistency, treatment emergence, the SAE clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from itp_trial import protocol
from safety.models import Outcome, SeriousCriterion
from safety.rules import (
    SaeClock,
    ae_consistency_errors,
    is_treatment_emergent,
    sae_clock,
    sae_report_due,
)

CONSENT = date(2026, 2, 10)
ONSET = date(2026, 3, 10)
LATER = ONSET + timedelta(days=5)
DEATH = SeriousCriterion.DEATH
HOSPITALISATION = SeriousCriterion.HOSPITALISATION
FATAL_GRADE = protocol.CTCAE_GRADE_MAX

# An ongoing, non-serious grade 2 event: consistent.
BASE: dict[str, Any] = {
    "onset_date": ONSET,
    "end_date": None,
    "ongoing": True,
    "grade": 2,
    "outcome": Outcome.RECOVERING,
    "serious": False,
    "serious_criteria": (),
    "consent_date": CONSENT,
}
ENDED: dict[str, Any] = {"ongoing": False, "end_date": LATER, "outcome": Outcome.RECOVERED}
FATAL: dict[str, Any] = {
    **ENDED,
    "grade": FATAL_GRADE,
    "outcome": Outcome.FATAL,
    "serious": True,
    "serious_criteria": (DEATH,),
}


def errors(**overrides: Any) -> dict[str, list[str]]:
    return ae_consistency_errors(**{**BASE, **overrides})


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({}, id="ongoing, no end date, recovering"),
        pytest.param({"outcome": Outcome.NOT_RECOVERED}, id="ongoing, not recovered"),
        pytest.param({"outcome": Outcome.UNKNOWN}, id="ongoing, unknown"),
        pytest.param(ENDED, id="ended, recovered"),
        pytest.param({**ENDED, "outcome": Outcome.RECOVERED_WITH_SEQUELAE}, id="with sequelae"),
        pytest.param({**ENDED, "outcome": Outcome.UNKNOWN}, id="ended, unknown"),
        pytest.param({**ENDED, "end_date": ONSET}, id="end date on the onset date"),
        pytest.param({"onset_date": CONSENT}, id="onset on the consent date"),
        pytest.param(
            {"onset_date": CONSENT - timedelta(days=1), "consent_date": None},
            id="no consent date to compare with",
        ),
        pytest.param(FATAL, id="grade 5, fatal, serious, death"),
        pytest.param(
            {**FATAL, "serious_criteria": [HOSPITALISATION, DEATH]},
            id="grade 5 with more than one criterion",
        ),
        pytest.param(
            {"grade": 4, "serious": True, "serious_criteria": [HOSPITALISATION]},
            id="serious with a criterion",
        ),
        pytest.param({"serious": False, "serious_criteria": [""]}, id="empty criterion ignored"),
    ],
)
def test_it_accepts_a_consistent_event(overrides: dict[str, Any]) -> None:
    assert errors(**overrides) == {}


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        # Dates.
        pytest.param(
            {**ENDED, "end_date": ONSET - timedelta(days=1)}, {"end_date": 1}, id="end before onset"
        ),
        pytest.param(
            {"onset_date": CONSENT - timedelta(days=1)},
            {"onset_date": 1},
            id="onset the day before consent",
        ),
        # End date or ongoing.
        pytest.param({"end_date": LATER}, {"end_date": 1}, id="ongoing with an end date"),
        pytest.param({"ongoing": False}, {"end_date": 1}, id="neither end date nor ongoing"),
        pytest.param(
            {**FATAL, "end_date": None}, {"end_date": 1}, id="fatal without the date of death"
        ),
        pytest.param({"outcome": Outcome.RECOVERED}, {"outcome": 1}, id="ongoing but recovered"),
        pytest.param(
            {"outcome": Outcome.RECOVERED_WITH_SEQUELAE},
            {"outcome": 1},
            id="ongoing but recovered with sequelae",
        ),
        pytest.param(
            {**FATAL, "ongoing": True, "end_date": None}, {"outcome": 1}, id="ongoing but fatal"
        ),
        pytest.param(
            {**ENDED, "outcome": Outcome.RECOVERING}, {"outcome": 1}, id="ended but recovering"
        ),
        pytest.param(
            {**ENDED, "outcome": Outcome.NOT_RECOVERED},
            {"outcome": 1},
            id="ended but not recovered",
        ),
        # Grade 5 <=> fatal, serious, death.
        pytest.param(
            {**FATAL, "outcome": Outcome.RECOVERED_WITH_SEQUELAE},
            {"outcome": 1},
            id="grade 5 with a non-fatal outcome",
        ),
        pytest.param(
            {**FATAL, "serious": False, "serious_criteria": ()},
            {"serious": 1},
            id="grade 5 not serious",
        ),
        pytest.param(
            {**FATAL, "serious_criteria": [HOSPITALISATION]},
            {"serious_criteria": 1},
            id="grade 5 serious without death",
        ),
        pytest.param(
            {**FATAL, "grade": FATAL_GRADE - 1, "serious_criteria": [HOSPITALISATION]},
            {"ctcae_grade": 1},
            id="fatal outcome below grade 5",
        ),
        pytest.param(
            {**ENDED, "grade": FATAL_GRADE - 1, "serious": True, "serious_criteria": [DEATH]},
            {"ctcae_grade": 1},
            id="death criterion below grade 5",
        ),
        pytest.param(
            {**FATAL, "grade": FATAL_GRADE - 1},
            {"ctcae_grade": 2},
            id="fatal with death below grade 5",
        ),
        # Serious <=> criteria.
        pytest.param({"serious": True}, {"serious_criteria": 1}, id="serious without criteria"),
        pytest.param(
            {"serious": True, "serious_criteria": [""]},
            {"serious_criteria": 1},
            id="serious with only an empty criterion",
        ),
        pytest.param(
            {"serious_criteria": [HOSPITALISATION]},
            {"serious_criteria": 1},
            id="criteria without serious",
        ),
        pytest.param(
            {"serious": True, "serious_criteria": ["hospitalization"]},
            {"serious_criteria": 1},
            id="unknown criterion",
        ),
        # Several at once are all reported.
        pytest.param(
            {"onset_date": CONSENT - timedelta(days=1), "end_date": CONSENT, "serious": True},
            {"onset_date": 1, "end_date": 1, "serious_criteria": 1},
            id="several fields",
        ),
    ],
)
def test_it_reports_an_inconsistent_event_on_the_right_field(
    overrides: dict[str, Any], expected: dict[str, int]
) -> None:
    result = errors(**overrides)
    assert {field: len(messages) for field, messages in result.items()} == expected
    assert all(isinstance(m, str) and m for messages in result.values() for m in messages)


def test_it_explains_the_error_to_a_coordinator() -> None:
    result = errors(**{**ENDED, "end_date": ONSET - timedelta(days=1)})
    assert result == {"end_date": ["The end date cannot be before the onset date."]}
    result = errors(onset_date=CONSENT - timedelta(days=1))
    assert CONSENT.isoformat() in result["onset_date"][0]
    result = errors(outcome=Outcome.RECOVERED)
    assert "Recovered" in result["outcome"][0]


@pytest.mark.parametrize(
    ("onset", "first_infusion", "emergent"),
    [
        (date(2026, 3, 1), date(2026, 3, 2), False),  # the day before infusion 1
        (date(2026, 3, 2), date(2026, 3, 2), True),  # on infusion 1
        (date(2026, 3, 3), date(2026, 3, 2), True),
        (date(2026, 3, 2), None, False),  # infusion 1 never given
    ],
)
def test_it_says_whether_an_event_is_treatment_emergent(
    onset: date, first_infusion: date | None, emergent: bool
) -> None:
    assert is_treatment_emergent(onset, first_infusion) is emergent


AWARE = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
DUE = AWARE + timedelta(hours=protocol.SAE_REPORT_HOURS)
SECOND = timedelta(seconds=1)


def test_it_makes_a_serious_event_due_24_hours_after_awareness() -> None:
    assert sae_report_due(AWARE) == DUE
    assert DUE == datetime(2026, 3, 11, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("serious", "awareness", "reported", "now", "expected"),
    [
        pytest.param(
            True,
            AWARE,
            None,
            DUE - SECOND,
            SaeClock(True, DUE, False, False, SECOND, False),
            id="due minus 1 s",
        ),
        pytest.param(
            True,
            AWARE,
            None,
            DUE,
            SaeClock(True, DUE, False, False, timedelta(0), False),
            id="exactly due",
        ),
        pytest.param(
            True,
            AWARE,
            None,
            DUE + SECOND,
            SaeClock(True, DUE, False, True, -SECOND, False),
            id="due plus 1 s",
        ),
        pytest.param(
            True,
            AWARE,
            AWARE + timedelta(hours=2),
            DUE + SECOND,
            SaeClock(True, DUE, True, False, None, False),
            id="reported in time",
        ),
        pytest.param(
            True,
            AWARE,
            DUE,
            DUE + timedelta(days=3),
            SaeClock(True, DUE, True, False, None, False),
            id="reported exactly at due",
        ),
        pytest.param(
            True,
            AWARE,
            DUE + SECOND,
            DUE + SECOND,
            SaeClock(True, DUE, True, False, None, True),
            id="reported 1 s late",
        ),
        pytest.param(
            False,
            AWARE,
            None,
            DUE + SECOND,
            SaeClock(False, None, False, False, None, False),
            id="not serious",
        ),
        pytest.param(
            True,
            None,
            None,
            DUE + SECOND,
            SaeClock(False, None, False, False, None, False),
            id="no awareness time",
        ),
    ],
)
def test_it_runs_the_sae_reporting_clock(
    serious: bool,
    awareness: datetime | None,
    reported: datetime | None,
    now: datetime,
    expected: SaeClock,
) -> None:
    clock = sae_clock(serious=serious, awareness_at=awareness, reported_at=reported, now=now)
    assert clock == expected
