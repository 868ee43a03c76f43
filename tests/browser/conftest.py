"""Fixtures of the browser tests of the sites' day (issue 16): the roles, a logged-in page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import PASSWORD


@pytest.fixture(autouse=True)
def roles(transactional_db) -> None:
    # A transactional test's flush empties the groups that migrate created; put them back
    # before the personas are made.
    from django.contrib.auth.models import Group, Permission

    from itp_trial.roles import permissions_create_all, roles_sync

    permissions_create_all()
    roles_sync(group_model=Group, permission_model=Permission)


def log_in(page, live_server, username: str, next_url: str = "/") -> None:
    """Log in through the form, landing on `next_url`."""
    page.goto(f"{live_server.url}{reverse('login')}?next={next_url}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    # The log-in form's own button: when someone is logged in already, the navigation bar's
    # language and log-out buttons come first. Wait for the form's own navigation.
    with page.expect_navigation():
        page.click("form:has(input[name=username]) button[type=submit]")
    page.wait_for_load_state()
