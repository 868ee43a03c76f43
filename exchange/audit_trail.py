"""The audit_trail dataset: every change of every clinical and review record (the datasets,
the eligibility decision, flags, signatures, locks, data queries, SDV), then every export
and import.

Read from the simple-history tables as value rows (no model instances), one table at a
time, ordered by record and time, so a change is diffed against the record's previous
version, the row before it, while streaming: one row per
creation or deletion, one row per changed field, with the user and the reason. Field names
and values are written as the dataset columns are (`code` is `visit_code`, a visit is its
code, a related infusion its number, a user their username).

On PostgreSQL the history tables' rows are written by the database instead
(`audit_trail_bytes`, `exchange.audit_trail_sql`): the same bytes, several times faster;
SQLite keeps this Python path, and a test holds the two equal.

A new audited table is one more `Audited` entry: its dataset name, how its record is named,
and, where the lifecycle has words of its own (a flag is raised, resolved, reopened,
acknowledged), how an entry's action is named, each in Python and in SQL.
"""

from __future__ import annotations

import csv
import io
from collections import namedtuple
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from django.db import models

from infusions.models import Infusion
from itp_trial.locks import DatabaseLock
from safety.models import AdverseEvent, ConcomitantMedication, DataQuery, Flag, Verification
from subjects.models import CasebookLock, EligibilityAnswer, Participant, Signature
from visits.models import PlateletCount, Visit

from .audit_trail_sql import (
    HistorySql,
    copy_blocks,
    history_select_sql,
    iso_date,
    iso_utc,
    sql_ready,
)
from .cells import ColumnFormat, formatted
from .models import DataExport, DataImport
from .rows import AUDIT_CHUNK_SIZE, CHUNK_SIZE, value_rows

ACTIONS = {"+": "created", "~": "changed", "-": "deleted"}
BLOCK_SIZE = 64 * 1024  # as exchange.export writes


# (history entry, the record's previous entry or None) -> the action's name, or "" for the
# default (created / changed / deleted).
Action = Callable[[Any, Any], str]


@dataclass(frozen=True)
class Audited:
    dataset: str
    model: type[models.Model]
    record: Callable[[Any], str]  # the record's natural key within its participant
    columns: dict[str, str] = field(default_factory=dict)  # model field -> dataset column
    action: Action | None = None
    # Shown as the new value of the creation row (what was signed, what was asked).
    created_value: Callable[[Any], Any] | None = None
    # The same three in SQL, for PostgreSQL (exchange.audit_trail_sql); a test holds the
    # two paths' bytes equal.
    sql: HistorySql | None = None


def _became(previous: Any, record: Any, name: str) -> str:
    """ "set" when the field was filled, "cleared" when emptied, "" otherwise."""
    old, new = getattr(previous, name), getattr(record, name)
    if old is None and new is not None:
        return "set"
    if old is not None and new is None:
        return "cleared"
    return ""


def _flag_action(record: Any, previous: Any) -> str:
    if record.history_type == "+":
        return "raised"
    if previous is None:
        return ""
    if _became(previous, record, "acknowledged_at") == "set":
        return "acknowledged"
    return {"set": "resolved", "cleared": "reopened"}.get(
        _became(previous, record, "resolved_at"), ""
    )


def _query_action(record: Any, previous: Any) -> str:
    if record.history_type == "+":
        return "raised"
    if previous is None or record.state == previous.state:
        return ""
    if record.state == "open":
        return "reopened"
    return record.state  # "answered", "closed"


def _participant_action(record: Any, previous: Any) -> str:
    if previous is not None and record.eligible != previous.eligible:
        return "eligibility decided"
    return ""


_PARTICIPANT_SQL = HistorySql(
    "''",
    record_safe=True,
    action="CASE WHEN p.history_id IS NOT NULL AND h.eligible IS DISTINCT FROM p.eligible"
    " THEN 'eligibility decided' END",
    previous="true",
)
_FLAG_SQL = HistorySql(
    "h.kind",
    action="CASE WHEN h.history_type = '+' THEN 'raised'"
    " WHEN p.history_id IS NULL THEN NULL"
    " WHEN p.acknowledged_at IS NULL AND h.acknowledged_at IS NOT NULL THEN 'acknowledged'"
    " WHEN p.resolved_at IS NULL AND h.resolved_at IS NOT NULL THEN 'resolved'"
    " WHEN p.resolved_at IS NOT NULL AND h.resolved_at IS NULL THEN 'reopened' END",
    previous="h.history_type <> '+'",
)
_QUERY_SQL = HistorySql(
    "'Q' || COALESCE(h.number::text, 'None')",
    record_safe=True,
    action="CASE WHEN h.history_type = '+' THEN 'raised'"
    " WHEN p.history_id IS NULL OR h.state IS NOT DISTINCT FROM p.state THEN NULL"
    " WHEN h.state = 'open' THEN 'reopened' ELSE h.state END",
    created="h.question",
    previous="h.history_type <> '+'",
)

