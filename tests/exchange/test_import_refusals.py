"""Each class of bad input is refused, named by file, row and column, and nothing is written."""

from __future__ import annotations

from datetime import timedelta

import pytest

from exchange.importer import import_files
from tests.exchange.conftest import snapshot
from tests.exchange.study import csv_text
from tests.factories import screened

PLATELET = {
    "subject_id": "ITP-001",
    "sample_date": "{d-2}",
    "platelets_10e9_l": "45",
    "who_bleeding_grade": "0",
    "visit_code": "UNS",
}
INFUSION = {
    "subject_id": "ITP-001",
    "infusion_number": "2",
    "infusion_date": "{d-3}",
    "dosing_weight_kg": "60.0",
    "actual_cells": "6000000000",
    "lot_number": "MSC-02",
}
ADVERSE_EVENT = {
    "subject_id": "ITP-001",
    "ae_number": "1",
    "term": "Headache",
    "onset_date": "{d-5}",
    "end_date": "{d-4}",
    "ongoing": "N",
    "ctcae_grade": "2",
    "serious": "N",
    "serious_criteria": "",
    "relationship": "possible",
    "related_infusion": "",
    "action_taken": "none",
    "outcome": "recovered",
    "awareness_at": "{d-5}T10:00:00+08:00",
    "reported_at": "",
}

CASES = {
    "a negative count": ("platelets", PLATELET, {"platelets_10e9_l": "-5"}, "platelets_10e9_l"),
    "text in a number": ("platelets", PLATELET, {"platelets_10e9_l": "abc"}, "platelets_10e9_l"),
    "an impossible date": ("platelets", PLATELET, {"sample_date": "2026-02-30"}, "sample_date"),
    "a future date": ("platelets", PLATELET, {"sample_date": "{d+3}"}, "sample_date"),
    "an unknown participant": ("platelets", PLATELET, {"subject_id": "ITP-999"}, "subject_id"),
    "an unknown visit code": ("platelets", PLATELET, {"visit_code": "V9"}, "visit_code"),
    "a bleeding grade of 7": (
        "platelets",
        PLATELET,
        {"who_bleeding_grade": "7"},
        "who_bleeding_grade",
    ),
    "an infusion out of order": (
        "infusions",
        INFUSION,
        {"infusion_number": "3"},
        "infusion_number",
    ),
    "a sixth infusion": ("infusions", INFUSION, {"infusion_number": "6"}, "infusion_number"),
    "a weight of zero": ("infusions", INFUSION, {"dosing_weight_kg": "0"}, "dosing_weight_kg"),
    "grade 5 that is not fatal": (
        "adverse_events",
        ADVERSE_EVENT,
        {"ctcae_grade": "5", "serious": "Y", "serious_criteria": "death"},
        "outcome",
    ),
    "an AE ending before it starts": (
        "adverse_events",
        ADVERSE_EVENT,
        {"end_date": "{d-6}"},
        "end_date",
    ),
    "an infusion visit dated off its infusion": (
        "visits",
        {"subject_id": "ITP-001", "visit_code": "V3-INF1", "actual_date": "{d-9}", "missed": "N"},
        {},
        "actual_date",
    ),
    "a missed infusion": (
        "visits",
        {"subject_id": "ITP-001", "visit_code": "V3-INF2", "actual_date": "", "missed": "Y"},
        {},
        "missed",
    ),
    "a follow-up visit before treatment is complete": (
        "visits",
        {"subject_id": "ITP-001", "visit_code": "V5-D14", "actual_date": "{d-1}", "missed": "N"},
        {},
        "actual_date",
    ),
    "end of treatment missed before treatment is complete": (
        "visits",
        {
            "subject_id": "ITP-001",
            "visit_code": "V4",
            "actual_date": "",
            "missed": "Y",
            "missed_reason": "Travelling",
        },
        {},
        "missed",
    ),
    "a count at a follow-up visit before treatment is complete": (
        "platelets",
        PLATELET,
        {"visit_code": "V5-D14"},
        "visit_code",
    ),
    "a subject ID not in the ITP-NNN form": (
        "platelets",
        PLATELET,
        {"subject_id": "ITP-1"},
        "subject_id",
    ),
    "an unknown visit code in visits": (
        "visits",
        {"subject_id": "ITP-001", "visit_code": "V7", "actual_date": "{d-1}", "missed": "N"},
        {},
        "visit_code",
    ),
}

# Every test here holds on both import paths (tests/exchange/conftest.py).
pytestmark = pytest.mark.usefixtures("import_path")


def _fill(value: str, today) -> str:
    for days in range(-10, 11):
        value = value.replace(f"{{d{days:+d}}}", (today + timedelta(days=days)).isoformat())
    return value


def _file(base: dict, overrides: dict, today) -> str:
    row = {**base, **overrides}
    return csv_text(list(row), [_fill(v, today) for v in row.values()])


@pytest.mark.django_db
@pytest.mark.parametrize("case", CASES)
def test_it_refuses_bad_input_naming_file_row_and_column_and_writes_nothing(
    case, treated, data_manager, today
):
    name, base, overrides, column = CASES[case]
    before = snapshot()

    result = import_files(
        files={name: _file(base, overrides, today)}, user=data_manager, reason="Lab results"
    )

    assert not result.applied
    where = {(issue.file, issue.row, issue.line, issue.column) for issue in result.issues}
    assert (f"{name}.csv", 1, 2, column) in where, result.issues
    assert all(issue.message for issue in result.issues)
    assert snapshot() == before


