"""Exports: the column contract, the formats, streaming, the zip and its record."""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from exchange import datasets
from exchange.export import FileStats, dataset_bytes
from exchange.models import DataExport
from infusions.services import infusion_record
from safety.services import adverse_event_record, conmed_record
from subjects.models import Participant
from subjects.services import participant_update
from tests.exchange.study import at, build_study
from tests.factories import enrolled
from visits.selectors import participant_response, participants_with_outcomes

# Protocol section 7, verbatim: the minimum columns of each dataset, in order.
CONTRACT = {
    "subjects": "subject_id, screening_number, sex, birth_date, consent_date, "
    "consent_version, guardian_consent, child_assent, enrolled_on, "
    "planned_first_infusion_date, treatment_discontinued_date, treatment_discontinued_reason, "
    "withdrawal_date, withdrawal_reason, age_at_consent, status, baseline_platelets, "
    "best_response, time_to_response_days, response_lost_on, response_duration_days",
    "eligibility": "subject_id, criterion, met",
    "visits": "subject_id, visit_code, actual_date, missed, missed_reason, target_date, "
    "window_start, window_end, window_status, study_day",
    "infusions": "subject_id, infusion_number, infusion_date, dosing_weight_kg, actual_cells, "
    "lot_number, viability_pct, volume_ml, reaction, interrupted, dose_per_kg, planned_cells, "
    "deviation_pct, dose_deviation",
    "platelets": "subject_id, sample_date, platelets_10e9_l, who_bleeding_grade, visit_code, "
    "study_day, evaluable, category",
    "adverse_events": "subject_id, ae_number, term, onset_date, end_date, ongoing, ctcae_grade, "
    "serious, serious_criteria, relationship, related_infusion, action_taken, outcome, "
    "awareness_at, reported_at, report_due_at, treatment_emergent",
    "conmeds": "subject_id, drug, indication, start_date, end_date, rescue",
    "flags": "subject_id, kind, visit_code, raised_at, resolved_at, status, detail",
    "audit_trail": "timestamp, user, action, dataset, subject_id, record, field, old_value, "
    "new_value, reason",
}
DERIVED = {
    "subjects": {
        "age_at_consent",
        "status",
        "baseline_platelets",
        "best_response",
        "time_to_response_days",
        "response_lost_on",
        "response_duration_days",
    },
    "visits": {"target_date", "window_start", "window_end", "window_status", "study_day"},
    "infusions": {"dose_per_kg", "planned_cells", "deviation_pct", "dose_deviation"},
    "platelets": {"study_day", "evaluable", "category"},
    "adverse_events": {"report_due_at", "treatment_emergent"},
}


def rows_of(name: str) -> list[dict[str, str]]:
    content = b"".join(dataset_bytes(name, stats=FileStats(name))).decode()
    return list(csv.DictReader(io.StringIO(content, newline="")))


@pytest.mark.parametrize("name", CONTRACT)
def test_it_writes_the_contract_columns_first_and_in_order(name):
    minimum = CONTRACT[name].split(", ")
    dataset = datasets.DATASETS_BY_NAME[name]
    assert dataset.header[: len(minimum)] == minimum
    derived = {c.name for c in dataset.columns[: len(minimum)] if c.derived}
    if dataset.importable:
        assert derived == DERIVED.get(name, set())


