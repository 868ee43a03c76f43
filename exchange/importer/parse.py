"""Reading a contract CSV: the header checked, every cell parsed to its column's type.

Nothing here touches the database. A cell that does not parse is reported with its file,
row and column, and its row is not passed on to the services (so that one mistake is
reported once). Rows are numbered from 1 after the header; the physical line is reported
too, since a quoted cell may span lines.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from itp_trial.dates import date_future_error

from .. import datasets
from ..cells import format_value, unneutralise


@dataclass(frozen=True)
class Issue:
    """One refusal: where it is (file, data row, line, column) and why."""

    file: str
    row: int | None  # 1-based data row (the header is not counted); None: the whole file
    line: int | None  # physical line of the file (the header is line 1)
    column: str  # empty when the message is about the whole row or file
    message: str

    def __str__(self) -> str:
        where = [self.file]
        if self.row is not None:
            where.append(_("row %(row)s (line %(line)s)") % {"row": self.row, "line": self.line})
        if self.column:
            where.append(_("column %(column)s") % {"column": self.column})
        return f"{', '.join(where)}: {self.message}"


@dataclass(slots=True)  # a million of them in a big import: no __dict__ each
class ParsedRow:
    dataset: datasets.Dataset
    row: int
    line: int
    values: dict[str, Any]  # the raw (non-derived) columns the file has, parsed
    ok: bool = True  # every cell parsed
    issues: list[Issue] = field(default_factory=list)

    @property
    def file(self) -> str:
        return self.dataset.filename

    def key(self) -> tuple[Any, ...]:
        return tuple(self.values.get(name) for name in self.dataset.key)

    def issue(self, column: str, message: str) -> Issue:
        return Issue(self.file, self.row, self.line, column, str(message))


# The stored version of the record a row was exported from (itp_trial.audit.VersionedModel;
# empty for a record not yet stored): optional on import, where a row based on another
# version than the stored one is refused as stale. Read even where the contract lists it
# among the system's columns.
VERSION = "version"
VERSION_COLUMN = datasets.Column(
    VERSION, gettext_lazy("Record version"), datasets.INTEGER, bounds=(0, 2**31 - 1)
)


def _import_column(dataset: datasets.Dataset, name: str) -> datasets.Column | None:
    """The column of the header name that the import reads (None: derived, ignored)."""
    if name == VERSION:
        found = next((c for c in dataset.columns if c.name == VERSION), VERSION_COLUMN)
        return replace(found, derived=False, required=False)
    column = dataset.column(name)
    return None if column.derived else column


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?"
)
_TIME = re.compile(r"\d{2}:\d{2}(:\d{2})?")
_INTEGER = re.compile(r"[+-]?\d+")
_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")


class CellError(ValueError):
    pass


def parse_cell(column: datasets.Column, text: str, *, today: date) -> Any:
    """The cell's value as Python (empty: None, or "" for text); raises CellError."""
    if column.type == datasets.TEXT:
        value = unneutralise(text)
        if column.pattern and value and not re.fullmatch(column.pattern, value):
            raise CellError(
                _("Expected an identifier like %(form)s, found “%(value)s”.")
                % {"form": column.range, "value": text}
            )
        return value
    value = text.strip()
    if value == "":
        return "" if column.type == datasets.CODE else None
    if column.type == datasets.INTEGER:
        if not _INTEGER.fullmatch(value):
            raise CellError(_("Expected a whole number, found “%(value)s”.") % {"value": text})
        return int(value)
    if column.type == datasets.DECIMAL:
        if not _DECIMAL.fullmatch(value):
            raise CellError(_("Expected a number, found “%(value)s”.") % {"value": text})
        try:
            return Decimal(value)
        except InvalidOperation as error:
            raise CellError(_("Expected a number, found “%(value)s”.") % {"value": text}) from error
    if column.type == datasets.DATE:
        try:
            if not _DATE.fullmatch(value):
                raise ValueError(value)
            day = date.fromisoformat(value)
        except ValueError as error:
            raise CellError(
                _("“%(value)s” is not a valid date (YYYY-MM-DD).") % {"value": text}
            ) from error
        message = date_future_error(day, today=today) if column.past else None
        if message:
            raise CellError(message)
        return day
    if column.type == datasets.DATETIME:
        try:
            if not _DATETIME.fullmatch(value):
                raise ValueError(value)
            moment = datetime.fromisoformat(value)
        except ValueError as error:
            raise CellError(
                _("“%(value)s” is not a valid date and time (ISO 8601 with offset).")
                % {"value": text}
            ) from error
        if moment.tzinfo is None:
            raise CellError(
                _("Give the offset of “%(value)s”, e.g. %(example)s.")
                % {"value": text, "example": "2026-03-01T14:30:00+08:00"}
            )
        return moment
    if column.type == datasets.TIME:
        try:
            if not _TIME.fullmatch(value):
                raise ValueError(value)
            return time.fromisoformat(value)
        except ValueError as error:
            raise CellError(
                _("“%(value)s” is not a valid time (HH:MM).") % {"value": text}
            ) from error
    if column.type == datasets.BOOLEAN:
        if value.upper() not in ("Y", "N"):
            raise CellError(_("Expected Y or N, found “%(value)s”.") % {"value": text})
        return value.upper() == "Y"
    if column.type == datasets.CODE:
        if value not in column.allowed:
            raise CellError(
                _("“%(value)s” is not one of %(allowed)s.")
                % {"value": text, "allowed": ", ".join(column.allowed)}
            )
        return value
    if column.type == datasets.CODES:
        codes = [c.strip() for c in value.split(";") if c.strip()]
        unknown = [c for c in codes if c not in column.allowed]
        if unknown:
            raise CellError(
                _("“%(value)s” is not one of %(allowed)s.")
                % {"value": "; ".join(unknown), "allowed": ", ".join(column.allowed)}
            )
        return ";".join(codes)
    raise CellError(f"Unknown column type {column.type}")  # a contract error, not the file's


