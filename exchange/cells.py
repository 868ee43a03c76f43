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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from functools import lru_cache

from django.utils import timezone

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"
# ASCII digits only, as a spreadsheet reads a number. The same pattern in SQL below.
NUMBER_PATTERN = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_NUMBER = re.compile(NUMBER_PATTERN)


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


def sql_literal(text: str) -> str:
    """A text as a standard SQL string literal (for the SQL written by the exports)."""
    if "\x00" in text:
        raise ValueError("A NUL cannot be written into SQL.")
    return "'" + text.replace("'", "''") + "'"


def neutralise_sql(expression: str, *, empty_as_null: bool = False) -> str:
    """`neutralise` in PostgreSQL, for the exports the database writes: a formula gets a
    leading quote, and a text that is quotes before a formula one more (leading quotes are
    skipped: the Python rule's recursion); `empty_as_null`, an empty text is NULL. Tests
    hold it equal to `neutralise` on awkward texts.

    Most texts are let through by one comparison: every character that can start a
    formula, and the quote, has a code from 9 to 64 (the range also holds the digits,
    which the next test lets through). Then the first character after the quotes, and
    only for a formula-like start the dearer number pattern. `expression` is evaluated
    several times: a column, where it matters."""
    low, high = min(map(ord, _RISKY_FIRST)), max(map(ord, _RISKY_FIRST))
    starts = ", ".join(str(ord(c)) for c in FORMULA_STARTS)
    rest = f"ltrim({expression}, {sql_literal(QUOTE)})"
    otherwise = f"NULLIF({expression}, '')" if empty_as_null else expression
    return (
        f"CASE WHEN ascii({expression}) BETWEEN {low} AND {high}"
        f" AND ascii({rest}) IN ({starts})"
        f" AND {rest} !~ {sql_literal('^' + NUMBER_PATTERN + '$')}"
        f" THEN {sql_literal(QUOTE)} || {expression} ELSE {otherwise} END"
    )


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


@dataclass(frozen=True)
class ColumnFormat:
    """How one column's values become cells, a column at a time.

    `as_is`: the value types the csv module already writes as `cell` would (str() of a
    whole number, a date or a time is its text, None is empty); a column holding only
    those is handed over untouched. Otherwise each value goes through `each`.
    """

    each: Callable[[object], object]
    as_is: frozenset[type] = frozenset({type(None)})
    # The whole column at once, where a loop without a call per value is faster.
    column: Callable[[Sequence[object]], list[object]] | None = None


def _memoised(size: int = 4096) -> Callable[[object], str]:
    """`cell` remembering its last `size` values: a timestamp is converted to the site's
    time zone once per distinct instant, not once per cell. (Not for decimals: 1.0 and
    1.00 are equal keys but different texts.)"""
    return lru_cache(maxsize=size)(cell)


def _text(value: object) -> str:
    return neutralise(value) if type(value) is str else cell(value)


def _texts(column: Sequence[object]) -> list[object]:
    """`_text` of each value; a text that cannot be a formula is taken as it is."""
    risky = _RISKY_FIRST
    return [v if type(v) is str and (not v or v[0] not in risky) else _text(v) for v in column]


_FLAGS = {True: "Y", False: "N", None: ""}


def _flag(value: object) -> str:
    return _FLAGS[value] if type(value) is bool or value is None else cell(value)


def column_format(kind: str) -> ColumnFormat:
    """One column's format, by its dictionary type: what `cell` writes, faster.

    A new one per export: a memoised one keeps what it saw only for that file.
    """
    none = type(None)
    if kind in ("text", "code", "codes"):
        return ColumnFormat(_text, column=_texts)
    if kind == "boolean":
        return ColumnFormat(_flag)
    if kind == "integer":
        return ColumnFormat(cell, frozenset({none, int}))
    if kind in ("date", "time"):
        return ColumnFormat(cell, frozenset({none, date, time}))
    if kind == "datetime":
        return ColumnFormat(_memoised())
    return ColumnFormat(cell)


def formatted(rows: Sequence[Sequence[object]], formats: Sequence[ColumnFormat]) -> Iterable:
    """Rows of values as rows the csv module writes cell for cell as `cell` would: one
    column at a time, each left as it is where its values need nothing."""
    if not rows:
        return ()
    columns = list(zip(*rows, strict=True))
    for i, column_fmt in enumerate(formats):
        column = columns[i]
        if column_fmt.column is not None:
            columns[i] = column_fmt.column(column)
        elif not column_fmt.as_is.issuperset(map(type, column)):
            columns[i] = list(map(column_fmt.each, column))
    return zip(*columns, strict=True)