@pytest.mark.django_db
def test_it_neutralises_formulas_and_keeps_real_negative_numbers(coordinator, today):
    participant = enrolled(coordinator, planned=today - timedelta(days=10), today=today)
    infusion_record(
        participant=participant,
        user=coordinator,
        number=1,
        data={
            "infusion_date": today - timedelta(days=10),
            "dosing_weight_kg": Decimal("60.0"),
            "actual_cells": 5_250_000_000,  # 12.5 % below the plan
            "lot_number": "-LOT7",
        },
    )
    conmed_record(
        participant=participant,
        user=coordinator,
        data={
            "drug": '=HYPERLINK("http://evil.test","IVIg")',
            "indication": "+1 bleeding",
            "start_date": today - timedelta(days=5),
            "dose": "@SUM(1)",
        },
    )
    adverse_event_record(
        participant=participant,
        user=coordinator,
        data={
            "term": "-12",
            "onset_date": today - timedelta(days=4),
            "ongoing": True,
            "ctcae_grade": 1,
            "relationship": "possible",
            "outcome": "recovering",
            "awareness_at": at(today - timedelta(days=4), 9),
        },
    )

    conmed = rows_of("conmeds")[0]
    infusion = rows_of("infusions")[0]
    event = rows_of("adverse_events")[0]

    assert conmed["drug"] == '\'=HYPERLINK("http://evil.test","IVIg")'
    assert conmed["indication"] == "'+1 bleeding"
    assert conmed["dose"] == "'@SUM(1)"
    assert infusion["lot_number"] == "'-LOT7"
    assert infusion["deviation_pct"] == "-12.50"
    assert infusion["actual_cells"] == "5250000000"
    assert event["term"] == "-12"  # a real number stays as it is


@pytest.mark.django_db
def test_it_gives_each_count_the_category_the_participant_page_shows(coordinator, investigator):
    build_study(coordinator=coordinator, investigator=investigator)
    exported = {(r["subject_id"], r["sample_date"]): r for r in rows_of("platelets")}

    shown = {}
    for participant in participants_with_outcomes(Participant.objects.all()):
        summary = participant_response(participant)
        for a in summary.assessments:
            shown[(participant.subject_id, a.sample.sample_date.isoformat())] = a.category
    subjects = {r["subject_id"]: r for r in rows_of("subjects")}

    assert {k: r["category"] for k, r in exported.items() if r["category"]} == shown
    assert subjects["ITP-002"]["best_response"] == "CR"
    assert subjects["ITP-002"]["baseline_platelets"] == "15"
    assert exported[next(k for k in exported if k[0] == "ITP-002")]["category"] == ""


