"""Point 5 of issue 16: corrections are visible. A platelet count is corrected from its row,
the reason's refusal names the stored value it would overwrite, and the history of a count
and of the eligibility answers is reachable from the interface."""

from __future__ import annotations

import pytest
from django.urls import reverse

from subjects.services import eligibility_record
from tests.factories import all_criteria_met, platelet_counted
from visits.models import PlateletCount
from visits.services import platelet_record

from .conftest import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_count_is_corrected_from_its_row_with_its_history(page, live_server, coordinator):
    participant, count = platelet_counted(coordinator, platelets=45)
    log_in(page, live_server, "coordinator", reverse("subjects:detail", args=[participant.pk]))

    row = page.locator(f'[data-testid=platelets] tr[data-sample="{count.sample_date:%Y-%m-%d}"]')
    row.locator("[data-testid=platelet-edit]").click()
    page.wait_for_selector("[data-testid=platelet-edit-form]")
    assert page.input_value("#id_sample_date") == f"{count.sample_date:%Y-%m-%d}"
    assert page.is_disabled("#id_sample_date")

    page.fill("#id_platelets", "54")
    page.click("[data-testid=platelet-edit-form] button[type=submit]")
    errors = page.inner_text("[data-testid=form-errors]")
    assert "A reason for change is required" in errors
    assert "Stored values this overwrites: platelets (10⁹/L) 45 → 54." in errors
    assert PlateletCount.objects.get().platelets == 45

    page.fill("#id_reason", "Transcription error: 54 on the lab report")
    page.click("[data-testid=platelet-edit-form] button[type=submit]")
    page.wait_for_selector("[data-testid=platelets]")
    stored = PlateletCount.objects.get()
    assert (stored.platelets, stored.version) == (54, count.version + 1)
    cell = f'[data-testid=platelets] tr[data-sample="{count.sample_date:%Y-%m-%d}"] td:nth-child(4)'
    assert page.inner_text(cell) == "54"

    page.locator("[data-testid=platelet-edit]").first.click()
    history = page.inner_text("[data-testid=history]")
    assert "45 → 54" in history
    assert "Transcription error: 54 on the lab report" in history


def test_a_correction_based_on_an_older_version_is_refused(page, live_server, coordinator):
    participant, count = platelet_counted(coordinator, platelets=45)
    log_in(page, live_server, "coordinator", reverse("visits:platelet_edit", args=[count.pk]))
    # Someone else corrects the count after the page was opened.
    platelet_record(
        participant=participant,
        user=coordinator,
        sample_date=count.sample_date,
        platelets=60,
        who_bleeding_grade=0,
        reason="Lab re-run",
    )
    page.fill("#id_platelets", "54")
    page.fill("#id_reason", "Typo")
    page.click("[data-testid=platelet-edit-form] button[type=submit]")
    assert "changed by someone else" in page.inner_text("[data-testid=platelet-edit-form]")
    assert PlateletCount.objects.get().platelets == 60


def test_a_monitor_sees_the_history_but_no_form(page, live_server, coordinator, monitor):
    participant, count = platelet_counted(coordinator, platelets=45)
    log_in(page, live_server, "monitor", reverse("subjects:detail", args=[participant.pk]))
    page.locator("[data-testid=platelet-edit]").first.click()
    page.wait_for_selector("[data-testid=history]")
    assert page.locator("[data-testid=platelet-edit-form]").count() == 0
    assert "Created" in page.inner_text("[data-testid=history]")


def test_the_eligibility_answers_history_is_on_the_eligibility_page(page, live_server, coordinator):
    participant, _count = platelet_counted(coordinator)
    answers = all_criteria_met()
    eligibility_record(participant=participant, user=coordinator, answers=answers)
    first = next(iter(answers))
    eligibility_record(
        participant=participant,
        user=coordinator,
        answers={**answers, first: not answers[first]},
        reason="Criterion misread at screening",
    )
    log_in(page, live_server, "coordinator", reverse("subjects:detail", args=[participant.pk]))
    page.click(f'a[href="{reverse("subjects:eligibility", args=[participant.pk])}"]')
    history = page.locator("[data-testid=history]")
    history.wait_for()
    changed = history.locator("tr", has_text="Criterion misread at screening")
    assert changed.count() == 1
    assert changed.locator("td").first.inner_text() == first