def _is_empty(column: datasets.Column, value: Any) -> bool:
    return value is None or value == "" or (column.type == datasets.TEXT and not value.strip())


NUL = "\x00"


def nul_issues(file: str, lines: Iterable[str]) -> list[Issue]:
    """One refusal per physical line holding a NUL byte (up to 20): no database stores one
    in text, and it is never part of a value (a file saved by a binary tool, or UTF-16)."""
    issues = []
    for number, line in enumerate(lines, start=1):
        if NUL in line:
            issues.append(
                Issue(
                    file,
                    None,
                    number,
                    "",
                    _(
                        "Line %(line)s contains a NUL character (byte 0), which a CSV cell "
                        "cannot hold: save the file again as UTF-8 text and re-import it."
                    )
                    % {"line": number},
                )
            )
            if len(issues) >= 20:
                break
    return issues


class Header:
    """A file's checked header: the columns the import reads, by their cell's index."""

    def __init__(self, dataset: datasets.Dataset, names: list[str]) -> None:
        self.dataset = dataset
        self.width = len(names)
        self.columns = [
            (index, column)
            for index, name in enumerate(names)
            if (column := _import_column(dataset, name)) is not None
        ]
        self.index = {column.name: index for index, column in self.columns}


def header_read(
    dataset: datasets.Dataset, reader: Iterator[list[str]]
) -> tuple[Header | None, list[Issue]]:
    """The file's header from its first record, or the problems that refuse the file
    (nothing else runs when the header is wrong: the columns could not be trusted)."""
    file = dataset.filename
    try:
        header = next(reader)
    except StopIteration:
        return None, [Issue(file, None, None, "", _("The file is empty: it needs a header row."))]
    except csv.Error as error:
        return None, [Issue(file, None, 1, "", _("Not a readable CSV file: %(e)s") % {"e": error})]
    header = [name.strip() for name in header]
    known = {c.name for c in dataset.columns} | {VERSION}
    issues = []
    for name in sorted({n for n in header if header.count(n) > 1}):
        issues.append(Issue(file, None, 1, name, _("The column appears more than once.")))
    for name in header:
        if name not in known:
            issues.append(
                Issue(file, None, 1, name, _("Unknown column (see data_dictionary.csv)."))
            )
    for column in dataset.raw_columns:
        if column.required and column.name not in header:
            issues.append(Issue(file, None, 1, column.name, _("This column is required.")))
    if issues:
        return None, issues
    return Header(dataset, header), []