def _queries(name: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        for _block in dataset_bytes(name, stats=FileStats(name)):
            pass
    return len(queries)


@pytest.mark.django_db
@pytest.mark.parametrize("name", [d.name for d in datasets.DATASETS])
def test_it_reads_with_a_number_of_queries_that_does_not_grow_with_the_data(
    name, coordinator, investigator
):
    build_study(coordinator=coordinator, investigator=investigator)
    few = _queries(name)
    for _ in range(4):
        enrolled(coordinator)
    assert _queries(name) == few


@pytest.mark.django_db
def test_it_lets_monitors_and_data_managers_export_and_no_one_else(
    client, coordinator, monitor, data_manager
):
    client.force_login(coordinator)
    assert client.get(reverse("exchange:exports")).status_code == 403
    assert client.get(reverse("exchange:export_zip")).status_code == 403
    for user in (monitor, data_manager):
        client.force_login(user)
        page = client.get(reverse("exchange:exports"))
        assert page.status_code == 200
        for dataset in datasets.DATASETS:
            assert reverse("exchange:export_dataset", args=[dataset.name]).encode() in page.content
    assert DataExport.objects.count() == 0


@pytest.mark.django_db
def test_it_streams_a_dataset_and_records_the_export(client, coordinator, investigator, monitor):
    build_study(coordinator=coordinator, investigator=investigator)
    client.force_login(monitor)

    response = client.get(reverse("exchange:export_dataset", args=["platelets"]))

    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="platelets.csv"' in response["Content-Disposition"]
    content = b"".join(response.streaming_content)
    assert content.decode().splitlines()[0] == ",".join(datasets.PLATELETS.header)
    export = DataExport.objects.get()
    assert export.exported_by == monitor
    assert export.datasets == "platelets"
    assert export.manifest[0]["rows"] == 10  # the platelet counts of build_study
    assert export.manifest[0]["sha256"] == hashlib.sha256(content).hexdigest()


@pytest.mark.django_db
def test_it_refuses_an_unknown_dataset(client, monitor):
    client.force_login(monitor)
    assert client.get(reverse("exchange:export_dataset", args=["secrets"])).status_code == 404


@pytest.mark.django_db
def test_it_exports_the_whole_study_as_a_zip_with_dictionary_and_manifest(
    client, coordinator, investigator, data_manager
):
    build_study(coordinator=coordinator, investigator=investigator)
    participant_update(
        participant=Participant.objects.get(subject_id="ITP-002"),
        user=investigator,
        data={"consent_version": "2.2"},
        reason="Version misread",
    )
    client.force_login(data_manager)

    response = client.get(reverse("exchange:export_zip"))

    assert response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    names = set(archive.namelist())
    assert names == {d.filename for d in datasets.DATASETS} | {
        "data_dictionary.csv",
        "manifest.csv",
    }
    manifest = list(csv.DictReader(io.StringIO(archive.read("manifest.csv").decode())))
    assert {m["file"] for m in manifest} == names - {"manifest.csv"}
    for entry in manifest:
        content = archive.read(entry["file"])
        assert hashlib.sha256(content).hexdigest() == entry["sha256"]
        assert len(content.decode().splitlines()) == int(entry["rows"]) + 1
        assert entry["exported_by"] == "datamanager"
    dictionary = list(csv.DictReader(io.StringIO(archive.read("data_dictionary.csv").decode())))
    status = next(r for r in dictionary if (r["dataset"], r["column"]) == ("subjects", "status"))
    assert status["derived"] == "Y"
    assert status["allowed_values"].startswith("screening|screen_failed")
    count = next(
        r for r in dictionary if (r["dataset"], r["column"]) == ("platelets", "platelets_10e9_l")
    )
    assert (count["type"], count["unit"], count["allowed_values"]) == (
        "integer",
        "10^9/L",
        "0 to 2000",
    )
    trail = list(csv.DictReader(io.StringIO(archive.read("audit_trail.csv").decode())))
    change = next(r for r in trail if r["field"] == "consent_version")
    assert (change["user"], change["old_value"], change["new_value"], change["reason"]) == (
        "investigator",
        "2.1",
        "2.2",
        "Version misread",
    )
    assert any(r["action"] == "exported" and r["user"] == "datamanager" for r in trail)
    export = DataExport.objects.get()
    assert export.exported_by == data_manager
    assert len(export.manifest) == len(names) - 1


@pytest.mark.django_db
def test_the_command_writes_every_dataset_into_a_directory(
    coordinator, investigator, monitor, tmp_path
):
    build_study(coordinator=coordinator, investigator=investigator)

    call_command("export_csv", str(tmp_path / "out"), "--user", monitor.username)

    written = {p.name for p in (tmp_path / "out").iterdir()}
    assert written == {d.filename for d in datasets.DATASETS} | {
        "data_dictionary.csv",
        "manifest.csv",
    }
    assert DataExport.objects.get().exported_by == monitor


@pytest.mark.django_db
def test_it_lists_an_export_made_from_the_command_line_without_a_user(
    client, monitor, data_manager, tmp_path
):
    call_command("export_csv", str(tmp_path / "nobody"))
    call_command("export_csv", str(tmp_path / "dm"), "--user", data_manager.username)
    client.force_login(monitor)

    page = client.get(reverse("exchange:exports"))

    assert page.status_code == 200
    recent = page.content.decode().split('data-testid="recent-exports"')[1]
    assert "command line (no user given)" in recent
    assert data_manager.username in recent or data_manager.get_full_name() in recent
    assert recent.count("manifest.csv") == 0  # the manifest lists the files, not itself
    assert DataExport.objects.filter(exported_by=None).count() == 1
