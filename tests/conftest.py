"""Shared fixtures: personas, service gating and the system Chromium for browser tests.

With REQUIRE_SERVICES=1 (CI), a test marked `services` or `browser` fails instead of
skipping when PostgreSQL, Redis or Chromium is missing.
"""

from __future__ import annotations

import os
import shutil

import pytest

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytest_plugins = ("celery.contrib.pytest",)

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def _missing_services() -> list[str]:
    from django.conf import settings
    from django.db import connection

    missing = []
    if connection.vendor != "postgresql":
        missing.append("PostgreSQL (set DATABASE_URL)")
    if not settings.TEST_CELERY_BROKER_URL:
        missing.append("Redis (set CELERY_BROKER_URL)")
    return missing


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    services_missing = _missing_services()
    chromium_missing = not os.path.exists(CHROMIUM)
    for item in items:
        reasons = []
        if item.get_closest_marker("services") and services_missing:
            reasons.append("needs " + ", ".join(services_missing))
        if item.get_closest_marker("browser") and chromium_missing:
            reasons.append("needs Chromium (apt-get install -y chromium)")
        if not reasons:
            continue
        message = "; ".join(reasons)
        if REQUIRE_SERVICES:
            item.add_marker(pytest.mark.xfail(reason=message, run=False, strict=True))
            item.add_marker(pytest.mark.usefixtures("_fail_missing_service"))
        else:
            item.add_marker(pytest.mark.skip(reason=message))


@pytest.fixture
def _fail_missing_service(request: pytest.FixtureRequest) -> None:
    pytest.fail(
        "REQUIRE_SERVICES=1 but " + request.node.get_closest_marker("xfail").kwargs["reason"]
    )


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


@pytest.fixture
def coordinator(db):
    from itp_trial.roles import COORDINATOR
    from tests.factories import user_with_role

    return user_with_role(COORDINATOR, username="coordinator", first_name="Chen", last_name="Li")


@pytest.fixture
def investigator(db):
    from itp_trial.roles import INVESTIGATOR
    from tests.factories import user_with_role

    return user_with_role(
        INVESTIGATOR, username="investigator", first_name="Wang", last_name="Fang"
    )


@pytest.fixture
def monitor(db):
    from itp_trial.roles import MONITOR
    from tests.factories import user_with_role

    return user_with_role(MONITOR, username="monitor", first_name="Zhao", last_name="Min")


@pytest.fixture
def data_manager(db):
    from itp_trial.roles import DATA_MANAGER
    from tests.factories import user_with_role

    return user_with_role(DATA_MANAGER, username="datamanager", first_name="Liu", last_name="Yang")


@pytest.fixture
def personas(coordinator, investigator, monitor, data_manager) -> dict:
    from itp_trial import roles

    return {
        roles.COORDINATOR: coordinator,
        roles.INVESTIGATOR: investigator,
        roles.MONITOR: monitor,
        roles.DATA_MANAGER: data_manager,
    }


@pytest.fixture(autouse=True)
def _language_reset():
    """A request in Chinese leaves Chinese active in the thread (LocaleMiddleware, the
    user's saved language): each test starts and ends in the default language."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()
