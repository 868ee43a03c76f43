"""Each rule has one home: the source of the apps states it once, and every path calls it.

The behaviour of each rule on every path is in the other tests of this folder; these read
the code (migrations and tests aside) so that a second copy cannot creep back.
"""

from __future__ import annotations

import ast
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from itp_trial.dates import date_future_add, date_future_error, moment_future_error

ROOT = Path(__file__).resolve().parents[2]
APPS = ("itp_trial", "subjects", "infusions", "visits", "safety", "reporting", "exchange", "demo")


def _sources() -> dict[str, str]:
    return {
        str(path.relative_to(ROOT)): path.read_text()
        for app in APPS
        for path in sorted((ROOT / app).rglob("*.py"))
        if "migrations" not in path.parts
    }


def _where(predicate) -> set[str]:
    """The modules with a string constant or a keyword argument name matching `predicate`."""
    found = set()
    for name, text in _sources().items():
        for node in ast.walk(ast.parse(text, filename=name)):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if predicate(node.value):
                    found.add(name)
            elif isinstance(node, ast.keyword) and node.arg and predicate(node.arg):
                found.add(name)
    return found


RULES = {
    "the future-date message": (lambda s: "cannot be in the future" in s, "itp_trial/dates.py"),
    "the open-flag filter": (lambda s: s.startswith("acknowledged_at__isnull"), "safety/models.py"),
    "the SAE-overdue filter": (lambda s: s.endswith("awareness_at__lt"), "safety/checks.py"),
    "the WHO-grade message": (
        lambda s: s.startswith("Give the WHO bleeding grade"),
        "visits/services/fields.py",
    ),
}


@pytest.mark.parametrize("what", RULES)
def test_the_rule_is_stated_in_one_module(what):
    matches, home = RULES[what]
    assert _where(matches) == {home}


def test_a_date_is_refused_only_after_today():
    today = timezone.localdate()
    assert date_future_error(today, today=today) is None
    assert date_future_error(today + timedelta(days=1), today=today) == (
        "The date cannot be in the future."
    )
    assert date_future_error(None, today=today) is None
    assert date_future_error("2999-01-01", today=today) is None  # not converted: its own error
    errors: dict[str, list] = {}
    assert date_future_add(errors, "onset_date", date(2999, 1, 1), today=today)
    assert not date_future_add(errors, "end_date", today, today=today)
    assert errors == {"onset_date": ["The date cannot be in the future."]}


def test_a_moment_is_refused_only_after_now():
    now = timezone.now()
    assert moment_future_error(now, now=now) is None
    assert moment_future_error(now + timedelta(seconds=1), now=now) == (
        "The date and time cannot be in the future."
    )
    assert moment_future_error(now.date(), now=now) is None
    assert date_future_error(datetime(2999, 1, 1, tzinfo=now.tzinfo), today=now.date()) is None