def records(file: str, reader: Any, issues: list[Issue]) -> Iterator[tuple[int, int, list[str]]]:
    """The data records after the header: (row, line, cells), blank lines skipped. An
    unreadable record ends the file, its refusal added to `issues`."""
    number = 0
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            issues.append(
                Issue(
                    file, number + 1, reader.line_num, "", _("Unreadable CSV: %(e)s") % {"e": error}
                )
            )
            return
        if not any(cell.strip() for cell in record):
            continue  # a blank line
        number += 1
        yield number, reader.line_num, record


def parse_row(
    header: Header, number: int, line: int, record: list[str], *, today: date
) -> ParsedRow:
    """One data record, every cell parsed to its column's type; the refusals on the row."""
    parsed = ParsedRow(header.dataset, number, line, {})
    if len(record) != header.width:
        parsed.ok = False
        parsed.issues.append(
            parsed.issue(
                "",
                _("Expected %(expected)s cells, found %(found)s.")
                % {"expected": header.width, "found": len(record)},
            )
        )
        return parsed
    for index, column in header.columns:
        try:
            value = parse_cell(column, record[index], today=today)
        except CellError as error:
            parsed.ok = False
            parsed.issues.append(parsed.issue(column.name, str(error)))
            continue
        if column.required and _is_empty(column, value):
            parsed.ok = False
            parsed.issues.append(parsed.issue(column.name, _("This cell is required.")))
            continue
        if (
            column.bounds
            and value is not None
            and not (column.bounds[0] <= value <= column.bounds[1])
        ):
            parsed.ok = False
            parsed.issues.append(
                parsed.issue(
                    column.name,
                    _(
                        "%(label)s must be between %(low)s and %(high)s%(unit)s; "
                        "%(value)s was entered."
                    )
                    % {
                        "label": column.label,
                        "low": column.bounds[0],
                        "high": column.bounds[1],
                        "unit": f" {column.unit}" if column.unit else "",
                        "value": value,
                    },
                )
            )
            continue
        parsed.values[column.name] = value
    return parsed


def parse_file(
    dataset: datasets.Dataset, text: str, *, today: date
) -> tuple[list[ParsedRow], list[Issue]]:
    """The rows of one contract file held as text, and the problems of its header or its
    records (the import reads its files streamed: `exchange.importer.source`)."""
    file = dataset.filename
    text = text.removeprefix("\ufeff")
    if NUL in text:
        return [], nul_issues(file, text.split("\n"))
    reader = csv.reader(io.StringIO(text, newline=""))
    header, issues = header_read(dataset, reader)
    if header is None:
        return [], issues
    rows = [
        parse_row(header, number, line, record, today=today)
        for number, line, record in records(file, reader, issues)
    ]
    return rows, issues


def duplicates(rows: Iterable[ParsedRow]) -> list[Issue]:
    """The refusals of rows whose key (the dataset's: it starts with the participant) is
    another row's before them; those rows marked not ok."""
    seen: dict[tuple[Any, ...], ParsedRow] = {}
    issues = []
    for row in rows:
        key = row.key()
        if any(part is None or part == "" for part in key):
            # A key cell that did not parse is already reported; it matches no other row.
            continue
        if key in seen:
            issues.append(duplicate_issue(row, seen[key].row))
        else:
            seen[key] = row
    return issues


def duplicate_issue(row: ParsedRow, first: int) -> Issue:
    """The refusal of a row whose key is row `first`'s; the row marked not ok."""
    row.ok = False
    return row.issue(
        "",
        _("Same %(key)s (%(values)s) as row %(row)s.")
        % {
            "key": " + ".join(row.dataset.key),
            "values": ", ".join(format_value(part) for part in row.key()),
            "row": first,
        },
    )
