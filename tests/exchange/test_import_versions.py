"""Import rows carry the version of the record they were exported from: a row based on an
older version than the stored one is refused as stale, with what changed since (the edit
pages' own message), and nothing is written; the same row with the current version is
accepted. On the per-record path and on the set-based one (stored participants' counts).
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path

import pytest

from exchange.export import study_directory
from exchange.importer import IMPORT_ORDER, import_files
from infusions.models import Infusion
from infusions.services import infusion_record
from itp_trial.roles import DATA_MANAGER, INVESTIGATOR
from subjects.models import Participant
from subjects.services import participant_update
from tests.exchange.conftest import snapshot
from tests.exchange.study import build_study
from tests.factories import user_with_role
from visits.models import PlateletCount
from visits.services import platelet_record

# Where the stored version of each row is, by the dataset's natural key.
RECORDS = {
    "subjects": lambda row: Participant.objects.get(subject_id=row["subject_id"]),
    "infusions": lambda row: Infusion.objects.get(
        participant__subject_id=row["subject_id"], number=int(row["infusion_number"])
    ),
    "platelets": lambda row: PlateletCount.objects.get(
        participant__subject_id=row["subject_id"], sample_date=row["sample_date"]
    ),
}


def _versioned(name: str, text: str) -> str:
    """The exported file with its `version` column: as the export writes it, or, from an
    export without one, the stored version of each row's record."""
    rows = list(csv.DictReader(io.StringIO(text)))
    if rows and "version" in rows[0]:
        assert all(row["version"].isdigit() for row in rows), name
        return text
    out = io.StringIO()
    writer = csv.DictWriter(out, [*rows[0], "version"], lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, "version": RECORDS[name](row).version})
    return out.getvalue()


@pytest.fixture
def exported(coordinator, investigator, monitor, tmp_path: Path) -> dict[str, str]:
    build_study(coordinator=coordinator, investigator=investigator)
    study_directory(tmp_path, user=monitor)
    return {
        name: _versioned(name, (tmp_path / f"{name}.csv").read_text(encoding="utf-8-sig"))
        for name in RECORDS
        if name in IMPORT_ORDER
    }


def _importer():
    user = user_with_role(DATA_MANAGER, username="dm-versions")
    user.groups.add(*user_with_role(INVESTIGATOR, username="inv-versions").groups.all())
    return user


def _row_of(text: str, **key: str) -> dict[str, str]:
    return next(
        row for row in csv.DictReader(io.StringIO(text)) if all(row[k] == v for k, v in key.items())
    )


def _with_row(text: str, changed: dict[str, str], **key: str) -> str:
    """The file with the row of this key replaced by `changed` (the other rows as they are)."""
    rows = list(csv.DictReader(io.StringIO(text)))
    out = io.StringIO()
    writer = csv.DictWriter(out, list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(changed if all(row[k] == v for k, v in key.items()) else row)
    return out.getvalue()


def _changes(coordinator):
    """Each dataset: a change made in the application after the export, and the key of the
    row it makes stale."""
    p = Participant.objects.get(subject_id="ITP-002")
    count = PlateletCount.objects.filter(participant=p, visit__isnull=True).first()
    return {
        "platelets": (
            lambda: platelet_record(
                participant=p,
                user=coordinator,
                sample_date=count.sample_date,
                platelets=count.platelets + 11,
                who_bleeding_grade=count.who_bleeding_grade,
                reason="Lab re-run",
            ),
            {"subject_id": "ITP-002", "sample_date": count.sample_date.isoformat()},
        ),
        "infusions": (
            lambda: infusion_record(
                participant=p,
                user=coordinator,
                number=1,
                data={"lot_number": "MSC-99"},
                reason="Lot number misread",
            ),
            {"subject_id": "ITP-002", "infusion_number": "1"},
        ),
        "subjects": (
            lambda: participant_update(
                participant=Participant.objects.get(pk=p.pk),
                user=coordinator,
                data={"height_cm": Decimal("172.5")},
                reason="Measured again",
            ),
            {"subject_id": "ITP-002"},
        ),
    }


@pytest.mark.django_db
@pytest.mark.parametrize("bulk", [True, False], ids=["set-based", "per-record"])
@pytest.mark.parametrize("name", list(RECORDS))
def test_an_old_export_is_refused_as_stale_and_the_current_version_is_accepted(
    exported, coordinator, name, bulk
):
    user = _importer()
    change, key = _changes(coordinator)[name]
    change()
    old = {name: exported[name]}

    before = snapshot()
    result = import_files(files=old, user=user, reason="Re-import", bulk=bulk)
    assert not result.applied
    assert snapshot() == before
    stale = [i for i in result.issues if i.column == "version"]
    assert stale, result.issues
    row = _row_of(exported[name], **key)
    assert all(i.row == stale[0].row for i in stale)
    message = " ".join(i.message for i in stale)
    assert "changed by someone else" in message
    assert f"your version {row['version']}" in message
    assert "by Chen Li" in message  # who changed it since, and what
    assert {i.column for i in result.issues} == {"version"}

    # The same row based on the current version: accepted, the change it makes written.
    current = RECORDS[name](row).version
    assert current == int(row["version"]) + 1
    fresh = _with_row(exported[name], {**row, "version": str(current)}, **key)
    result = import_files(files={name: fresh}, user=user, reason="Re-import", bulk=bulk)
    assert result.issues == []
    assert result.applied
    assert RECORDS[name](row).version == current + 1  # the old values, written back
    # An empty version (a file without the column's value) is not compared.
    unversioned = _with_row(exported[name], {**row, "version": ""}, **key)
    result = import_files(files={name: unversioned}, user=user, preview=True, bulk=bulk)
    assert not [i for i in result.issues if i.column == "version"]
