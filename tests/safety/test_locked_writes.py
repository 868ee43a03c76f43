"""A locked record refuses every write, from every path (protocol section 8): the forms,
the CSV import, the lab upload, the commands and the checks' writes; and under the database
lock, everything. After each refusal the database is unchanged."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from exchange.importer import import_files
from safety.checks import checks_run
from safety.locking import database_lock
from safety.models import Flag, FlagKind
from subjects.models import Participant, Signature
from subjects.services import participant_screen
from tests.exchange.conftest import snapshot
from tests.exchange.study import csv_text
from tests.factories import participant_data, signed
from visits.models import Visit, WindowStatus
from visits.services import schedule_sync

from .review_data import casebook, locked

pytestmark = pytest.mark.django_db

HEADER = ["subject_id", "sample_date", "platelets_10e9_l", "who_bleeding_grade", "visit_code"]
LOCKED = "casebook is locked"


@pytest.fixture
def participant(coordinator, investigator, data_manager):
    return locked(casebook(coordinator), investigator=investigator, data_manager=data_manager)


def lab_file(participant) -> str:
    day = timezone.localdate() - timedelta(days=1)
    return csv_text(HEADER, [participant.subject_id, day.isoformat(), "77", "0", "UNS"])


def v2_post(visit: Visit) -> dict:
    return {
        "actual_date": visit.target_date.isoformat(),
        "systolic_bp": "112",
        "diastolic_bp": "70",
        "heart_rate": "88",
        "respiratory_rate": "18",
        "temperature_c": "36.8",
        "weight_kg": "59.5",
        "height_cm": "162.0",
        "platelets": "14",
        "who_bleeding_grade": "1",
        "physical_exam_normal": "yes",
        "version": str(visit.version),
        "reason": "Source says so",
    }


def test_it_refuses_the_visit_form(client, coordinator, participant):
    visit = Visit.objects.get(participant=participant, code="V2")
    client.force_login(coordinator)
    before = snapshot()

    response = client.post(reverse("visits:edit", args=[visit.pk]), v2_post(visit))

    assert response.status_code == 200
    assert LOCKED in response.content.decode()
    assert snapshot() == before
    assert Visit.objects.get(pk=visit.pk).weight_kg == visit.weight_kg


def test_it_refuses_the_participant_form(client, coordinator, participant):
    client.force_login(coordinator)
    before = snapshot()
    data = {
        **{
            k: (v.isoformat() if hasattr(v, "isoformat") else v)
            for k, v in participant_data().items()
        },
        "consent_version": "3.0",
        "reason": "Corrected",
        "version": participant.version,
    }

    response = client.post(reverse("subjects:edit", args=[participant.pk]), data)

    assert response.status_code == 200
    assert LOCKED in response.content.decode()
    assert snapshot() == before
    assert Participant.objects.get(pk=participant.pk).consent_version == "2.1"


def test_it_refuses_the_csv_import(data_manager, participant):
    before = snapshot()

    result = import_files(files={"platelets": lab_file(participant)}, user=data_manager)

    assert not result.applied
    assert any(LOCKED in issue.message for issue in result.issues)
    assert snapshot() == before


def test_it_refuses_the_lab_upload(client, data_manager, participant):
    client.force_login(data_manager)
    before = snapshot()
    upload = SimpleUploadedFile("lab.csv", lab_file(participant).encode(), "text/csv")

    page = client.post(reverse("exchange:import_platelets"), {"action": "preview", "file": upload})

    assert page.status_code == 200
    assert LOCKED in page.content.decode()
    assert b'data-testid="import-confirm"' not in page.content
    assert snapshot() == before


def test_it_refuses_the_import_command(data_manager, participant, tmp_path):
    (tmp_path / "platelets.csv").write_text(lab_file(participant), encoding="utf-8")
    before = snapshot()

    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_csv", str(tmp_path), "--user", data_manager.username)

    assert snapshot() == before


def test_it_leaves_a_locked_casebook_to_the_checks_but_still_flags_it(
    coordinator, investigator, data_manager
):
    # A serious event reported in time for the signature, overdue by the time of the checks.
    aware = timezone.now() - timedelta(hours=1)
    locked_one = locked(
        casebook(coordinator, serious=True, awareness_at=aware),
        investigator=investigator,
        data_manager=data_manager,
    )
    open_one = casebook(coordinator)
    later = timezone.now() + timedelta(days=800)
    visits_before = list(Visit.objects.filter(participant=locked_one).order_by("pk").values())

    schedule_sync(participant_ids=[locked_one.pk, open_one.pk], today=later.date())
    checks_run(now=later, full=True)

    after = list(Visit.objects.filter(participant=locked_one).order_by("pk").values())
    assert after == visits_before
    final = Visit.objects.get(participant=open_one, code="V5-M12")
    assert final.window_status == WindowStatus.OVERDUE  # the same run moves an open casebook
    # Flags are about the data, not part of them: still raised on a locked casebook.
    assert Flag.objects.filter(
        participant=locked_one, kind=FlagKind.SAE_REPORT_OVERDUE, resolved_at=None
    ).exists()


def test_it_refuses_a_signature_on_a_locked_casebook(investigator, participant):
    with pytest.raises(Exception, match=LOCKED):
        signed(investigator, participant)
    assert Signature.objects.count() == 1


def test_it_refuses_every_write_under_the_database_lock(
    client, coordinator, investigator, data_manager
):
    open_casebook = casebook(coordinator)
    database_lock(user=data_manager)
    before = snapshot()

    result = import_files(files={"platelets": lab_file(open_casebook)}, user=data_manager)
    assert not result.applied
    assert any("database is locked" in issue.message for issue in result.issues)
    with pytest.raises(Exception, match="database is locked"):
        participant_screen(user=coordinator, data=participant_data())
    with pytest.raises(Exception, match="database is locked"):
        signed(investigator, open_casebook)
    visit = Visit.objects.get(participant=open_casebook, code="V2")
    client.force_login(coordinator)
    response = client.post(reverse("visits:edit", args=[visit.pk]), v2_post(visit))
    assert "database is locked" in response.content.decode()

    assert snapshot() == before
    assert not Flag.objects.filter(kind=FlagKind.SIGNATURE_STALE).exists()


def test_it_refuses_a_query_on_a_locked_casebook(monitor, participant):
    """A locked casebook has every form verified at its current version and no write can
    change one, so a verification cannot be asked for; a new query is refused."""
    from django.core.exceptions import ValidationError

    from safety.dataqueries import query_raise
    from safety.models import DataQuery, QueryMessage, QueryTarget

    visit = Visit.objects.get(participant=participant, code="V2")
    before = snapshot()
    counts = DataQuery.objects.count(), QueryMessage.objects.count()

    with pytest.raises(ValidationError, match=LOCKED):
        query_raise(
            user=monitor,
            question="Weight as in the source?",
            kind=QueryTarget.VISIT,
            object_id=visit.pk,
            field_name="weight_kg",
        )

    assert snapshot() == before
    assert (DataQuery.objects.count(), QueryMessage.objects.count()) == counts
