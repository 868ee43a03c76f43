from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError

from itp_trial.audit import ClinicalRecordDeletionError
from subjects.models import Participant
from subjects.services import participant_update
from tests.factories import platelet_counted, screened


@pytest.mark.django_db
def test_it_refuses_an_edit_without_a_reason_and_changes_nothing(coordinator):
    participant = screened(coordinator)
    history_before = participant.history.count()

    with pytest.raises(ValidationError) as refused:
        participant_update(
            participant=participant, user=coordinator, data={"consent_version": "3.0"}, reason=""
        )

    assert "reason" in refused.value.message_dict
    participant = Participant.objects.get(pk=participant.pk)
    assert participant.consent_version == "2.1"
    assert participant.history.count() == history_before


@pytest.mark.django_db
def test_it_records_an_edit_with_its_user_and_reason(coordinator, investigator):
    participant = screened(coordinator)

    participant_update(
        participant=participant,
        user=investigator,
        data={"consent_version": "3.0"},
        reason="Transcription error: form version is 3.0",
    )

    latest = participant.history.latest()
    assert latest.consent_version == "3.0"
    assert latest.history_user == investigator
    assert latest.history_change_reason == "Transcription error: form version is 3.0"
    assert latest.history_type == "~"
    assert latest.prev_record.consent_version == "2.1"


@pytest.mark.django_db
def test_it_records_who_created_a_record_without_asking_a_reason(coordinator):
    participant = screened(coordinator)
    created = participant.history.earliest()
    assert created.history_type == "+"
    assert created.history_user == coordinator


@pytest.mark.django_db
def test_it_never_hard_deletes_a_clinical_record(coordinator):
    participant = screened(coordinator)
    with pytest.raises(ClinicalRecordDeletionError):
        participant.delete()
    with pytest.raises(ClinicalRecordDeletionError):
        Participant.objects.filter(pk=participant.pk).delete()
    with pytest.raises(ClinicalRecordDeletionError):
        participant.visits.all().delete()
    assert Participant.objects.filter(pk=participant.pk).exists()
    assert participant.visits.count() == 15


@pytest.mark.django_db
def test_it_keeps_the_admin_read_only_for_clinical_records(admin_client, coordinator):
    participant = screened(coordinator)
    change_url = f"/admin/subjects/participant/{participant.pk}/change/"
    delete_url = f"/admin/subjects/participant/{participant.pk}/delete/"

    assert admin_client.get("/admin/subjects/participant/add/").status_code == 403
    response = admin_client.post(change_url, {"consent_version": "9.9"})
    assert response.status_code == 403
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    participant.refresh_from_db()
    assert participant.consent_version == "2.1"
    # An administrator holds no clinical permission without a role: not even to read.
    history_url = f"/admin/subjects/participant/{participant.pk}/history/"
    assert admin_client.get(history_url).status_code == 403


@pytest.mark.django_db
def test_it_refuses_the_history_form_post_even_to_a_superuser_with_a_role(
    admin_client, admin_user, coordinator
):
    from django.contrib.auth.models import Group

    from itp_trial.roles import MONITOR
    from visits.models import PlateletCount

    admin_user.groups.add(Group.objects.get(name=MONITOR))
    participant, count = platelet_counted(coordinator)
    record = count.history.latest()
    url = f"/admin/visits/plateletcount/{count.pk}/history/{record.history_id}/"
    history_before = count.history.count()

    assert admin_client.get(url).status_code == 200
    response = admin_client.post(url, {"platelets": "7", "sample_date": "2026-01-01"})

    assert response.status_code == 403
    stored = PlateletCount.objects.get(pk=count.pk)
    assert stored.platelets == 180
    assert count.history.count() == history_before


@pytest.mark.django_db
def test_it_does_not_write_history_when_nothing_changed(coordinator):
    participant = screened(coordinator)
    before = participant.history.count()
    changed = participant_update(
        participant=participant,
        user=coordinator,
        data={"consent_version": "2.1", "birth_date": participant.birth_date},
        reason="",
    )
    assert changed is False
    assert participant.history.count() == before


@pytest.mark.django_db
def test_it_refuses_an_age_outside_the_trial_and_writes_nothing(coordinator):
    from subjects.services import participant_screen
    from tests.factories import participant_data

    data = participant_data(birth_date=date(2024, 1, 1))
    with pytest.raises(ValidationError) as refused:
        participant_screen(user=coordinator, data=data)
    assert "birth_date" in refused.value.message_dict
    assert Participant.objects.count() == 0


@pytest.mark.django_db
def test_it_refuses_a_height_out_of_range_at_screening(coordinator):
    from decimal import Decimal

    from subjects.services import participant_screen
    from tests.factories import participant_data

    with pytest.raises(ValidationError) as refused:
        participant_screen(user=coordinator, data=participant_data(height_cm=Decimal("400.0")))
    assert "height_cm" in refused.value.message_dict
    assert Participant.objects.count() == 0


@pytest.mark.django_db
def test_it_shows_a_records_history_with_iso_dates_and_the_reason(client, coordinator):
    from django.urls import reverse

    participant = screened(coordinator)
    old_consent = participant.consent_date
    participant_update(
        participant=participant,
        user=coordinator,
        data={"consent_date": old_consent - timedelta(days=1)},
        reason="Date copied from the signed form",
    )
    client.force_login(coordinator)
    page = client.get(reverse("subjects:detail", args=[participant.pk])).content.decode()
    assert "Date copied from the signed form" in page
    assert f"{old_consent.isoformat()} → " in page
