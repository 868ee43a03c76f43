"""Point 7 of issue 16: axe-core (vendored under static/vendor/axe-core, loaded by the tests
only) finds no serious or critical violation, nor an empty table header, on the login page,
the lists, the participant pages, the review pages, the exports and every data-entry form."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from safety.models import Flag, FlagKind
from tests.factories import eligible
from tests.reporting.dashboard_data import dashboard_participant

from .conftest import log_in
from .triage_data import morning

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = Path(settings.BASE_DIR) / "static" / "vendor" / "axe-core" / "axe.min.js"
RUN_AXE = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical"
      || v.id === "empty-table-header")
    .map((v) => `${v.id} (${v.impact}): ` +
      v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(" | "));
}"""


def violations(page, url: str) -> list[str]:
    page.goto(url)
    page.add_script_tag(path=str(AXE))
    return page.evaluate(RUN_AXE)


def assert_accessible(page, live_server, urls: list[str]) -> None:
    found = {url: violations(page, live_server.url + url) for url in urls}
    assert {url: v for url, v in found.items() if v} == {}


def test_the_login_page(page, live_server):
    assert_accessible(page, live_server, [reverse("login")])


def test_the_pages_and_forms_of_an_investigator(page, live_server, investigator):
    running, _overdue = morning(investigator)
    treated = dashboard_participant(investigator)
    screened = eligible(investigator)
    event = treated.adverse_events.order_by("ae_number").first()
    conmed = treated.conmeds.first()
    count = treated.platelet_counts.first()
    deviation = Flag.objects.filter(kind=FlagKind.OUT_OF_WINDOW).first()
    log_in(page, live_server, "investigator", reverse("visits:worklist"))
    assert_accessible(
        page,
        live_server,
        [
            reverse("visits:worklist"),
            reverse("subjects:list"),
            reverse("subjects:detail", args=[treated.pk]),
            reverse("subjects:detail", args=[running.pk]),
            reverse("subjects:dashboard", args=[treated.pk]),
            reverse("subjects:dashboard", args=[running.pk]),
            reverse("subjects:overview"),
            reverse("safety:flags"),
            reverse("safety:queries"),
            reverse("safety:ae_list", args=[treated.pk]),
            reverse("safety:conmed_list", args=[treated.pk]),
            reverse("infusions:list", args=[treated.pk]),
            # The data-entry forms.
            reverse("subjects:screen"),
            reverse("subjects:edit", args=[screened.pk]),
            reverse("subjects:eligibility", args=[screened.pk]),
            reverse("subjects:enrol", args=[screened.pk]),
            reverse("subjects:withdraw", args=[treated.pk]),
            reverse("subjects:discontinue", args=[running.pk]),
            reverse("visits:edit", args=[treated.visits.get(code="V5-M1").pk]),
            reverse("visits:missed", args=[treated.visits.get(code="V5-M3").pk]),
            reverse("visits:platelet_unscheduled", args=[treated.pk]),
            reverse("visits:platelet_edit", args=[count.pk]),
            reverse("infusions:record", args=[treated.pk, 2]),
            reverse("safety:ae_create", args=[treated.pk]),
            reverse("safety:ae_edit", args=[event.pk]),
            reverse("safety:conmed_create", args=[treated.pk]),
            reverse("safety:conmed_edit", args=[conmed.pk]),
            reverse("safety:flag_acknowledge", args=[deviation.pk]),
            reverse("password_change"),
        ],
    )


def test_the_pages_of_a_monitor_and_a_data_manager(page, live_server, monitor, data_manager):
    log_in(page, live_server, "monitor", reverse("exchange:exports"))
    assert_accessible(page, live_server, [reverse("exchange:exports"), reverse("safety:queries")])
    page.context.clear_cookies()
    log_in(page, live_server, "datamanager", reverse("exchange:import_platelets"))
    assert_accessible(page, live_server, [reverse("exchange:import_platelets")])


def test_the_query_forms(page, live_server, investigator, monitor):
    treated = dashboard_participant(investigator)
    log_in(page, live_server, "monitor", reverse("safety:query_create", args=[treated.pk]))
    assert_accessible(page, live_server, [reverse("safety:query_create", args=[treated.pk])])
