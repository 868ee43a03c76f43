"""Points 1 and 2 of issue 16: the SAE report clocks are where a coordinator works (the
worklist, the participant page, the top of the dashboard), the open flags are in triage
order with a colour per severity and an icon per kind, and show how long they are overdue."""

from __future__ import annotations

import pytest
from django.urls import reverse

from safety.models import Flag, FlagKind

from .conftest import log_in
from .triage_data import morning

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FLAG_ROWS = """(selector) => [...document.querySelectorAll(
    selector + ' [data-testid=open-flag] .flag-line')]
  .map((line) => [line.dataset.kind, line.dataset.severity,
                  getComputedStyle(line.querySelector('[data-testid=flag-badge]')).backgroundColor,
                  line.querySelector('[data-testid=flag-badge] [aria-hidden=true]').textContent,
                  line.innerText])"""


def top(page, selector: str) -> float:
    return page.locator(selector).first.bounding_box()["y"]


def test_the_worklist_starts_with_the_sae_clocks_then_flags_in_triage_order(
    page, live_server, coordinator
):
    running, overdue = morning(coordinator)
    log_in(page, live_server, "coordinator", reverse("visits:worklist"))

    clocks = page.locator("[data-testid=sae-clocks]")
    assert clocks.is_visible()
    states = page.locator("[data-testid=sae-clock-row]").evaluate_all(
        "(rows) => rows.map((r) => [r.innerText.includes('ITP-900'), r.dataset.state])"
    )
    assert states == [[True, "overdue"], [False, "due"]]  # the oldest deadline first
    text = clocks.inner_text()
    assert "SAE report overdue by 6 h" in text
    assert "SAE report due in 20 h" in text or "SAE report due in 21 h" in text
    # Before the flags and the visit tables.
    assert top(page, "[data-testid=sae-clocks]") < top(page, "[data-testid=open-flags]")
    assert top(page, "[data-testid=open-flags]") < top(page, "[data-testid=worklist-overdue]")

    rows = page.evaluate(FLAG_ROWS, "[data-testid=open-flags]")
    kinds = [r[0] for r in rows]
    assert kinds[0] == FlagKind.SAE_REPORT_OVERDUE
    overdue_rows = [r for r in rows if r[0] == FlagKind.OVERDUE]
    assert kinds[1 : 1 + len(overdue_rows)] == [FlagKind.OVERDUE] * len(overdue_rows)
    # Overdue visits by how long, the longest first, saying how long, not when raised.
    assert "V5-D14" in overdue_rows[0][4] and "overdue by 20 days" in overdue_rows[0][4]
    assert "V5-M1" in overdue_rows[-1][4] and "overdue by 2 days" in overdue_rows[-1][4]
    open_flags = Flag.objects.filter(resolved_at__isnull=True, acknowledged_at__isnull=True)
    assert len(rows) == open_flags.count()
    # Each kind its icon, each severity its colour: an SAE flag never looks like a window.
    by_kind = {r[0]: r for r in rows}
    sae, window = by_kind[FlagKind.SAE_REPORT_OVERDUE], by_kind[FlagKind.OUT_OF_WINDOW]
    assert (sae[1], window[1]) == ("critical", "low")
    assert sae[2] != window[2]
    assert len({r[3] for r in by_kind.values()}) == len(by_kind)
    assert "SAE report overdue by 6 h" in sae[4]

    # The overdue table says by how long.
    table = page.locator("[data-testid=worklist-overdue] [data-testid=overdue-by]")
    table = table.all_inner_texts()
    assert table[0] == "20 days" and table[-1] == "2 days"


def test_the_participant_page_and_dashboard_show_the_running_clock_first(
    page, live_server, coordinator
):
    running, _overdue = morning(coordinator)
    log_in(page, live_server, "coordinator", reverse("subjects:detail", args=[running.pk]))
    clock = page.locator("[data-testid=sae-clocks] [data-testid=sae-clock]")
    assert clock.get_attribute("data-state") == "due"
    assert "SAE report due in" in clock.inner_text()

    page.goto(live_server.url + reverse("subjects:dashboard", args=[running.pk]))
    height = page.viewport_size["height"]
    clocks = page.locator("[data-testid=attention] [data-testid=sae-clocks]")
    assert clocks.bounding_box()["y"] < height
    assert page.locator("[data-testid=open-flags]").bounding_box()["y"] < height
    assert "SAE report due in" in clocks.locator("[data-testid=sae-clock]").inner_text()
    # The flags on the dashboard in the same triage order as on the worklist.
    rows = page.evaluate(FLAG_ROWS, "[data-testid=attention]")
    assert [r[0] for r in rows][:2] == [FlagKind.OVERDUE, FlagKind.OVERDUE]
    assert "overdue by 20 days" in rows[0][4]
    # The signature comes after the adverse events it signs.
    assert top(page, "[aria-labelledby=signature-title]") > top(page, "[aria-labelledby=ae-title]")
    # The AE table and the AE list word the clock the same way.
    ae_clock = page.locator("[data-testid=adverse-events] [data-testid=sae-clock]").inner_text()
    assert ae_clock.startswith("SAE report due in")
    page.goto(live_server.url + reverse("safety:ae_list", args=[running.pk]))
    assert page.locator("[data-testid=sae-clock]").inner_text().startswith("SAE report due in")
