"""Two coordinators in two browsers open one visit: the second save, on the page loaded
before the first, is refused with what changed, and the first is kept."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from tests.factories import PASSWORD, enrolled, user_with_role
from tests.itp_trial.test_stale_forms import visit_post
from visits.forms import VisitForm
from visits.models import Visit
from visits.services import visit_record

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def roles(transactional_db) -> None:
    # A transactional test's flush empties the groups that migrate created; put them back.
    from django.contrib.auth.models import Group, Permission

    from itp_trial.roles import permissions_create_all, roles_sync

    permissions_create_all()
    roles_sync(group_model=Group, permission_model=Permission)


def open_visit(browser, live_server, username: str, url: str):
    page = browser.new_context().new_page()
    page.goto(f"{live_server.url}{reverse('login')}?next={url}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("input[name=weight_kg]")
    return page


def test_the_second_of_two_sessions_is_refused_and_the_first_kept(
    browser, live_server, coordinator
):
    from itp_trial.roles import COORDINATOR

    today = timezone.localdate()
    participant = enrolled(coordinator, planned=today + timedelta(days=7))
    visit = Visit.objects.get(participant=participant, code="V2")
    # Saved once through the form's own cleaning, as the page would.
    form = VisitForm(visit_post(today), visit=visit, editing=False, initial={}, count=None)
    assert form.is_valid(), form.errors
    visit_record(visit=visit, user=coordinator, data=form.visit_data())
    user_with_role(COORDINATOR, username="coordinator2")
    url = reverse("visits:edit", args=[visit.pk])
    first = open_visit(browser, live_server, coordinator.username, url)
    second = open_visit(browser, live_server, "coordinator2", url)

    first.fill("input[name=weight_kg]", "70.0")
    first.fill("[name=reason]", "Weighed again")
    first.get_by_role("button", name="Save").click()
    first.wait_for_url(lambda u: not u.endswith(url))

    second.fill("input[name=temperature_c]", "37.9")
    second.fill("[name=reason]", "Thermometer fixed")
    second.get_by_role("button", name="Save").click()

    expect(second.locator("body")).to_contain_text("changed by someone else after you opened it")
    expect(second.locator("body")).to_contain_text("62.7 → 70.0")
    visit.refresh_from_db()
    assert (visit.weight_kg, visit.temperature_c) == (Decimal("70.0"), Decimal("36.8"))
    assert visit.history.first().history_change_reason == "Weighed again"
