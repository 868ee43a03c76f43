"""Infusions in Chromium: the planned dose shown before saving, the deviation warning and
its flag."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from infusions.models import Infusion
from safety.models import Flag
from tests.factories import PASSWORD, enrolled

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PLANNED = 2_350_000_000  # 23.5 kg at the registry dose


@pytest.fixture(autouse=True)
def roles(transactional_db) -> None:
    # A transactional test's flush empties the groups that migrate created; put them back
    # before the personas are made.
    from django.contrib.auth.models import Group, Permission

    from itp_trial.roles import permissions_create_all, roles_sync

    permissions_create_all()
    roles_sync(group_model=Group, permission_model=Permission)


def log_in(page, live_server, username: str, next_url: str) -> None:
    page.goto(f"{live_server.url}{reverse('login')}?next={next_url}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")


def fill_infusion(page, *, on, actual: int) -> None:
    page.fill("input[name=infusion_date]", on.isoformat())
    page.fill("input[name=start_time]", "09:00")
    page.fill("input[name=end_time]", "09:45")
    page.fill("input[name=lot_number]", "MSC-2026-017")
    page.fill("input[name=dosing_weight_kg]", "23.5")
    page.fill("input[name=actual_cells]", str(actual))


def test_it_shows_the_dose_before_saving_and_flags_a_deviation(page, live_server, coordinator):
    today = timezone.localdate()
    participant = enrolled(coordinator, planned=today - timedelta(days=10), today=today)
    first_on = participant.planned_first_infusion_date

    log_in(page, live_server, "coordinator", reverse("infusions:record", args=[participant.pk, 1]))
    preview = page.get_by_test_id("dose-preview")
    expect(preview.get_by_test_id("planned-cells")).to_have_text("—")
    fill_infusion(page, on=first_on, actual=PLANNED)

    # The planned dose is on the page before anything is saved.
    expect(preview.get_by_test_id("planned-cells")).to_have_text("2,350,000,000")
    expect(preview.get_by_test_id("deviation-pct")).to_contain_text("0.00")
    expect(preview.get_by_test_id("deviation-warning")).to_be_hidden()
    assert not Infusion.objects.exists()
    page.get_by_test_id("save").click()

    expect(page.get_by_test_id("dose")).to_contain_text("within tolerance")
    first = Infusion.objects.get(number=1)
    assert (first.planned_cells, first.dose_deviation) == (PLANNED, False)

    # Infusion 2 with 15 % fewer cells: the warning shows as the cells are typed...
    page.goto(f"{live_server.url}{reverse('infusions:record', args=[participant.pk, 2])}")
    fill_infusion(page, on=first_on + timedelta(days=7), actual=PLANNED * 85 // 100)
    warning = page.get_by_test_id("dose-preview").get_by_test_id("deviation-warning")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("-15.00 %")
    page.get_by_test_id("save").click()

    # ...and again from the server, which saves nothing until it is confirmed.
    expect(page.get_by_label("Save anyway: the dose deviation is confirmed")).to_be_visible()
    expect(page.get_by_test_id("deviation-warning")).to_contain_text("-15.00 %")
    assert not Infusion.objects.filter(number=2).exists()
    page.get_by_label("Save anyway: the dose deviation is confirmed").check()
    page.get_by_test_id("save").click()

    flag = page.get_by_test_id("flag-dose_deviation")
    expect(flag).to_contain_text("Dose deviation")
    expect(flag).to_contain_text("Open")
    second = Infusion.objects.get(number=2)
    assert second.dose_deviation is True
    assert Flag.objects.filter(kind="dose_deviation", infusion=second).count() == 1
