"""Fixtures of the standards tests: the small realistic study of the exchange tests."""

from __future__ import annotations

import pytest

from tests.exchange.study import build_study


@pytest.fixture
def study(coordinator, investigator, today):
    build_study(coordinator=coordinator, investigator=investigator, today=today)
