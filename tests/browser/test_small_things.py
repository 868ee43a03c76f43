"""Point 8 of issue 16: a styled 403 page, the admin link for administrators, breadcrumbs
that name the page's own section, a platelet chart without a day 0 and with room for the
last infusion's label, a quiet demo seed, and exports that say `N` for an adult's guardian
consent and give flag times to the second."""

from __future__ import annotations

import csv
import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse

from exchange.export import FileStats, dataset_bytes
from tests.factories import PASSWORD, screened
from tests.reporting.dashboard_data import dashboard_participant

from .conftest import log_in
from .triage_data import morning

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def rows_of(name: str) -> list[dict[str, str]]:
    content = b"".join(dataset_bytes(name, stats=FileStats(name))).decode()
    return list(csv.DictReader(io.StringIO(content, newline="")))


def test_a_refused_page_is_the_sites_page_and_admins_see_the_admin(page, live_server, monitor):
    log_in(page, live_server, "monitor", reverse("subjects:list"))
    response = page.goto(live_server.url + reverse("visits:worklist"))
    assert response.status == 403
    assert page.locator("[data-testid=forbidden]").is_visible()
    assert page.locator("[data-testid=nav]").is_visible()  # the site's layout, not bare text
    assert page.locator("[data-testid=nav] a", has_text="Administration").count() == 0

    get_user_model().objects.create_superuser("root", "root@example.org", PASSWORD)
    page.context.clear_cookies()
    log_in(page, live_server, "root", reverse("home"))
    page.locator("[data-testid=nav] a", has_text="Administration").click()
    assert page.url.endswith(reverse("admin:index"))


def test_the_breadcrumbs_name_the_pages_own_section(page, live_server, coordinator):
    participant = screened(coordinator)
    log_in(page, live_server, "coordinator", reverse("safety:conmed_create", args=[participant.pk]))
    crumbs = page.locator(".breadcrumb li").all_inner_texts()
    assert crumbs == [
        "Participants",
        participant.subject_id,
        "Concomitant medication",
        "New medication",
    ]
    page.goto(live_server.url + reverse("safety:ae_create", args=[participant.pk]))
    crumbs = page.locator(".breadcrumb li").all_inner_texts()
    assert crumbs[:3] == ["Participants", participant.subject_id, "Adverse events"]
    assert "Concomitant medication" not in crumbs
    page.goto(live_server.url + reverse("safety:conmed_list", args=[participant.pk]))
    crumbs = page.locator(".breadcrumb li").all_inner_texts()
    assert crumbs == ["Participants", participant.subject_id, "Concomitant medication"]


def test_the_chart_has_no_day_0_and_room_for_the_last_label(page, live_server, investigator):
    participant = dashboard_participant(investigator)
    log_in(page, live_server, "investigator", reverse("subjects:dashboard", args=[participant.pk]))
    page.wait_for_function(
        '() => window.Chart && Chart.getChart(document.getElementById("platelet-chart"))'
    )
    scale = page.evaluate(
        """() => {
          const chart = Chart.getChart(document.getElementById("platelet-chart"));
          const data = JSON.parse(document.getElementById("platelet-chart-data").textContent);
          const x = chart.scales.x;
          const last = Math.max(...data.infusions.map((i) => i.x));
          const ctx = chart.ctx;
          ctx.font = "12px system-ui, sans-serif";
          const half = ctx.measureText("INF5").width / 2;
          return {ticks: x.ticks.map((t) => t.value), max: x.max,
                  room: chart.chartArea.right - x.getPixelForValue(last), half};
        }"""
    )
    assert 0 not in scale["ticks"]
    assert scale["ticks"], scale
    assert scale["room"] > 0  # the last infusion's line is inside the plot, not on its edge


def test_the_demo_seed_is_quiet(db, capsys, caplog):
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    text = out.getvalue() + capsys.readouterr().out
    assert "Subject:" not in text and "Content-Type" not in text  # no whole e-mail
    assert "No hostname was supplied" not in text + caplog.text
    assert "Demo users" in text


def test_exports_say_n_for_an_adult_and_give_flag_times_to_the_second(coordinator):
    adult = screened(coordinator)
    morning(coordinator)
    row = next(r for r in rows_of("subjects") if r["subject_id"] == adult.subject_id)
    assert (row["guardian_consent"], row["child_assent"]) == ("N", "N")
    flags = rows_of("flags")
    assert flags
    for flag in flags:
        assert "." not in flag["raised_at"], flag["raised_at"]
        assert len(flag["raised_at"]) == len("2026-12-01T10:00:00+08:00")
