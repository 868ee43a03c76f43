"""Find user-facing text in a Django template that is not marked for translation.

What a reader sees is the text between tags and a few attributes (title, placeholder,
aria-label, alt, data-confirm, and the value of a submit button). After removing what is
marked ({% translate %}, {% blocktranslate %}…{% endblocktranslate %}), the template's
tags and variables, comments, scripts and styles, any word of Latin letters left is
unmarked English, unless it is a unit or a code that stays as it is in every language.
"""

from __future__ import annotations

import re

# Units and codes the protocol writes the same way in every language (docs/glossary.md).
ALLOWED_WORDS = frozenset(
    {
        "kg", "mL", "cm", "mmHg", "min", "L",
        "AE", "SAE", "TEAE", "CTCAE", "MSC", "ITP", "IWG", "WHO", "CR", "NR", "NE",
        "CSV", "UTF", "ISO", "EDC", "CRF", "TPO", "RA",
    }
)  # fmt: skip
_ATTRIBUTES = ("title", "placeholder", "aria-label", "alt", "data-confirm")
_WORD = re.compile(r"[A-Za-z][A-Za-z'’]+")
_REMOVED = [
    re.compile(r"\{%\s*comment\s*%\}.*?\{%\s*endcomment\s*%\}", re.S),
    re.compile(r"\{#.*?#\}", re.S),
    re.compile(r"<!--.*?-->", re.S),
    re.compile(r"\{%\s*blocktrans(?:late)?\b.*?\{%\s*endblocktrans(?:late)?\s*%\}", re.S),
    re.compile(r"<script\b.*?</script>", re.S | re.I),
    re.compile(r"<style\b.*?</style>", re.S | re.I),
]
_TEMPLATE_CODE = re.compile(r"\{%.*?%\}|\{\{.*?\}\}", re.S)
_TAG = re.compile(r"<[^>]*>", re.S)
_ATTRIBUTE = re.compile(
    r"\b(" + "|".join(_ATTRIBUTES) + r")\s*=\s*(\"[^\"]*\"|'[^']*')", re.S | re.I
)
_SUBMIT_VALUE = re.compile(r"<input\b[^>]*\btype=[\"']?(?:submit|button|reset)[^>]*>", re.S | re.I)
_VALUE = re.compile(r"\bvalue\s*=\s*(\"[^\"]*\"|'[^']*')", re.S | re.I)


def _english(text: str) -> list[str]:
    text = _TEMPLATE_CODE.sub(" ", text)
    return [w for w in _WORD.findall(text) if w not in ALLOWED_WORDS]


def unmarked_text(source: str) -> list[str]:
    """The pieces of unmarked user-facing English in a template's source."""
    for pattern in _REMOVED:
        source = pattern.sub(" ", source)
    found = []
    for tag in _TAG.findall(source):
        values = [m.group(2)[1:-1] for m in _ATTRIBUTE.finditer(tag)]
        if _SUBMIT_VALUE.match(tag):
            values += [m.group(1)[1:-1] for m in _VALUE.finditer(tag)]
        found += [value.strip() for value in values if _english(value)]
    text = _TAG.sub(" ", _TEMPLATE_CODE.sub(" ", source))
    found += [line.strip() for line in text.splitlines() if _english(line)]
    return found
