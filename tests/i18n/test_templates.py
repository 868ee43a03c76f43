"""No template shows English a translator never saw: every user-facing text is marked."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from .template_scan import unmarked_text


def _templates() -> list[Path]:
    roots = [Path(d) for d in settings.TEMPLATES[0]["DIRS"]]
    roots += [Path(settings.BASE_DIR) / app / "templates" for app in ("itp_trial", "subjects",
              "visits", "infusions", "safety", "reporting", "exchange", "demo")]  # fmt: skip
    return sorted(p for root in roots if root.is_dir() for p in root.rglob("*.html"))


def test_the_scanner_finds_templates():
    names = {p.name for p in _templates()}
    assert {"base.html", "login.html", "worklist.html", "dashboard.html"} <= names


@pytest.mark.parametrize("path", _templates(), ids=lambda p: str(p.relative_to(settings.BASE_DIR)))
def test_every_user_facing_text_is_marked(path):
    assert unmarked_text(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    "source, found",
    [
        ("<h1>Save the visit</h1>", ["Save the visit"]),
        ('<a href="x" title="Open the record">{% translate "Open" %}</a>', ["Open the record"]),
        ('<input class="form-control" placeholder="Comment">', ["Comment"]),
        ('<form data-confirm="Close this query?"></form>', ["Close this query?"]),
        ('<input type="submit" value="Save">', ["Save"]),
        ('<button aria-label="Close"></button>', ["Close"]),
        ("<p>{{ visit.code }} done on {{ visit.date }}</p>", ["done on"]),
    ],
)
def test_it_reports_unmarked_text(source, found):
    assert unmarked_text(source) == found


@pytest.mark.parametrize(
    "source",
    [
        '{% load i18n %}<h1>{% translate "Save the visit" %}</h1>',
        "<a title=\"{% translate 'Open the record' %}\">x</a>",
        "<p>{% blocktranslate with code=v.code %}{{ code }} done{% endblocktranslate %}</p>",
        "{% comment %}Notes for developers, in English.{% endcomment %}<p>{{ value }}</p>",
        '<input type="hidden" name="action" value="confirm">',
        "<dd>{{ infusion.volume_ml }} mL</dd><dd>{{ weight }} kg</dd><a>AE{{ n }}</a>",
        "<script>const label = 'not scanned here';</script>",
    ],
)
def test_it_accepts_marked_text_codes_and_units(source):
    assert unmarked_text(source) == []
