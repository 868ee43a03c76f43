"""The investigator's signature and the casebook lock in Chromium: a wrong password is
refused and nothing written; signing; a later edit makes the signature stale and raises the
flag; signing again resolves it; the data manager locks the casebook and the edit form then
refuses."""

from __future__ import annotations

import pytest
from django.urls import reverse

from safety.models import Flag, FlagKind
from subjects.models import Participant, Signature
from tests.browser.conftest import log_in as browser_log_in
from tests.factories import PASSWORD
from tests.safety.review_data import casebook, verified

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def roles(transactional_db) -> None:
    # A transactional test's flush empties the groups that migrate created; put them back.
    from django.contrib.auth.models import Group, Permission

    from itp_trial.roles import permissions_create_all, roles_sync

    permissions_create_all()
    roles_sync(group_model=Group, permission_model=Permission)


def log_in(page, live_server, username: str, landing: str) -> None:
    page.context.clear_cookies()
    browser_log_in(page, live_server, username, landing)  # waits for the form's navigation


def sign(page, password: str) -> None:
    page.check("input[name=meaning][value=review]")
    page.fill("input[name=password]", password)
    page.click("form[data-testid=sign-form] button[type=submit]")
    page.wait_for_load_state()


def edit_participant(page, live_server, participant, therapies: str) -> None:
    log_in(page, live_server, "coordinator", reverse("subjects:edit", args=[participant.pk]))
    page.fill("textarea[name=prior_therapies]", therapies)
    page.fill("textarea[name=reason]", "Completed from the hospital record")
    page.click("form[data-testid=participant-form] button[type=submit]")
    page.wait_for_load_state()


def test_it_signs_goes_stale_resigns_and_locks(
    page, live_server, coordinator, investigator, monitor, data_manager
):
    page.on("dialog", lambda dialog: dialog.accept())
    participant = casebook(coordinator)
    sign_page = reverse("subjects:sign", args=[participant.pk])
    dashboard = reverse("subjects:dashboard", args=[participant.pk])

    log_in(page, live_server, "investigator", sign_page)
    sign(page, "not-my-password")
    assert "The password is not correct" in page.inner_text("[data-testid=form-errors]")
    assert not Signature.objects.exists()
    assert not Signature.history.model.objects.exists()

    sign(page, PASSWORD)
    page.wait_for_selector("[data-testid=signature-state][data-status=current]")
    assert "Wang Fang" in page.inner_text("[data-testid=signature-state]")
    first = Signature.objects.get()

    edit_participant(page, live_server, participant, "Prednisone, IVIg, rituximab, TPO-RA")
    assert Participant.objects.get(pk=participant.pk).prior_therapies.endswith("TPO-RA")
    flag = Flag.objects.get(kind=FlagKind.SIGNATURE_STALE, participant=participant)
    assert flag.resolved_at is None

    log_in(page, live_server, "investigator", dashboard)
    page.wait_for_selector("[data-testid=signature-state][data-status=stale]")
    page.click("[data-testid=sign-link]")
    sign(page, PASSWORD)
    page.wait_for_selector("[data-testid=signature-state][data-status=current]")
    flag.refresh_from_db()
    assert flag.resolved_at is not None
    assert Signature.objects.count() == 2
    first.refresh_from_db()
    assert first.stale_at is not None

    verified(participant, monitor=monitor)  # the monitor's SDV (its own browser test: issue 14a)
    log_in(page, live_server, "datamanager", reverse("subjects:lock", args=[participant.pk]))
    page.wait_for_selector("[data-testid=ready]")
    page.check("input[name=lock-confirm]")
    page.click("form[data-testid=lock-form] button[type=submit]")
    page.wait_for_selector("[data-testid=casebook-locked]")
    assert Participant.objects.get(pk=participant.pk).locked_at is not None

    edit_participant(page, live_server, participant, "Changed after the lock")
    assert "casebook is locked" in page.inner_text("form[data-testid=participant-form]")
    assert Participant.objects.get(pk=participant.pk).prior_therapies.endswith("TPO-RA")
