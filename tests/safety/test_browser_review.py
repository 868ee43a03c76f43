"""The review in Chromium: the monitor reads a visit and raises a query on its weight, the
coordinator corrects the weight from the query and answers, the monitor closes the query
and verifies the form."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from safety.models import DataQuery, Verification
from tests.factories import PASSWORD
from tests.safety.review_records import trial_records
from visits.models import Visit

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def roles(transactional_db) -> None:
    from django.contrib.auth.models import Group, Permission

    from itp_trial.roles import permissions_create_all, roles_sync

    permissions_create_all()
    roles_sync(group_model=Group, permission_model=Permission)


def log_in(page, live_server, username: str, next_url: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{live_server.url}{reverse('login')}?next={next_url}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():  # the form's response, not the page before it
        page.click("form:has(input[name=username]) button[type=submit]")


def test_a_query_on_a_visit_weight_from_raising_to_verification(
    page, live_server, coordinator, monitor
):
    records = trial_records(coordinator)
    visit = records["visit"]
    page.on("dialog", lambda dialog: dialog.accept())

    # The monitor opens the visit's edit address and lands on its read view.
    log_in(page, live_server, monitor.username, reverse("visits:edit", args=[visit.pk]))
    expect(page.get_by_test_id("fields")).to_be_visible()
    expect(page.locator("tr[data-field=weight_kg]")).to_contain_text("61.0")
    expect(page.get_by_test_id("edit")).to_have_count(0)
    page.get_by_test_id("raise-weight_kg").click()
    expect(page.get_by_test_id("queried-value")).to_contain_text("61.0")
    page.fill("textarea[name=question]", "The source note says 62.0 kg.")
    page.get_by_role("button", name="Raise the query").click()
    expect(
        page.locator("tr[data-field=weight_kg]").get_by_test_id("field-query-marker")
    ).to_be_visible()
    expect(page.get_by_test_id("nav-open-queries")).to_have_text("1")
    query = DataQuery.objects.get()

    # The coordinator corrects the weight from the query, comes back to it, and answers.
    log_in(page, live_server, coordinator.username, reverse("visits:worklist"))
    expect(page.get_by_test_id("worklist-open-queries")).to_have_text("1")
    page.goto(f"{live_server.url}{reverse('safety:query_detail', args=[query.pk])}")
    page.get_by_test_id("correct").click()
    page.fill("input[name=weight_kg]", "62.0")
    page.fill("[name=reason]", "Transcription error")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("conversation")).to_be_visible()
    expect(page.get_by_test_id("field-value")).to_have_text("62.0")
    page.fill("textarea[name=answer]", "Corrected to 62.0 kg from the source note.")
    page.get_by_role("button", name="Record the answer").click()
    expect(page.get_by_test_id("conversation").locator("[data-kind=answer]")).to_be_visible()

    # The monitor closes the query in one step and verifies the form.
    log_in(page, live_server, monitor.username, reverse("safety:query_detail", args=[query.pk]))
    expect(page.get_by_test_id("corrected")).to_be_visible()
    page.get_by_role("button", name="Close: data corrected").click()
    expect(page.locator("h1 ~ [data-state=closed]")).to_be_visible()
    page.goto(f"{live_server.url}{reverse('safety:record', args=['visit', visit.pk])}")
    expect(page.get_by_test_id("field-query-marker")).to_have_count(0)
    page.get_by_test_id("verify").click()
    expect(page.get_by_test_id("sdv").locator("[data-sdv=verified]")).to_be_visible()

    query.refresh_from_db()
    visit = Visit.objects.get(pk=visit.pk)
    assert query.state == "closed" and visit.weight_kg == Decimal("62.0")
    verification = Verification.objects.get(target_kind="visit", object_id=visit.pk)
    assert verification.verified_version == visit.version