AUDITED: tuple[Audited, ...] = (
    Audited(
        "subjects", Participant, lambda h: "", action=_participant_action, sql=_PARTICIPANT_SQL
    ),
    Audited("eligibility", EligibilityAnswer, lambda h: h.criterion, sql=HistorySql("h.criterion")),
    Audited("visits", Visit, lambda h: h.code, {"code": "visit_code"}, sql=HistorySql("h.code")),
    Audited(
        "infusions",
        Infusion,
        lambda h: f"INF{h.number}",
        {"number": "infusion_number"},
        sql=HistorySql("'INF' || COALESCE(h.number::text, 'None')", record_safe=True),
    ),
    Audited(
        "platelets",
        PlateletCount,
        lambda h: h.sample_date.isoformat(),
        {"platelets": "platelets_10e9_l", "visit": "visit_code"},
        sql=HistorySql(iso_date("h.sample_date"), record_safe=True),
    ),
    Audited(
        "adverse_events",
        AdverseEvent,
        lambda h: f"AE{h.ae_number}",
        sql=HistorySql("'AE' || COALESCE(h.ae_number::text, 'None')", record_safe=True),
    ),
    Audited(
        "conmeds",
        ConcomitantMedication,
        lambda h: f"{h.drug} {h.start_date.isoformat()}",
        sql=HistorySql(f"COALESCE(h.drug, 'None') || ' ' || {iso_date('h.start_date')}"),
    ),
    Audited("flags", Flag, lambda h: h.kind, action=_flag_action, sql=_FLAG_SQL),
    Audited(
        "signatures",
        Signature,
        lambda h: f"SIG{h.id}",
        action=lambda h, p: "signed" if h.history_type == "+" else "",
        created_value=lambda h: h.statement,
        sql=HistorySql(
            "'SIG' || h.id::text",
            record_safe=True,
            action="CASE WHEN h.history_type = '+' THEN 'signed' END",
            created="h.statement",
        ),
    ),
    Audited(
        "queries",
        DataQuery,
        lambda h: f"Q{h.number}",
        {"number": "query_number", "visit": "visit_code"},
        action=_query_action,
        created_value=lambda h: h.question,
        sql=_QUERY_SQL,
    ),
    # The locks dataset holds both kinds of lock: its record names which. (The record's
    # time is as the driver gives it, in UTC.)
    Audited(
        "locks",
        CasebookLock,
        lambda h: f"casebook {h.locked_at.isoformat()}",
        sql=HistorySql("'casebook ' || " + iso_utc("h.locked_at"), record_safe=True),
    ),
    Audited(
        "locks",
        DatabaseLock,
        lambda h: f"database {h.locked_at.isoformat()}",
        sql=HistorySql("'database ' || " + iso_utc("h.locked_at"), record_safe=True),
    ),
    Audited(
        "sdv",
        Verification,
        lambda h: f"{h.target_kind} {h.object_id}",
        sql=HistorySql(
            "COALESCE(h.target_kind, 'None') || ' ' || COALESCE(h.object_id::text, 'None')"
        ),
    ),
)

# Not listed as changes: the id and owner never change; the version counts the saves.
_SKIPPED = {"id", "participant", "version"}

# Foreign keys are shown by what a reader knows them by (a visit by its code, an infusion by
# its number, a user by their username): read by a join in the history query, so that no
# table's ids are held in memory. A key not listed here is shown as its id.
_USER = "username"
_SHOWN_AS = {
    **dict.fromkeys(
        ("signed_by", "raised_by", "answered_by", "closed_by", "acknowledged_by"), _USER
    ),
    "visit": "code",
    "infusion": "number",
    "related_infusion": "number",
    "adverse_event": "ae_number",
}


@dataclass(frozen=True)
class _Field:
    """A tracked field of a history row: its place in the row, its dataset column, and
    where the name its key is shown by sits (None: the value as stored)."""

    index: int
    column: str
    shown: int | None


