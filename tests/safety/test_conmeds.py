"""conmed_record: concomitant medication, its dates, corrections; and its pages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from safety.models import ConcomitantMedication
from safety.services import conmed_record
from tests.factories import enrolled

pytestmark = pytest.mark.django_db


@pytest.fixture
def today():
    return timezone.localdate()


@pytest.fixture
def participant(coordinator, today):
    return enrolled(coordinator, consent_date=today - timedelta(days=60), today=today)


def ivig(start, **overrides):
    values = {
        "drug": "IVIg",
        "indication": "Bleeding with platelets below 10",
        "dose": "1 g/kg/day",
        "start_date": start,
        "end_date": start + timedelta(days=1),
        "rescue": True,
    }
    values.update(overrides)
    return values


def nothing_written(count: int = 0) -> None:
    assert ConcomitantMedication.objects.count() == count
    assert ConcomitantMedication.history.count() == count


def test_it_records_a_rescue_medication(coordinator, participant, today):
    start = today - timedelta(days=10)
    saved = conmed_record(participant=participant, user=coordinator, data=ivig(start))

    stored = ConcomitantMedication.objects.get(pk=saved.pk)
    assert (stored.drug, stored.start_date, stored.rescue) == ("IVIg", start, True)
    assert stored.history.get().history_user == coordinator


def test_it_refuses_an_end_before_the_start(coordinator, participant, today):
    start = today - timedelta(days=10)
    with pytest.raises(ValidationError) as excinfo:
        conmed_record(
            participant=participant,
            user=coordinator,
            data=ivig(start, end_date=start - timedelta(days=1)),
        )

    assert excinfo.value.message_dict["end_date"] == [
        "The end date cannot be before the start date."
    ]
    nothing_written()


def test_it_refuses_a_future_start(coordinator, participant, today):
    with pytest.raises(ValidationError) as excinfo:
        conmed_record(
            participant=participant,
            user=coordinator,
            data=ivig(today + timedelta(days=1), end_date=None),
        )

    assert excinfo.value.message_dict["start_date"] == ["The date cannot be in the future."]
    nothing_written()


def test_it_refuses_the_same_drug_starting_the_same_day_twice(coordinator, participant, today):
    start = today - timedelta(days=10)
    conmed_record(participant=participant, user=coordinator, data=ivig(start))

    with pytest.raises(ValidationError) as excinfo:
        conmed_record(participant=participant, user=coordinator, data=ivig(start))

    assert excinfo.value.messages == [
        f"IVIg starting on {start.isoformat()} is already recorded for this participant."
    ]
    nothing_written(count=1)


def test_it_corrects_a_medication_with_a_reason(coordinator, participant, today):
    start = today - timedelta(days=10)
    saved = conmed_record(
        participant=participant, user=coordinator, data=ivig(start, end_date=None)
    )
    # Filling the end date left empty needs no reason (protocol section 8).
    conmed_record(participant=participant, user=coordinator, data={"end_date": today}, conmed=saved)
    assert ConcomitantMedication.objects.get().end_date == today

    with pytest.raises(ValidationError) as excinfo:
        conmed_record(
            participant=participant,
            user=coordinator,
            data={"end_date": today - timedelta(days=1)},
            conmed=saved,
        )
    assert excinfo.value.message_dict["reason"] == [
        "A reason for change is required to change a saved record.",
        f"Stored values this overwrites: end date {today} → {today - timedelta(days=1)}.",
    ]
    assert ConcomitantMedication.objects.get().end_date == today

    conmed_record(
        participant=participant,
        user=coordinator,
        data={"end_date": today - timedelta(days=1)},
        conmed=saved,
        reason="Stopped yesterday",
    )

    stored = ConcomitantMedication.objects.get()
    assert stored.end_date == today - timedelta(days=1)
    assert stored.history.first().history_change_reason == "Stopped yesterday"


def test_it_refuses_another_participants_medication(coordinator, participant, today):
    other = enrolled(coordinator, consent_date=today - timedelta(days=60), today=today)
    saved = conmed_record(participant=other, user=coordinator, data=ivig(today - timedelta(days=5)))

    with pytest.raises(ValidationError) as excinfo:
        conmed_record(
            participant=participant,
            user=coordinator,
            data={"drug": "Prednisone"},
            conmed=saved,
            reason="Typo",
        )

    assert excinfo.value.messages == ["This medication is not one of this participant's."]
    assert ConcomitantMedication.objects.get().drug == "IVIg"


def test_it_adds_a_medication_from_its_page(client, coordinator, participant, today):
    client.force_login(coordinator)
    start = today - timedelta(days=3)

    response = client.post(
        reverse("safety:conmed_create", args=[participant.pk]),
        {
            "drug": "Prednisone",
            "indication": "Maintenance",
            "dose": "10 mg/day",
            "start_date": start.isoformat(),
        },
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("safety:conmed_list", args=[participant.pk])
    stored = ConcomitantMedication.objects.get()
    assert (stored.drug, stored.end_date, stored.rescue) == ("Prednisone", None, False)
    page = client.get(response["Location"]).content.decode()
    assert "Prednisone" in page and "10 mg/day" in page


def test_its_page_refuses_an_end_before_the_start(client, coordinator, participant, today):
    client.force_login(coordinator)

    response = client.post(
        reverse("safety:conmed_create", args=[participant.pk]),
        {
            "drug": "IVIg",
            "indication": "Bleeding",
            "start_date": (today - timedelta(days=3)).isoformat(),
            "end_date": (today - timedelta(days=4)).isoformat(),
            "rescue": "on",
        },
    )

    assert response.status_code == 200
    assert "The end date cannot be before the start date." in response.content.decode()
    nothing_written()


def test_its_edit_page_requires_a_reason(client, coordinator, participant, today):
    saved = conmed_record(
        participant=participant, user=coordinator, data=ivig(today - timedelta(days=5))
    )
    client.force_login(coordinator)
    url = reverse("safety:conmed_edit", args=[saved.pk])
    posted = {
        "drug": "IVIg",
        "indication": "Bleeding with platelets below 10",
        "dose": "2 g/kg",
        "start_date": saved.start_date.isoformat(),
        "end_date": saved.end_date.isoformat(),
        "rescue": "on",
    }

    response = client.post(url, posted)
    assert response.status_code == 200
    assert ConcomitantMedication.objects.get().dose == "1 g/kg/day"

    response = client.post(url, {**posted, "reason": "Dose from the chart"})
    assert response.status_code == 302
    assert ConcomitantMedication.objects.get().dose == "2 g/kg"
    page = client.get(url).content.decode()
    assert "Dose from the chart" in page


def test_a_monitor_reads_but_cannot_add(client, monitor, participant, today):
    client.force_login(monitor)

    assert client.get(reverse("safety:conmed_list", args=[participant.pk])).status_code == 200
    response = client.post(
        reverse("safety:conmed_create", args=[participant.pk]),
        {"drug": "IVIg", "indication": "x", "start_date": today.isoformat()},
    )

    assert response.status_code == 403
    nothing_written()
