"""The Content-Security-Policy in Chromium: the chart and the dose preview work under it,
and no page breaks a directive."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from tests.factories import PASSWORD, enrolled
from tests.reporting.dashboard_data import dashboard_participant

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def roles(transactional_db) -> None:
    # A transactional test's flush empties the groups that migrate created; put them back.
    from django.contrib.auth.models import Group, Permission

    from itp_trial.roles import permissions_create_all, roles_sync

    permissions_create_all()
    roles_sync(group_model=Group, permission_model=Permission)


@pytest.fixture
def violations(page) -> list[str]:
    """Every CSP violation Chromium reports on the console, as the pages are visited."""
    found: list[str] = []
    page.on(
        "console",
        lambda message: found.append(f"{page.url}: {message.text} {message.location}")
        if "Content Security Policy" in message.text
        else None,
    )
    return found


def test_the_chart_and_the_dose_preview_work_under_the_policy(
    page, live_server, coordinator, investigator, violations
):
    participant = dashboard_participant(investigator)
    today = timezone.localdate()
    new = enrolled(coordinator, planned=today - timedelta(days=10), today=today)

    response = page.goto(f"{live_server.url}{reverse('login')}")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.fill("input[name=username]", "coordinator")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=nav]")

    # The dashboard's chart (Chart.js, a static file) is drawn with its points.
    page.goto(f"{live_server.url}{reverse('subjects:dashboard', args=[participant.pk])}")
    page.wait_for_function(
        '() => window.Chart && Chart.getChart(document.getElementById("platelet-chart"))'
    )
    points = page.evaluate(
        '() => Chart.getChart(document.getElementById("platelet-chart")).data.datasets[0]'
        ".data.length"
    )
    assert points == participant.platelet_counts.count() > 0

    # The dose preview (static/js/dose_preview.js) asks the server and shows the dose.
    page.goto(f"{live_server.url}{reverse('infusions:record', args=[new.pk, 1])}")
    page.fill("input[name=dosing_weight_kg]", "23.5")
    page.fill("input[name=actual_cells]", "2350000000")
    expect(page.get_by_test_id("dose-preview").get_by_test_id("planned-cells")).to_have_text(
        "2,350,000,000"
    )

    for name in ("subjects:list", "subjects:overview", "visits:worklist"):
        page.goto(f"{live_server.url}{reverse(name)}")
        page.wait_for_load_state("load")

    assert violations == []