def _history_query(audited: Audited) -> tuple[type, list[_Field], int | None, Iterator[tuple]]:
    """The row type, the diffed fields and the rows of one history table, in record and
    time order (a record's previous version is the row before it)."""
    history = audited.model.history.model
    tracked = list(history.tracked_fields)
    names = [f.attname for f in tracked]
    lookups = [
        "history_type",
        "history_date",
        "history_id",
        "history_change_reason",
        "history_user__username",
    ]
    attributes = [*names, *(name.replace("__", "_") for name in lookups)]
    fields = []
    for f in tracked:
        if f.name in _SKIPPED:
            continue
        shown = None
        if isinstance(f, models.ForeignKey) and f.name in _SHOWN_AS:
            shown = len(lookups) + len(names)
            lookups.append(f"{f.name}__{_SHOWN_AS[f.name]}")
            attributes.append(f"{f.name}_shown")
        fields.append(_Field(names.index(f.attname), audited.columns.get(f.name, f.name), shown))
    owner = None
    if audited.model is not Participant and "participant_id" in names:
        owner = len(lookups) + len(names)
        lookups.append("participant__subject_id")
        attributes.append("owner_subject_id")
    row_type = namedtuple(f"{history.__name__}Row", attributes)  # noqa: PYI024
    rows = value_rows(
        history.objects.order_by("id", "history_date", "history_id").values_list(*names, *lookups),
        size=AUDIT_CHUNK_SIZE,
    )
    return row_type, fields, owner, rows


def _shown(row: tuple, f: _Field) -> Any:
    value = row[f.index]
    if f.shown is None or value is None:
        return value
    shown = row[f.shown]
    return value if shown is None else shown


def _history_rows(audited: Audited) -> Iterator[list[Any]]:
    row_type, fields, owner, rows = _history_query(audited)
    make = row_type._make
    is_participant = audited.model is Participant
    previous = None
    for values in rows:
        record = make(values)
        if previous is not None and previous.id != record.id:
            previous = None
        if is_participant:
            subject_id = record.subject_id
        elif owner is not None:
            subject_id = values[owner] or ""
        else:  # the database lock belongs to no participant
            subject_id = ""
        action = (audited.action and audited.action(record, previous)) or ACTIONS.get(
            record.history_type, record.history_type
        )
        common = [
            record.history_date,
            record.history_user_username or "",
            action,
            audited.dataset,
            subject_id,
            audited.record(record),
        ]
        reason = record.history_change_reason or ""
        if record.history_type == "~" and previous is not None:
            for f in fields:
                i = f.index
                if previous[i] == values[i]:
                    continue
                old, new = _shown(previous, f), _shown(values, f)
                if old != new:
                    yield [*common, f.column, old, new, reason]
        else:
            created = audited.created_value(record) if audited.created_value else None
            yield [*common, "", None, created, reason]
        previous = record


def _exchange_rows() -> Iterator[list[Any]]:
    exports = DataExport.objects.select_related("exported_by").order_by("exported_at", "id")
    for e in exports.iterator(chunk_size=CHUNK_SIZE):
        files = "; ".join(f"{m.get('file')} ({m.get('rows')} rows)" for m in e.manifest)
        user = e.exported_by.username if e.exported_by else ""
        yield [e.exported_at, user, "exported", e.datasets, "", "", "", None, files, ""]
    imports = DataImport.objects.select_related("imported_by").order_by("imported_at", "id")
    for i in imports.iterator(chunk_size=CHUNK_SIZE):
        summary = "; ".join(
            f"{name}: " + ", ".join(f"{k} {v}" for k, v in counts.items())
            for name, counts in (i.summary.get("counts") or {}).items()
        )
        user = i.imported_by.username if i.imported_by else ""
        yield [i.imported_at, user, "imported", i.files, "", "", "", None, summary, i.reason]


def audit_trail_rows() -> Iterator[list[Any]]:
    for audited in AUDITED:
        yield from _history_rows(audited)
    yield from _exchange_rows()


def audit_trail_in_sql() -> bool:
    """Whether the file is written by the database (PostgreSQL, a named time zone)."""
    return sql_ready()


def audit_trail_bytes(
    *, header: Sequence[str], formats: Sequence[ColumnFormat], stats: Any
) -> Iterator[bytes]:
    """The audit_trail file as CSV blocks, counted and hashed into `stats` (an
    `export.FileStats`), the history tables' rows written by PostgreSQL (see
    `audit_trail_in_sql`): the same bytes as `export.csv_bytes` of `audit_trail_rows()`."""

    def block(data: bytes, rows: int) -> bytes:
        stats.rows += rows
        stats.digest.update(data)
        return data

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    yield block(buffer.getvalue().encode(), 0)
    for audited in AUDITED:
        sql = history_select_sql(audited, skipped=_SKIPPED, shown_as=_SHOWN_AS, actions=ACTIONS)
        for data, rows in copy_blocks(sql, size=BLOCK_SIZE):
            yield block(data, rows)
    buffer.seek(0)
    buffer.truncate()
    exchanges = _exchange_rows()
    while batch := list(islice(exchanges, CHUNK_SIZE)):
        writer.writerows(formatted(batch, formats))
        yield block(buffer.getvalue().encode(), len(batch))
        buffer.seek(0)
        buffer.truncate()
