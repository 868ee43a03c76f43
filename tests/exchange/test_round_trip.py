"""Export a study, import it into an empty database, export again: the same files."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.utils import timezone

from exchange import datasets
from exchange.export import study_directory
from exchange.importer import IMPORT_ORDER, import_files
from itp_trial.roles import DATA_MANAGER, INVESTIGATOR
from tests.exchange.conftest import snapshot
from tests.exchange.study import build_study, read_csv
from tests.factories import user_with_role

# Every test here holds on both import paths (tests/exchange/conftest.py).
pytestmark = pytest.mark.usefixtures("import_path")


def _empty_database() -> None:
    """Truncate every table (flush bypasses the no-delete guard: fine for a test reset).

    Flush's post_migrate puts the four roles back, as a fresh database has them."""
    call_command("flush", interactive=False)
    assert Group.objects.filter(name=INVESTIGATOR).exists()


def _flags(directory: Path) -> list[tuple[str, ...]]:
    """The open flags (resolved ones depend on the order the data were entered in)."""
    rows = read_csv(directory / "flags.csv")
    return sorted(
        (r["subject_id"], r["kind"], r["visit_code"]) for r in rows if r["status"] == "open"
    )


def _without_version(path: Path) -> bytes:
    """The file's bytes without its last column, `version` (a whole number or empty)."""
    content = path.read_bytes()
    assert content.split(b"\r\n", 1)[0].endswith(b",version")
    return re.sub(rb",\d*\r\n", b"\r\n", content)


def _importer():
    """A data manager who is also an investigator: discontinuing treatment needs one."""
    user = user_with_role(DATA_MANAGER, username="dm-investigator")
    user.groups.add(*user_with_role(INVESTIGATOR, username="tmp-inv").groups.all())
    return user


@pytest.mark.django_db(transaction=True)
def test_it_imports_an_export_into_an_empty_database_and_exports_the_same_files(
    coordinator, investigator, monitor, tmp_path: Path
):
    build_study(coordinator=coordinator, investigator=investigator)
    first = tmp_path / "first"
    study_directory(first, user=monitor)

    _empty_database()
    importer = _importer()
    files = {name: (first / f"{name}.csv").read_bytes() for name in IMPORT_ORDER}
    result = import_files(files=files, user=importer, reason="Round trip")

    assert result.issues == []
    assert result.applied
    before = snapshot()
    again = import_files(files=files, user=importer, reason="Round trip")
    assert {c["changed"] + c["new"] for c in again.counts().values()} == {0}
    after = snapshot()
    assert after.pop("exchange.DataImport") == before.pop("exchange.DataImport") + 1
    assert after == before
    second = tmp_path / "second"
    study_directory(second, user=importer)
    # Every column comes back the same but `version`: it counts the saves of the database
    # it is read from (an import writes a record in its own steps), and is filled in both.
    for name in IMPORT_ORDER:
        exported, imported = read_csv(first / f"{name}.csv"), read_csv(second / f"{name}.csv")
        assert all(row.pop("version").isdigit() for row in exported + imported), name
        assert imported == exported, name
    assert _without_version(second / "subjects.csv") == _without_version(first / "subjects.csv")
    # The checks ran again on the imported data and found the same open flags.
    assert _flags(second) == _flags(first)
    assert {kind for _, kind, *_ in _flags(first)} >= {"dose_deviation", "missed_visit"}
    assert len(read_csv(first / "subjects.csv")) == 5
    assert datasets.SUBJECTS.header == list(read_csv(first / "subjects.csv")[0])


@pytest.mark.django_db(transaction=True)
def test_it_keeps_the_new_subject_columns_through_the_round_trip(
    coordinator, investigator, monitor, tmp_path: Path
):
    build_study(coordinator=coordinator, investigator=investigator)
    first = tmp_path / "first"
    study_directory(first, user=monitor)
    exported = {r["subject_id"]: r for r in read_csv(first / "subjects.csv")}

    _empty_database()
    result = import_files(
        files={name: (first / f"{name}.csv").read_bytes() for name in IMPORT_ORDER},
        user=_importer(),
        reason="Round trip",
    )
    assert result.issues == []

    from subjects.models import Participant

    lost = exported["ITP-002"]  # CR confirmed from M2 (d-61), lost from d-20
    assert lost["best_response"] == "CR"
    assert lost["response_duration_days"] == "41"
    assert lost["response_lost_on"] == (timezone.localdate() - timedelta(days=20)).isoformat()
    minor = exported["ITP-005"]
    assert (minor["guardian_consent"], minor["child_assent"]) == ("Y", "Y")
    for subject_id, row in exported.items():
        p = Participant.objects.get(subject_id=subject_id)
        assert (p.enrolled_on.isoformat() if p.enrolled_on else "") == row["enrolled_on"]
        assert p.enrolled_on is None or p.enrolled_on == p.consent_date + timedelta(days=1)
        assert p.consent_version == row["consent_version"]
