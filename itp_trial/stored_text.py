"""Words the system stores (history reasons, flag details): kept in English, read translated.

A record written by the system must not depend on the language of whoever triggered the
write, so the system's sentences are stored in English (marked with gettext_noop, which
puts them in the catalogue without translating them) and translated when shown:
`display(text)` finds the registered template a stored text came from, takes its values
back out (codes, dates, numbers, a user's own words, which stay as typed) and fills the
translated template. Text that matches no template (a user's own reason, an older wording)
is shown as stored.
"""

from __future__ import annotations

import re
from functools import cache

from django.utils.translation import gettext

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")
_TEMPLATES: list[str] = []
# Values that are themselves stored sentences, translated in turn (e.g. a reopened flag).
NESTED = frozenset({"detail"})


def register(*templates: str) -> None:
    """Add English templates (plain, or with %(name)s placeholders) to what `display` knows."""
    for template in templates:
        if template not in _TEMPLATES:
            _TEMPLATES.append(template)
            # Longer templates first: a template that contains another must win.
            _TEMPLATES.sort(key=lambda t: -len(_PLACEHOLDER.sub("", t)))


@cache
def _pattern(template: str) -> re.Pattern[str]:
    parts = []
    for i, piece in enumerate(_PLACEHOLDER.split(template)):
        if i % 2:
            # A nested sentence is greedy, so that the outermost template is peeled first.
            parts.append(f"(?P<{piece}>.*)" if piece in NESTED else f"(?P<{piece}>.*?)")
        else:
            parts.append(re.escape(piece.replace("%%", "%")))
    return re.compile("".join(parts), re.DOTALL)


def display(text: str | None) -> str | None:
    """A stored English sentence of the system in the active language; other text as is."""
    if not text:
        return text
    for template in _TEMPLATES:
        if "%(" not in template:
            if text == template:
                return gettext(template)
            continue
        match = _pattern(template).fullmatch(text)
        if match is None:
            continue
        values = match.groupdict()
        for name in NESTED & values.keys():
            values[name] = display(values[name])
        return gettext(template) % values
    return text
