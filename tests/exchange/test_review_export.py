"""The review datasets, queries and sdv: exported (only), in the zip, the dictionary and,
with their history, in the audit trail."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest

from exchange import datasets
from exchange.audit_trail import audit_trail_rows
from exchange.export import FileStats, dataset_bytes, study_zip
from safety import dataqueries, sdv
from tests.safety.review_records import trial_records

pytestmark = pytest.mark.django_db


def rows_of(name: str) -> list[dict[str, str]]:
    content = b"".join(dataset_bytes(name, stats=FileStats(name))).decode()
    return list(csv.DictReader(io.StringIO(content, newline="")))


@pytest.fixture
def reviewed(coordinator, monitor):
    records = trial_records(coordinator)
    query = dataqueries.query_raise(
        user=monitor,
        kind="visit",
        object_id=records["visit"].pk,
        field_name="weight_kg",
        question="Weight?",
    )
    dataqueries.query_answer(query_id=query.pk, user=coordinator, answer="Confirmed")
    for kind in ("visit", "conmed"):
        sdv.record_verify(
            kind=kind, object_id=records[kind].pk, user=monitor, version=records[kind].version
        )
    return records


def test_the_review_datasets_are_export_only_and_in_the_dictionary():
    names = [d.name for d in datasets.DATASETS]
    assert {"queries", "sdv"} <= set(names)
    assert not datasets.DATASETS_BY_NAME["queries"].importable
    assert not datasets.DATASETS_BY_NAME["sdv"].importable
    described = {row[0] for row in datasets.dictionary_rows()}
    assert {"queries", "sdv"} <= described


def test_it_exports_queries_with_their_record_and_state(reviewed):
    subject = reviewed["participant"].subject_id

    rows = rows_of("queries")

    assert [(r["subject_id"], r["query_number"], r["dataset"], r["record"]) for r in rows] == [
        (subject, "1", "visits", "V2")
    ]
    assert (rows[0]["field"], rows[0]["state"], rows[0]["messages"]) == (
        "weight_kg",
        "answered",
        "2",
    )


def test_it_exports_verifications_and_their_state_after_a_change(reviewed, coordinator):
    from safety.services import conmed_record

    conmed = reviewed["conmed"]
    conmed_record(
        participant=reviewed["participant"],
        user=coordinator,
        conmed=conmed,
        data={"dose": "1 g"},
        reason="Dose misread",
    )

    rows = {(r["dataset"], r["record"]): r for r in rows_of("sdv")}

    assert rows[("visits", "V2")]["state"] == "verified"
    changed = rows[("conmeds", f"Paracetamol {conmed.start_date.isoformat()}")]
    assert changed["state"] == "changed"
    assert int(changed["current_version"]) == int(changed["verified_version"]) + 1


def test_the_audit_trail_lists_the_history_of_queries_and_verifications(reviewed):
    rows = [r for r in audit_trail_rows() if r[3] in ("queries", "sdv")]

    queries = [r for r in rows if r[3] == "queries"]
    assert queries[0][2] == "raised" and queries[0][5] == "Q1"
    assert ("state", "open", "answered") in [(r[6], r[7], r[8]) for r in queries]
    assert [r[2] for r in rows if r[3] == "sdv"] == ["created", "created"]


def test_the_zip_holds_the_review_datasets(reviewed, monitor):
    handle, _export = study_zip(user=monitor)
    handle.seek(0)
    names = zipfile.ZipFile(handle).namelist()
    assert "queries.csv" in names and "sdv.csv" in names


def test_the_standards_read_queries_and_verifications_by_dataset_and_record(reviewed):
    from exchange.standards import review

    subject = reviewed["participant"].subject_id

    (query,) = review.queries(subject_ids=[subject])[subject]
    verified = review.verifications(subject_ids=[subject])

    assert (query.number, query.state, query.dataset, query.record, query.field) == (
        1,
        "answered",
        "visits",
        "V2",
        "weight_kg",
    )
    assert review.sdv_state(subject, "visits", "V2", verified=verified) == "verified"
    assert review.sdv_state(subject, "infusions", "INF1", verified=verified) == "not verified"
