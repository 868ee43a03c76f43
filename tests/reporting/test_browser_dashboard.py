"""The dashboard in Chromium: the chart holds the participant's counts, the timeline the
status of every visit (the investigator's signature is tested in
test_browser_review)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from reporting.selectors import participants_for_pages
from tests.factories import PASSWORD
from visits.models import PlateletCount, WindowStatus
from visits.schedule import study_day
from visits.selectors import participant_schedule

from .dashboard_data import dashboard_participant

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHART_POINTS = """() => {
  const chart = Chart.getChart(document.getElementById("platelet-chart"));
  return chart.data.datasets[0].data.map((p) => [p.x, p.y]);
}"""
CHART_LABELS = """() => Chart.getChart(document.getElementById("platelet-chart"))
  .data.datasets.map((d) => d.label)"""


def open_dashboard(page, live_server, participant, username: str) -> None:
    """Log in through the form, landing on the participant's dashboard."""
    dashboard = reverse("subjects:dashboard", args=[participant.pk])
    page.goto(f"{live_server.url}{reverse('login')}?next={dashboard}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=dashboard-header]")


def test_it_draws_the_participants_counts_and_visit_statuses(page, live_server, investigator):
    participant = dashboard_participant(investigator)
    open_dashboard(page, live_server, participant, "investigator")
    page.wait_for_function(
        '() => window.Chart && Chart.getChart(document.getElementById("platelet-chart"))'
    )

    first = participant.infusions.get(number=1).infusion_date
    rows = PlateletCount.objects.filter(participant=participant).order_by("sample_date")
    expected = [[study_day(r.sample_date, first), r.platelets] for r in rows]
    assert page.evaluate(CHART_POINTS) == expected
    labels = page.evaluate(CHART_LABELS)
    assert labels[0] == "Platelets (10⁹/L)"
    assert "Baseline" in labels and len(labels) == 4  # counts, baseline, R and CR thresholds

    loaded = participants_for_pages(type(participant).objects.filter(pk=participant.pk)).get()
    schedule = participant_schedule(loaded, today=timezone.localdate())
    for visit in schedule:
        row = page.locator(f'[data-testid=timeline] tr[data-visit="{visit.code}"]')
        assert row.get_attribute("data-status") == visit.status
        label = row.locator("[data-testid=visit-status]")
        assert label.is_visible()
        assert label.inner_text() == str(WindowStatus(visit.status).label)
