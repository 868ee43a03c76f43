"""Importing: natural keys, idempotence, audited changes, the command and its user."""

from __future__ import annotations

import csv
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from exchange.export import study_directory
from exchange.importer import import_files
from exchange.models import DataImport
from subjects.models import Participant
from tests.exchange.conftest import snapshot
from tests.exchange.study import build_study, csv_text, read_csv
from visits.models import PlateletCount

PLATELETS_HEADER = [
    "subject_id",
    "sample_date",
    "platelets_10e9_l",
    "who_bleeding_grade",
    "visit_code",
]


def _rewrite(path: Path, change) -> None:
    rows = read_csv(path)
    for row in rows:
        change(row)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture
def exported(coordinator, investigator, monitor, tmp_path) -> Path:
    build_study(coordinator=coordinator, investigator=investigator)
    directory = tmp_path / "export"
    study_directory(directory, user=monitor)
    return directory


@pytest.mark.django_db
def test_it_changes_nothing_when_the_same_files_are_imported_again(exported, data_manager):
    before = snapshot()

    call_command("import_csv", str(exported), "--user", data_manager.username)
    call_command("import_csv", str(exported), "--user", data_manager.username)

    after = snapshot()
    assert after.pop("exchange.DataImport") == before.pop("exchange.DataImport") + 2
    assert after == before
    record = DataImport.objects.first()
    assert record.imported_by == data_manager
    assert record.summary["counts"]["platelets.csv"] == {"new": 0, "changed": 0, "unchanged": 10}


@pytest.mark.django_db
def test_it_records_a_changed_value_with_the_given_reason(exported, data_manager):
    _rewrite(
        exported / "platelets.csv",
        lambda row: row.update(platelets_10e9_l="125") if row["visit_code"] == "V5-M2" else None,
    )

    call_command(
        "import_csv",
        str(exported),
        "--user",
        data_manager.username,
        "--reason",
        "Lab report corrected",
    )

    count = PlateletCount.objects.get(visit__code="V5-M2")
    assert count.platelets == 125
    latest = count.history.latest()
    assert latest.history_change_reason == "Lab report corrected"
    assert latest.history_user == data_manager
    assert latest.prev_record.platelets == 130


@pytest.mark.django_db
def test_it_refuses_a_changed_value_without_a_reason(exported, data_manager, capsys):
    _rewrite(
        exported / "subjects.csv",
        lambda row: row.update(consent_version="3.0") if row["subject_id"] == "ITP-002" else None,
    )
    before = snapshot()

    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_csv", str(exported), "--user", data_manager.username)

    err = capsys.readouterr().err
    assert "subjects.csv, row 2 (line 3), column consent_version" in err
    assert "“2.1” to “3.0”" in err
    assert snapshot() == before
    assert Participant.objects.get(subject_id="ITP-002").consent_version == "2.1"


@pytest.mark.django_db
def test_it_leaves_a_discontinuation_to_an_investigator(
    coordinator, investigator, monitor, data_manager, tmp_path
):
    """The import runs as its user: a data manager cannot discontinue treatment through it."""
    build_study(coordinator=coordinator, investigator=investigator)
    directory = tmp_path / "export"
    study_directory(directory, user=monitor)
    subjects = read_csv(directory / "subjects.csv")
    participant = Participant.objects.get(subject_id="ITP-005")
    row = next(r for r in subjects if r["subject_id"] == "ITP-005")
    row["treatment_discontinued_date"] = participant.consent_date.isoformat()
    row["treatment_discontinued_reason"] = "Family decision"
    text = csv_text(list(subjects[0]), *[list(r.values()) for r in subjects])
    before = snapshot()

    result = import_files(files={"subjects": text}, user=data_manager)

    messages = [i.message for i in result.issues if i.column == "treatment_discontinued_date"]
    assert any("investigator" in m for m in messages)
    assert snapshot() == before
    assert Participant.objects.get(subject_id="ITP-005").treatment_discontinued_date is None


@pytest.mark.django_db
def test_it_needs_a_user_allowed_to_import(exported, coordinator):
    with pytest.raises(CommandError, match="--user"):
        call_command("import_csv", str(exported))
    with pytest.raises(CommandError, match="permission"):
        call_command("import_csv", str(exported), "--user", coordinator.username)


@pytest.mark.django_db
def test_it_enters_new_lab_results_with_their_visit(treated, data_manager, today):
    day = today - timedelta(days=2)
    text = csv_text(PLATELETS_HEADER, ["ITP-001", day.isoformat(), "88", "", "UNS"])

    result = import_files(files={"platelets": text}, user=data_manager)

    assert result.applied
    count = PlateletCount.objects.get(participant=treated, sample_date=day)
    assert (count.platelets, count.who_bleeding_grade, count.visit) == (88, None, None)
    assert count.history.get().history_user == data_manager


@pytest.mark.django_db
def test_it_reads_back_a_neutralised_cell(treated, data_manager, today):
    text = csv_text(
        ["subject_id", "drug", "indication", "start_date", "end_date", "rescue"],
        [
            "ITP-001",
            '\'=HYPERLINK("x")',
            "'-bleeding",
            (today - timedelta(days=1)).isoformat(),
            "",
            "N",
        ],
    )

    result = import_files(files={"conmeds": text}, user=data_manager)

    assert result.applied, result.issues
    conmed = treated.conmeds.get()
    assert (conmed.drug, conmed.indication) == ('=HYPERLINK("x")', "-bleeding")


@pytest.mark.django_db
def test_it_refuses_a_nul_byte_in_a_cell_and_writes_nothing(exported, data_manager, capsys):
    path = exported / "platelets.csv"
    lines = path.read_text(encoding="utf-8").split("\n")
    lines[2] = lines[2].replace(",", ",4\x00", 1)
    path.write_text("\n".join(lines), encoding="utf-8")
    before = snapshot()

    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_csv", str(exported), "--user", data_manager.username)

    err = capsys.readouterr().err
    assert "platelets.csv: Line 3 contains a NUL character (byte 0)" in err
    assert "Traceback" not in err
    assert snapshot() == before
