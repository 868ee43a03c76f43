"""Point 6 of issue 16: the pages a site uses on a tablet or a phone fit the screen: at
390 × 844 and 768 × 1024 no element is wider than the viewport and nothing scrolls sideways,
dates do not wrap, and the infusion form's dose panel sits next to the cells field."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.reporting.dashboard_data import dashboard_participant

from .conftest import log_in
from .triage_data import morning

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SIZES = [(390, 844), (768, 1024)]

TOO_WIDE = """() => {
  const width = document.documentElement.clientWidth;
  const wide = [];
  for (const el of document.body.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;
    if (box.width > width + 0.5 || box.right > width + 0.5) {
      wide.push(`${el.tagName.toLowerCase()}.${el.className} ${Math.round(box.width)}`);
    }
  }
  return {width, scroll: document.documentElement.scrollWidth, wide: wide.slice(0, 8)};
}"""


def assert_fits(page) -> None:
    result = {"url": page.url, **page.evaluate(TOO_WIDE)}
    assert result["wide"] == [], result
    assert result["scroll"] <= result["width"], result


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_site_pages_fit_tablets_and_phones(page, live_server, coordinator, size):
    page.set_viewport_size({"width": size[0], "height": size[1]})
    running, _overdue = morning(coordinator)
    treated = dashboard_participant(coordinator)
    log_in(page, live_server, "coordinator", reverse("visits:worklist"))
    pages = [
        reverse("visits:worklist"),
        reverse("subjects:list"),
        reverse("subjects:dashboard", args=[treated.pk]),
        reverse("subjects:dashboard", args=[running.pk]),
        reverse("subjects:detail", args=[treated.pk]),
        reverse("visits:edit", args=[treated.visits.get(code="V5-M1").pk]),
        reverse("infusions:record", args=[treated.pk, 2]),
    ]
    for url in pages:
        page.goto(live_server.url + url)
        assert_fits(page)

    # Dates in the worklist are whole on one line.
    page.goto(live_server.url + reverse("visits:worklist"))
    dates = page.locator("[data-testid^=worklist-] td.text-nowrap").all()
    assert dates and all(d.bounding_box()["height"] < 40 for d in dates)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_dose_panel_is_beside_or_just_below_the_cells_field(
    page, live_server, coordinator, size
):
    page.set_viewport_size({"width": size[0], "height": size[1]})
    treated = dashboard_participant(coordinator)
    log_in(page, live_server, "coordinator", reverse("infusions:record", args=[treated.pk, 2]))
    cells = page.locator("[name=actual_cells_0], [name=actual_cells]").first.bounding_box()
    panel = page.locator("[data-testid=dose-preview]").bounding_box()
    # Beside the field, or right below the dose fields: within a screen of the cells field.
    assert abs(panel["y"] - cells["y"]) < size[1] / 2, (panel, cells)
