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


TEMPLATES = ROOT / "templates"
# Numbers of the protocol that user-facing texts once typed in; each is interpolated now.
TYPED_FACTS = ("CTCAE v5", "24 hours", "24-hour", "28 days", "3 months", "under 18", "4 weeks")


def _translated_texts() -> dict[str, list[str]]:
    """The literal texts given to gettext (_ / gettext_lazy) in the apps' modules."""
    found: dict[str, list[str]] = {}
    for name, text in _sources().items():
        for node in ast.walk(ast.parse(text, filename=name)):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("_", "gettext", "gettext_lazy", "ngettext")
            ):
                for arg in node.args:
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        found.setdefault(name, []).append(arg.value)
    return found


def test_no_user_facing_text_types_a_protocol_number():
    typed = {
        (name, fact)
        for name, texts in _translated_texts().items()
        for text in texts
        for fact in TYPED_FACTS
        if fact in text
    }
    typed |= {
        (str(path.relative_to(ROOT)), fact)
        for path in TEMPLATES.rglob("*.html")
        for fact in TYPED_FACTS
        if fact in path.read_text()
    }
    assert typed == set()


def test_the_texts_carry_the_protocol_numbers():
    from exchange import datasets
    from itp_trial import protocol
    from safety.models import AdverseEvent

    criteria = {c.code: str(c.text) for c in protocol.CRITERIA}
    assert f"more than {protocol.ITP_MIN_DURATION_MONTHS} months" in criteria["I3"]
    assert f"Aged {protocol.AGE_MIN_YEARS} to {protocol.AGE_MAX_YEARS}" in criteria["I2"]
    assert f"within {protocol.OTHER_TRIAL_WASHOUT_MONTHS} months" in criteria["E6"]
    term = AdverseEvent._meta.get_field("term")
    assert str(term.help_text) == f"CTCAE v{protocol.CTCAE_VERSION} term."
    labels = [str(c.label) for c in datasets.ADVERSE_EVENTS.columns]
    assert f"Term (CTCAE v{protocol.CTCAE_VERSION})" in labels
    reported = AdverseEvent._meta.get_field("reported_at").help_text
    assert f"within {protocol.SAE_REPORT_HOURS} hours" in str(reported)
