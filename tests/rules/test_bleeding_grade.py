"""One WHO-grade rule: the visit page, the unscheduled result and the CSV import agree.

The rule lives in the visit services (protocol.WHO_GRADE_REQUIRED_SCHEDULED / _UNSCHEDULED):
required with a count at a scheduled visit, optional with an unscheduled result. Changing the
protocol value changes every path at once.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from exchange.importer import import_files
from itp_trial import protocol
from tests.exchange.study import csv_text
from tests.factories import enrolled
from tests.visits.test_views import baseline_post
from visits.models import PlateletCount, Visit

pytestmark = pytest.mark.django_db

HEADER = ["subject_id", "sample_date", "platelets_10e9_l", "who_bleeding_grade", "visit_code"]
MESSAGE = "Give the WHO bleeding grade with the platelet count."


def today() -> date:
    return timezone.localdate()


@pytest.fixture
def participant(coordinator):
    """Enrolled with infusion 1 planned in a week: V2's window opens today."""
    return enrolled(coordinator, planned=today() + timedelta(days=7))


def visit_page_accepts(client, participant) -> bool:
    visit = Visit.objects.get(participant=participant, code="V2")
    data = baseline_post(today(), who_bleeding_grade="")
    response = client.post(reverse("visits:edit", args=[visit.pk]), data)
    if response.status_code == 302:
        return True
    assert response.context["form"].errors["who_bleeding_grade"] == [MESSAGE]
    return False


def unscheduled_page_accepts(client, participant, day: date) -> bool:
    response = client.post(
        reverse("visits:platelet_unscheduled", args=[participant.pk]),
        {"sample_date": day.isoformat(), "platelets": "9", "who_bleeding_grade": ""},
    )
    if response.status_code == 302:
        return True
    assert response.context["form"].errors["who_bleeding_grade"] == [MESSAGE]
    return False


def import_accepts(user, participant, day: date, code: str) -> bool:
    text = csv_text(HEADER, [participant.subject_id, day.isoformat(), "20", "", code])
    result = import_files(files={"platelets": text}, user=user)
    if result.applied:
        return True
    assert [(i.column, i.message) for i in result.issues] == [("who_bleeding_grade", MESSAGE)]
    return False


def stored(participant) -> set[tuple[date, str]]:
    return {
        (c.sample_date, c.visit.code if c.visit else protocol.UNSCHEDULED_VISIT_CODE)
        for c in PlateletCount.objects.filter(participant=participant).select_related("visit")
    }


def test_the_protocol_default_requires_the_grade_at_scheduled_visits_only(
    client, coordinator, data_manager, participant
):
    client.force_login(coordinator)
    yesterday = today() - timedelta(days=1)
    uns = protocol.UNSCHEDULED_VISIT_CODE

    assert not visit_page_accepts(client, participant)
    assert not import_accepts(data_manager, participant, today(), "V2")
    assert stored(participant) == set()

    assert unscheduled_page_accepts(client, participant, yesterday)
    assert import_accepts(data_manager, participant, today(), uns)
    assert stored(participant) == {(yesterday, uns), (today(), uns)}


def test_changing_the_requirement_changes_every_path(
    client, coordinator, data_manager, participant, monkeypatch
):
    monkeypatch.setattr(protocol, "WHO_GRADE_REQUIRED_SCHEDULED", False)
    monkeypatch.setattr(protocol, "WHO_GRADE_REQUIRED_UNSCHEDULED", True)
    client.force_login(coordinator)
    yesterday = today() - timedelta(days=1)
    uns = protocol.UNSCHEDULED_VISIT_CODE

    assert not unscheduled_page_accepts(client, participant, yesterday)
    assert not import_accepts(data_manager, participant, yesterday, uns)
    assert stored(participant) == set()

    assert visit_page_accepts(client, participant)
    assert stored(participant) == {(today(), "V2")}
    assert PlateletCount.objects.get(participant=participant).who_bleeding_grade is None
    other = enrolled(coordinator, planned=today() + timedelta(days=7))
    assert import_accepts(data_manager, other, today(), "V2")
    assert stored(other) == {(today(), "V2")}