@pytest.mark.django_db
def test_it_refuses_an_age_that_contradicts_i2_on_the_row_of_i2(coordinator, data_manager):
    screened(coordinator)  # ITP-001, 36 at consent
    before = snapshot()
    answers = [
        ["ITP-001", code, "Y" if code.startswith("I") else "N"]
        for code in ("I1", "I2", "I3", "I4", "I5", "E1", "E2", "E3", "E4", "E5", "E6", "E7", "E8")
    ]
    answers[1][2] = "N"

    result = import_files(
        files={"eligibility": csv_text(["subject_id", "criterion", "met"], *answers)},
        user=data_manager,
    )

    assert [(i.file, i.row, i.column) for i in result.issues] == [("eligibility.csv", 2, "met")]
    assert "36" in result.issues[0].message
    assert snapshot() == before


@pytest.mark.django_db
def test_it_writes_nothing_when_one_row_of_many_is_refused(treated, data_manager, today):
    before = snapshot()
    rows = [
        ["ITP-001", (today - timedelta(days=3)).isoformat(), "40", "0", "UNS"],
        ["ITP-001", (today - timedelta(days=2)).isoformat(), "55", "0", "UNS"],
        ["ITP-001", (today - timedelta(days=1)).isoformat(), "-1", "0", "UNS"],
    ]
    text = csv_text(list(PLATELET), *rows)

    result = import_files(files={"platelets": text}, user=data_manager)

    assert [(i.row, i.line, i.column) for i in result.issues] == [(3, 4, "platelets_10e9_l")]
    assert snapshot() == before


@pytest.mark.django_db
def test_it_reports_every_refusal_of_a_file_at_once(treated, data_manager, today):
    rows = [
        ["ITP-001", "2026-13-01", "40", "0", "UNS"],
        ["ITP-001", (today - timedelta(days=2)).isoformat(), "many", "9", "UNS"],
        ["ITP-404", (today - timedelta(days=1)).isoformat(), "50", "0", "UNS"],
    ]

    result = import_files(files={"platelets": csv_text(list(PLATELET), *rows)}, user=data_manager)

    assert [(i.row, i.column) for i in result.issues] == [
        (1, "sample_date"),
        (2, "platelets_10e9_l"),
        (2, "who_bleeding_grade"),  # reported though the count beside it is refused too
        (3, "subject_id"),
    ]
    assert "platelets.csv, row 2 (line 3), column platelets_10e9_l" in str(result.issues[1])


@pytest.mark.django_db
def test_it_refuses_a_file_whose_header_is_wrong(treated, data_manager):
    text = csv_text(["subject_id", "sample_date", "platelet_count", "visit_code"])

    result = import_files(files={"platelets": text}, user=data_manager)

    assert {(i.row, i.line, i.column) for i in result.issues} == {
        (None, 1, "platelet_count"),
        (None, 1, "platelets_10e9_l"),
    }


def _subject_row(participant, **overrides) -> dict:
    row = {
        "subject_id": participant.subject_id,
        "screening_number": participant.screening_number,
        "sex": participant.sex,
        "birth_date": participant.birth_date.isoformat(),
        "consent_date": participant.consent_date.isoformat(),
        "consent_version": participant.consent_version,
        "enrolled_on": "",
        "planned_first_infusion_date": "",
    }
    row.update(overrides)
    return row


SUBJECT_CASES = {
    "a planned infusion 1 without the enrolment date": (
        {"planned_first_infusion_date": "{d+5}"},
        "enrolled_on",
        "Required with planned_first_infusion_date",
    ),
    "an enrolment date without the planned infusion 1": (
        {"enrolled_on": "{d-1}"},
        "planned_first_infusion_date",
        "Required with enrolled_on",
    ),
    "an enrolment in the future": (
        {"enrolled_on": "{d+1}", "planned_first_infusion_date": "{d+5}"},
        "enrolled_on",
        "cannot be in the future",
    ),
    "an enrolment before consent": (
        {"enrolled_on": "CONSENT-1", "planned_first_infusion_date": "{d+5}"},
        "enrolled_on",
        "before the consent date",
    ),
    "a screening number not in the SCR-NNN form": (
        {"screening_number": "SCR-1"},
        "screening_number",
        "SCR-NNN",
    ),
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", SUBJECT_CASES)
def test_it_refuses_a_bad_enrolment_or_identifier_and_writes_nothing(
    case, coordinator, investigator, today
):
    from tests.factories import eligible

    participant = eligible(coordinator, today=today)
    overrides, column, text = SUBJECT_CASES[case]
    before = snapshot()
    consent_eve = (participant.consent_date - timedelta(days=1)).isoformat()
    row = {k: _fill(v, today).replace("CONSENT-1", consent_eve) for k, v in overrides.items()}

    result = import_files(
        files={
            "subjects": csv_text(
                list(_subject_row(participant)), _subject_row(participant, **row).values()
            )
        },
        user=investigator,
        reason="Paper CRF",
    )

    assert not result.applied
    issues = [i for i in result.issues if i.column == column]
    assert issues and any(text in i.message for i in issues), result.issues
    assert all((i.file, i.row) == ("subjects.csv", 1) for i in result.issues)
    assert snapshot() == before
    participant.refresh_from_db()
    assert participant.enrolled_on is None


@pytest.mark.django_db
def test_it_enrols_on_the_date_the_file_gives(coordinator, investigator, today):
    from tests.factories import eligible

    participant = eligible(coordinator, today=today)
    on = participant.consent_date + timedelta(days=2)
    row = _subject_row(
        participant,
        enrolled_on=on.isoformat(),
        planned_first_infusion_date=(today + timedelta(days=5)).isoformat(),
    )

    result = import_files(
        files={"subjects": csv_text(list(row), row.values())}, user=investigator, reason="Paper"
    )

    assert result.issues == []
    participant.refresh_from_db()
    assert participant.enrolled_on == on
    assert participant.status == "enrolled"
