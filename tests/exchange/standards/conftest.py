"""Fixtures of the standards tests: the small realistic study of the exchange tests, with
the flags its background checks raise."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from tests.exchange.study import build_study


@pytest.fixture
def study(coordinator, investigator, today):
    build_study(coordinator=coordinator, investigator=investigator, today=today)
    call_command("run_checks", stdout=io.StringIO())
