"""Infusion pages: the dose shown before saving, the deviation warning, reactions, reads."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from infusions.models import Infusion
from safety.models import Flag
from tests.factories import enrolled_in_the_past, infused

pytestmark = pytest.mark.django_db

PLANNED = 2_350_000_000  # 23.5 kg at the registry dose


@pytest.fixture
def participant(coordinator):
    return enrolled_in_the_past(coordinator)


def form_data(participant, **overrides):
    values = {
        "infusion_date": participant.planned_first_infusion_date.isoformat(),
        "start_time": "09:00",
        "end_time": "09:40",
        "dosing_weight_kg": "23.5",
        "actual_cells": str(PLANNED),
        "lot_number": "MSC-2026-001",
        "viability_pct": "93.0",
        "volume_ml": "100",
        "pre_systolic_bp": "118",
        "pre_heart_rate": "72",
        "post_systolic_bp": "121",
        "post_heart_rate": "75",
    }
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


def record_url(participant, number=1):
    return reverse("infusions:record", args=[participant.pk, number])


def test_it_shows_the_planned_dose_before_saving(client, coordinator, participant):
    client.force_login(coordinator)

    response = client.post(record_url(participant), form_data(participant))

    assert response.status_code == 200
    assert "2,350,000,000" in response.content.decode()
    assert "Check the planned dose below, then save again." in response.content.decode()
    assert 'name="planned_cells_seen" value="2350000000"' in response.content.decode()
    assert not Infusion.objects.exists()


def test_it_saves_once_the_planned_dose_was_seen(client, coordinator, participant):
    client.force_login(coordinator)

    response = client.post(
        record_url(participant), form_data(participant, planned_cells_seen=str(PLANNED))
    )

    infusion = Infusion.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("infusions:detail", args=[infusion.pk])
    assert (infusion.planned_cells, infusion.dose_deviation) == (PLANNED, False)
    assert infusion.pre_systolic_bp == 118
    assert infusion.history.get().history_user == coordinator


def test_it_warns_of_a_dose_deviation_before_saving(client, coordinator, participant):
    client.force_login(coordinator)
    low = str(PLANNED * 85 // 100)

    response = client.post(
        record_url(participant),
        form_data(participant, actual_cells=low, planned_cells_seen=str(PLANNED)),
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "Dose deviation: -15.00 % from the planned dose" in page
    assert 'name="save_anyway"' in page
    assert not Infusion.objects.exists()

    response = client.post(
        record_url(participant),
        form_data(participant, actual_cells=low, planned_cells_seen=str(PLANNED), save_anyway="on"),
    )

    assert response.status_code == 302
    infusion = Infusion.objects.get()
    assert infusion.dose_deviation is True


def test_it_shows_refusals_from_the_service_on_the_form(client, coordinator, participant):
    client.force_login(coordinator)

    response = client.post(
        record_url(participant),
        form_data(participant, dosing_weight_kg="0", planned_cells_seen=str(PLANNED)),
    )

    assert response.status_code == 200
    assert (
        "The dosing weight cannot be zero: enter the weight measured before the infusion."
        in response.content.decode()
    )
    assert not Infusion.objects.exists()


def test_it_refuses_a_sixth_infusion_page(client, coordinator, participant):
    client.force_login(coordinator)

    response = client.get(record_url(participant, 6))

    assert response.status_code == 404


def test_it_refuses_an_infusion_out_of_order_on_the_form(client, coordinator, participant):
    client.force_login(coordinator)

    response = client.post(
        record_url(participant, 2), form_data(participant, planned_cells_seen=str(PLANNED))
    )

    assert response.status_code == 200
    assert "Infusion 1 has not been recorded: record it before infusion 2." in (
        response.content.decode()
    )
    assert not Infusion.objects.exists()


def test_it_sends_a_reaction_to_the_adverse_event_form(client, coordinator, participant):
    client.force_login(coordinator)

    response = client.post(
        record_url(participant),
        form_data(participant, planned_cells_seen=str(PLANNED), reaction="on", interrupted="on"),
    )

    infusion = Infusion.objects.get()
    expected = reverse("safety:ae_create", args=[participant.pk]) + f"?infusion={infusion.pk}"
    assert response.status_code == 302
    assert response["Location"] == expected

    page = client.get(expected).content.decode()
    assert f'<option value="{infusion.pk}" selected>' in page
    assert 'value="Infusion related reaction"' in page
    assert '<option value="infusion_interrupted" selected>' in page


def test_it_requires_a_reason_to_correct_an_infusion(client, coordinator, participant):
    infused(coordinator, participant, 1, weight=Decimal("23.5"))
    client.force_login(coordinator)

    response = client.post(
        record_url(participant),
        form_data(participant, lot_number="MSC-2026-002", planned_cells_seen=str(PLANNED)),
    )

    assert response.status_code == 200
    assert "A reason for change is required to change a saved record." in response.content.decode()
    assert Infusion.objects.get().lot_number == "LOT-001"

    response = client.post(
        record_url(participant),
        form_data(
            participant,
            lot_number="MSC-2026-002",
            planned_cells_seen=str(PLANNED),
            reason="Lot misread",
        ),
    )

    assert response.status_code == 302
    infusion = Infusion.objects.get()
    assert infusion.lot_number == "MSC-2026-002"
    assert infusion.history.first().history_change_reason == "Lot misread"


def test_the_dose_preview_uses_the_dose_rule(client, coordinator):
    client.force_login(coordinator)
    url = reverse("infusions:dose_preview")

    answer = client.get(url, {"weight": "23.5", "actual": str(PLANNED * 85 // 100)}).json()

    assert answer["planned_cells"] == PLANNED
    assert answer["planned_display"] == "2,350,000,000"
    assert answer["deviation_pct"] == "-15.00"
    assert answer["deviation"] is True
    assert "Dose deviation" in answer["warning"]

    answer = client.get(url, {"weight": "23.5", "actual": str(PLANNED * 110 // 100)}).json()
    assert (answer["deviation_pct"], answer["deviation"]) == ("10.00", False)

    answer = client.get(url, {"weight": "23.5"}).json()
    assert (answer["planned_cells"], answer["deviation"]) == (PLANNED, None)


@pytest.mark.parametrize("weight", ["0", "250", "abc", "NaN"])
def test_the_dose_preview_refuses_a_weight_out_of_range(client, coordinator, weight):
    client.force_login(coordinator)

    response = client.get(reverse("infusions:dose_preview"), {"weight": weight, "actual": "1"})

    assert response.status_code == 400
    assert response.json()["error"]


def test_it_shows_the_infusion_with_its_dose_flags_and_history(client, coordinator, participant):
    infusion = infused(
        coordinator, participant, 1, weight=Decimal("23.5"), actual=PLANNED * 85 // 100
    )
    Flag.objects.create(
        kind="dose_deviation",
        participant=participant,
        infusion=infusion,
        raised_at=timezone.now(),
        detail="-15.00 %",
    )
    client.force_login(coordinator)

    page = client.get(reverse("infusions:detail", args=[infusion.pk])).content.decode()

    assert "2,350,000,000" in page
    assert "1,997,500,000" in page
    assert "-15.00 %" in page
    assert 'data-testid="flag-dose_deviation"' in page
    assert "Dose deviation" in page and "Open" in page
    assert 'data-testid="history"' in page and "Created" in page


def test_the_list_reads_in_constant_queries(
    client, coordinator, participant, django_assert_max_num_queries
):
    client.force_login(coordinator)
    infused(coordinator, participant, 1)
    with django_assert_max_num_queries(12) as few:
        client.get(reverse("infusions:list", args=[participant.pk]))
    for number in range(2, 6):
        infused(coordinator, participant, number)

    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(reverse("infusions:list", args=[participant.pk]))

    assert response.content.decode().count('data-testid="infusions"') == 1
    assert len(response.context["rows"]) == 5


def test_a_monitor_reads_but_cannot_record(client, monitor, coordinator, participant):
    infusion = infused(coordinator, participant, 1)
    client.force_login(monitor)

    assert client.get(reverse("infusions:list", args=[participant.pk])).status_code == 200
    assert client.get(reverse("infusions:detail", args=[infusion.pk])).status_code == 200
    response = client.post(record_url(participant, 2), form_data(participant))

    assert response.status_code == 403
    assert Infusion.objects.count() == 1
