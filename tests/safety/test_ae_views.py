"""Adverse-event pages: the form, corrections with a reason, the SAE clock, reads."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from safety.models import AdverseEvent
from safety.services import adverse_event_record
from tests.factories import enrolled_in_the_past, infused

pytestmark = pytest.mark.django_db


@pytest.fixture
def participant(coordinator):
    return enrolled_in_the_past(coordinator)


def local(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")  # ISO date, 24 h


def posted(onset, **overrides):
    values = {
        "term": "Fever",
        "onset_date": onset.isoformat(),
        "end_date": (onset + timedelta(days=1)).isoformat(),
        "ctcae_grade": "1",
        "relationship": "possible",
        "action_taken": "none",
        "outcome": "recovered",
        "awareness_at": local(timezone.make_aware(datetime.combine(onset, time(12)))),
    }
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


def serious(participant, user, *, awareness_at, reported_at=None):
    onset = timezone.localdate(awareness_at)
    return adverse_event_record(
        participant=participant,
        user=user,
        data={
            "term": "Pneumonia",
            "onset_date": onset,
            "ongoing": True,
            "ctcae_grade": 3,
            "serious": True,
            "serious_criteria": ["hospitalisation"],
            "relationship": "unlikely",
            "action_taken": "none",
            "outcome": "recovering",
            "awareness_at": awareness_at,
            "reported_at": reported_at,
        },
    )


def test_it_records_an_event_from_the_form(client, coordinator, participant):
    client.force_login(coordinator)
    onset = participant.planned_first_infusion_date + timedelta(days=2)

    response = client.post(
        reverse("safety:ae_create", args=[participant.pk]),
        posted(
            onset,
            serious="on",
            serious_criteria=["important_medical_event"],
            ctcae_grade="3",
            end_date=None,
            ongoing="on",
            outcome="not_recovered",
        ),
    )

    event = AdverseEvent.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("safety:ae_detail", args=[event.pk])
    assert (event.ae_number, event.ctcae_grade, event.serious) == (1, 3, True)
    assert event.serious_criteria == "important_medical_event"
    assert event.ongoing is True


def test_it_links_the_event_to_the_reaction_infusion(client, coordinator, participant):
    infusion = infused(coordinator, participant, 1, reaction=True, interrupted=True)
    client.force_login(coordinator)
    url = reverse("safety:ae_create", args=[participant.pk]) + f"?infusion={infusion.pk}"

    response = client.post(
        url,
        posted(
            infusion.infusion_date,
            term="Infusion related reaction",
            related_infusion=str(infusion.pk),
            action_taken="infusion_interrupted",
        ),
    )

    assert response.status_code == 302
    event = AdverseEvent.objects.get()
    assert event.related_infusion == infusion
    detail = client.get(reverse("infusions:detail", args=[infusion.pk])).content.decode()
    assert "Infusion related reaction" in detail
    assert 'data-testid="reaction-without-ae"' not in detail


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"end_date": "2000-01-01"}, "The end date cannot be before the onset date."),
        (
            {"ctcae_grade": "5", "serious": "on", "serious_criteria": ["death"]},
            "A grade 5 event led to death: its outcome must be Fatal.",
        ),
        (
            {"outcome": "fatal"},
            "A fatal outcome is CTCAE grade 5: set the grade to 5 or change the outcome.",
        ),
    ],
    ids=["end-before-onset", "grade-5-not-fatal", "fatal-not-grade-5"],
)
def test_the_form_shows_the_consistency_rules(client, coordinator, participant, overrides, message):
    client.force_login(coordinator)
    onset = participant.planned_first_infusion_date + timedelta(days=2)

    response = client.post(
        reverse("safety:ae_create", args=[participant.pk]), posted(onset, **overrides)
    )

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not AdverseEvent.objects.exists()


def test_the_form_refuses_an_onset_before_consent(client, coordinator, participant):
    client.force_login(coordinator)
    onset = participant.consent_date - timedelta(days=3)

    response = client.post(reverse("safety:ae_create", args=[participant.pk]), posted(onset))

    assert response.status_code == 200
    assert "belongs in the medical history" in response.content.decode()
    assert not AdverseEvent.objects.exists()


def test_its_edit_page_requires_a_reason(client, coordinator, participant):
    onset = participant.planned_first_infusion_date + timedelta(days=2)
    client.force_login(coordinator)
    client.post(reverse("safety:ae_create", args=[participant.pk]), posted(onset))
    event = AdverseEvent.objects.get()
    url = reverse("safety:ae_edit", args=[event.pk])

    response = client.post(url, posted(onset, ctcae_grade="2"))
    assert response.status_code == 200
    assert AdverseEvent.objects.get().ctcae_grade == 1

    response = client.post(url, posted(onset, ctcae_grade="2", reason="Regraded"))
    assert response.status_code == 302
    assert AdverseEvent.objects.get().ctcae_grade == 2
    page = client.get(reverse("safety:ae_detail", args=[event.pk])).content.decode()
    assert "Regraded" in page


def test_the_edit_form_shows_the_stored_values(client, coordinator, participant):
    now = timezone.now()
    event = serious(participant, coordinator, awareness_at=now - timedelta(hours=2))
    client.force_login(coordinator)

    page = client.get(reverse("safety:ae_edit", args=[event.pk])).content.decode()

    assert re.search(r'value="hospitalisation"\s+id="[\w]+"\s+checked', page)
    assert not re.search(r'value="death"\s+id="[\w]+"\s+checked', page)
    assert local(event.awareness_at) in page


def test_it_shows_the_time_left_to_report_a_serious_event(client, coordinator, participant):
    event = serious(participant, coordinator, awareness_at=timezone.now() - timedelta(hours=2))
    client.force_login(coordinator)

    page = client.get(reverse("safety:ae_detail", args=[event.pk])).content.decode()

    assert 'data-state="due"' in page
    assert "SAE report due in 21 h 59 min" in page or "SAE report due in 22 h 0 min" in page


def test_it_shows_the_time_overdue_until_the_report_is_entered(client, coordinator, participant):
    aware = timezone.now() - timedelta(hours=30, minutes=1)
    event = serious(participant, coordinator, awareness_at=aware)
    client.force_login(coordinator)

    page = client.get(reverse("safety:ae_detail", args=[event.pk])).content.decode()
    assert 'data-state="overdue"' in page
    assert "SAE report overdue by 6 h" in page

    adverse_event_record(
        participant=participant,
        user=coordinator,
        data={"reported_at": aware + timedelta(hours=26)},
        ae_number=event.ae_number,
        reason="Report sent",
    )
    page = client.get(reverse("safety:ae_detail", args=[event.pk])).content.decode()
    assert "Reported after the 24-hour deadline" in page
    assert "overdue" not in page.split('data-testid="sae-report"')[1].split("</div>")[0]


def test_it_derives_treatment_emergence(client, coordinator, participant):
    first = infused(coordinator, participant, 1)
    before = adverse_event_record(
        participant=participant,
        user=coordinator,
        data={
            "term": "Headache",
            "onset_date": first.infusion_date - timedelta(days=1),
            "end_date": first.infusion_date - timedelta(days=1),
            "ctcae_grade": 1,
            "relationship": "not_related",
            "outcome": "recovered",
            "awareness_at": timezone.make_aware(
                datetime.combine(first.infusion_date - timedelta(days=1), time(9))
            ),
        },
    )
    client.force_login(coordinator)

    rows = client.get(reverse("safety:ae_list", args=[participant.pk])).context["rows"]

    assert [(r["event"].pk, r["emergent"]) for r in rows] == [(before.pk, False)]


def test_the_list_reads_in_constant_queries(
    client, coordinator, participant, django_assert_max_num_queries
):
    client.force_login(coordinator)
    now = timezone.now()
    serious(participant, coordinator, awareness_at=now - timedelta(hours=1))
    with django_assert_max_num_queries(12) as few:
        client.get(reverse("safety:ae_list", args=[participant.pk]))
    for hours in range(2, 8):
        serious(participant, coordinator, awareness_at=now - timedelta(hours=hours))

    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(reverse("safety:ae_list", args=[participant.pk]))

    assert len(response.context["rows"]) == 7


def test_a_monitor_reads_but_cannot_record(client, monitor, coordinator, participant):
    event = serious(participant, coordinator, awareness_at=timezone.now() - timedelta(hours=1))
    client.force_login(monitor)

    assert client.get(reverse("safety:ae_detail", args=[event.pk])).status_code == 200
    assert client.get(reverse("safety:ae_list", args=[participant.pk])).status_code == 200
    onset = participant.planned_first_infusion_date + timedelta(days=2)
    response = client.post(reverse("safety:ae_create", args=[participant.pk]), posted(onset))
    assert response.status_code == 403
    assert client.post(reverse("safety:ae_edit", args=[event.pk]), {}).status_code == 403
    assert AdverseEvent.objects.count() == 1
