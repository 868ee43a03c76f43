"""One CSV cell, both ways: the formats of protocol section 7 and formula neutralisation.

Written: ISO dates, date-times ISO 8601 with the site's offset, booleans Y/N, empty for
unknown, numbers in plain positional notation (never 1E+8). A text that a spreadsheet would
run as a formula (it starts with =, +, -, @, tab or carriage return and is not a number)
gets a leading single quote. So that an export imports back to the same value, a text that
already starts with a quote followed by such a text gets one more quote, and the importer
removes exactly one: the two functions are inverse of each other.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from decimal import Decimal

from django.utils import timezone

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def is_number(text: str) -> bool:
    return _NUMBER.fullmatch(text) is not None


def _needs_quote(text: str) -> bool:
    if not text:
        return False
    if text.startswith(FORMULA_STARTS):
        return not is_number(text)
    return text.startswith(QUOTE) and _needs_quote(text[1:])


_RISKY_FIRST = frozenset(FORMULA_STARTS + (QUOTE,))


def neutralise(text: str) -> str:
    """The text as a spreadsheet cannot run it: a formula gets a leading quote."""
    if not text or text[0] not in _RISKY_FIRST:
        return text
    return QUOTE + text if _needs_quote(text) else text


def unneutralise(text: str) -> str:
    """The inverse of `neutralise`: the text as it was before export."""
    if text.startswith(QUOTE) and _needs_quote(text[1:]):
        return text[1:]
    return text


def format_value(value: object) -> str:
    """A Python value as its CSV text, before neutralisation."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Y" if value else "N"
    if isinstance(value, datetime):
        if timezone.is_naive(value):
            value = timezone.make_aware(value)
        return timezone.localtime(value).isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def cell(value: object) -> str:
    """A Python value as the cell written to the file.

    The common types first, by exact type: an export writes millions of cells. A whole
    number, a date or a flag never needs neutralising; anything else goes through
    `neutralise`.
    """
    kind = type(value)
    if value is None:
        return ""
    if kind is str:
        return neutralise(value)
    if kind is int:
        return str(value)
    if kind is date:
        return value.isoformat()
    if kind is bool:
        return "Y" if value else "N"
    return neutralise(format_value(value))
