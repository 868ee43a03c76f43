"""The signatures and locks datasets (export only): their rows, their place in the zip, the
dictionary and the audit trail."""

from __future__ import annotations

import csv
import io
import re
import zipfile

import pytest
from django.urls import reverse

from exchange import datasets
from exchange.export import FileStats, dataset_bytes
from safety.locking import casebook_unlock, database_lock
from subjects.models import Participant
from tests.factories import signed
from tests.safety.review_data import casebook, locked

pytestmark = pytest.mark.django_db


def rows_of(name: str) -> list[dict[str, str]]:
    content = b"".join(dataset_bytes(name, stats=FileStats(name))).decode()
    return list(csv.DictReader(io.StringIO(content, newline="")))


@pytest.fixture
def reviewed(coordinator, investigator, data_manager):
    """ITP-001 signed, locked and unlocked (stale); ITP-002 signed (current); the database
    locked."""
    first = locked(casebook(coordinator), investigator=investigator, data_manager=data_manager)
    casebook_unlock(participant_id=first.pk, user=data_manager, reason="Late lab result")
    second = casebook(coordinator)
    signed(investigator, second, meaning="approval")
    database_lock(user=data_manager)
    return first, second


def test_it_cannot_import_either(reviewed):
    assert not datasets.SIGNATURES.importable and not datasets.LOCKS.importable


def test_it_exports_each_signature_with_its_status_and_hash(reviewed):
    first, second = reviewed
    rows = {r["subject_id"]: r for r in rows_of("signatures")}
    assert rows[first.subject_id]["status"] == "stale"
    assert rows[first.subject_id]["stale_reason"] == "Casebook unlocked: Late lab result"
    current = rows[second.subject_id]
    assert (current["status"], current["meaning"], current["signer_name"]) == (
        "current",
        "approval",
        "Wang Fang",
    )
    assert current["casebook_sha256"] == second.signatures.get().content_hash
    # ISO 8601 with its offset (protocol section 7), the zone by name beside it.
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?[+-]\d\d:\d\d", current["signed_at"]
    )
    assert current["time_zone"]


def test_it_exports_every_lock_period(reviewed):
    first, _second = reviewed
    rows = rows_of("locks")
    assert [(r["scope"], r["subject_id"]) for r in rows] == [
        ("database", ""),
        ("casebook", first.subject_id),
    ]
    casebook_row = rows[1]
    assert (casebook_row["locked_by"], casebook_row["unlocked_by"]) == ("datamanager",) * 2
    assert casebook_row["unlock_reason"] == "Late lab result"
    assert rows[0]["unlocked_at"] == ""


def test_it_puts_both_in_the_zip_the_dictionary_and_the_audit_trail(client, reviewed, data_manager):
    client.force_login(data_manager)
    response = client.get(reverse("exchange:export_zip"))
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))

    assert {"signatures.csv", "locks.csv"} <= set(archive.namelist())
    dictionary = list(csv.DictReader(io.StringIO(archive.read("data_dictionary.csv").decode())))
    described = {r["dataset"] for r in dictionary}
    assert {"signatures", "locks"} <= described
    meaning = next(
        r for r in dictionary if (r["dataset"], r["column"]) == ("signatures", "meaning")
    )
    assert meaning["allowed_values"] == "review|approval|responsibility"
    trail = list(csv.DictReader(io.StringIO(archive.read("audit_trail.csv").decode())))
    first = Participant.objects.order_by("subject_id").first()
    signature_rows = [r for r in trail if r["dataset"] == "signatures"]
    assert any(r["action"] == "signed" and r["user"] == "investigator" for r in signature_rows)
    assert any(
        r["action"] == "changed"
        and r["field"] == "stale_reason"
        and r["subject_id"] == first.subject_id
        for r in signature_rows
    )
    lock_rows = [r for r in trail if r["dataset"] == "locks"]
    assert any(r["record"].startswith("database ") for r in lock_rows)
    assert any(
        r["field"] == "unlock_reason" and r["new_value"] == "Late lab result" for r in lock_rows
    )
