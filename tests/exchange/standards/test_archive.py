"""The sealed archive: every file of the study with its sha256, and its verification."""

from __future__ import annotations

import csv
import hashlib
import io

import pytest
from celery import current_app
from django.core.management import CommandError, call_command

from exchange.standards.archive import MANIFEST, ODM_FILE, archive_verify, archive_write
from exchange.standards.sdtm import spec
from subjects.models import Participant
from tests.exchange.standards.validation import assert_valid_odm

pytestmark = pytest.mark.django_db


def _manifest(directory) -> dict[str, dict[str, str]]:
    with open(directory / MANIFEST, encoding="utf-8", newline="") as f:
        return {row["path"]: row for row in csv.DictReader(f)}


def _verify(directory) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("verify_archive", str(directory), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_it_seals_every_file_and_detects_a_changed_a_missing_and_an_added_one(study, tmp_path):
    directory = tmp_path / "archive"

    archive_write(directory)

    listed = _manifest(directory)
    subjects = Participant.objects.values_list("subject_id", flat=True)
    expected = (
        {"csv/audit_trail.csv", "csv/platelets.csv", "csv/subjects.csv", "csv/manifest.csv"}
        | {ODM_FILE, "sdtm/define.xml"}
        | {f"sdtm/{d.name.lower()}.xpt" for d in spec.DOMAINS}
        | {f"casebooks/casebook_{s}.pdf" for s in subjects}
    )
    assert expected <= set(listed)
    files = {p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file()}
    assert set(listed) == files - {MANIFEST}
    for name, row in listed.items():
        content = (directory / name).read_bytes()
        assert row["sha256"] == hashlib.sha256(content).hexdigest()
        assert int(row["bytes"]) == len(content)
    assert_valid_odm((directory / ODM_FILE).read_bytes())
    assert archive_verify(directory) == []
    assert "matches its manifest" in _verify(directory)[0]

    platelets = directory / "csv" / "platelets.csv"
    platelets.write_bytes(platelets.read_bytes().replace(b",15,", b",16,", 1))
    (directory / "sdtm" / "dm.xpt").unlink()
    (directory / "casebooks" / "extra.pdf").write_bytes(b"%PDF-1.7")

    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("verify_archive", str(directory), stdout=io.StringIO(), stderr=err)
    assert err.getvalue().splitlines() == [
        "csv/platelets.csv: changed since the archive was sealed (sha256 differs)",
        "sdtm/dm.xpt: missing",
        "casebooks/extra.pdf: not in the manifest",
    ]


def test_verification_fails_without_a_manifest(tmp_path):
    (tmp_path / "odm").mkdir()
    with pytest.raises(CommandError):
        call_command("verify_archive", str(tmp_path), stdout=io.StringIO(), stderr=io.StringIO())


def test_the_command_refuses_a_folder_that_is_not_empty(tmp_path):
    (tmp_path / "notes.txt").write_text("kept")
    with pytest.raises(CommandError, match="not empty"):
        call_command("export_archive", str(tmp_path), stdout=io.StringIO())
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_the_task_builds_the_archive_of_a_lock_under_archive_root_once(study, tmp_path, settings):
    settings.ARCHIVE_ROOT = tmp_path
    task = current_app.tasks["exchange.archive_build"]

    first = task.apply(kwargs={"lock_id": 7}).get()
    sealed = _manifest(tmp_path / "NCT06813157_archive_lock7")
    second = task.apply(kwargs={"lock_id": 7}).get()

    assert first == second == str(tmp_path / "NCT06813157_archive_lock7")
    assert [p.name for p in tmp_path.iterdir()] == ["NCT06813157_archive_lock7"]
    assert _manifest(tmp_path / "NCT06813157_archive_lock7") == sealed
    assert archive_verify(tmp_path / "NCT06813157_archive_lock7") == []
