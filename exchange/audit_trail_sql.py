"""The audit trail's history rows written by PostgreSQL: the diff and the finished CSV.

The same rows, byte for byte, as `exchange.audit_trail` yields and `exchange.export`
writes (a test feeds awkward values and histories through both), but computed where the
rows are: one `COPY (SELECT ...) TO STDOUT (FORMAT csv)` per history table, read in the
Python path's order (record, time, history id) off an index in that order. A version's
previous version is the row before it in that index, looked up only where it is needed;
a change is unpivoted into one row per changed field by a LATERAL list that PostgreSQL
evaluates only for a change with a previous version. Every value is formatted as
`cells.cell` formats it (Y/N, ISO dates, date-times in the site's zone, numbers as stored)
and neutralised as `cells.neutralise` does; PostgreSQL's CSV quoting is the csv module's
minimal quoting, so only the line ends are Python's (CR LF for LF).

Python then does no per-value work: the export is bound by the server, as a plain COPY of
the history tables is.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.db import connection, models
from django.utils import timezone
from psycopg import DatabaseError, pq
from psycopg.pq import TransactionStatus

from .cells import cell, neutralise_sql, sql_literal

_literal = sql_literal
neutralised = neutralise_sql


def iso_datetime(expression: str) -> str:
    """SQL for `cells.cell` of a date-time (`isoformat()` in the site's zone): in the
    session's zone, the site's during the COPY (`copy_blocks`); six digits of microseconds
    where there are any. to_char writes an offset's hours and minutes only: before 1980,
    where a zone's offset may have seconds, PostgreSQL's own text is rewritten instead."""
    written = (
        f"replace(to_char({expression}, 'YYYY-MM-DD\"T\"HH24:MI:SS.USTZH:TZM'), '.000000', '')"
    )
    return (
        f"CASE WHEN {expression} >= timestamptz '1980-01-01 00:00:00+00' THEN {written}"
        f" ELSE {iso_written(f'({expression})::text')} END"
    )


def iso_written(text: str) -> str:
    """SQL rewriting PostgreSQL's text of a date-time in the ISO style (2025-03-03
    12:00:00.5+08, +05:30 or +05:53:28) as `isoformat()` writes it: a T, six digits of
    microseconds where there are any, and the offset as +HH:MM (with seconds where a
    zone's offset has them). `text` is evaluated several times: a column, where it
    matters."""
    tail = f"substr({text}, 20)"  # the fraction, if any, and the offset
    sign = f"strpos(translate({tail}, '-', '+'), '+')"
    fraction = f"left({tail}, {sign} - 1)"
    offset = f"substr({tail}, {sign})"
    return (
        f"overlay(left({text}, 19) placing 'T' from 11)"
        f" || CASE WHEN {sign} = 1 THEN '' ELSE rpad({fraction}, 7, '0') END"
        f" || CASE WHEN length({offset}) = 3 THEN {offset} || ':00' ELSE {offset} END"
    )


def iso_utc(expression: str) -> str:
    """SQL for `isoformat()` of a date-time as the database driver gives it (in UTC)."""
    local = f"({expression} AT TIME ZONE 'UTC')::text"
    return (
        f"overlay(CASE WHEN length({local}) > 19 THEN rpad({local}, 26, '0') ELSE {local} END"
        f" placing 'T' from 11) || '+00:00'"
    )


def iso_date(expression: str) -> str:
    return f"({expression})::text"  # in the ISO date style (`sql_ready`)


def _iso_time(expression: str) -> str:
    # PostgreSQL trims a fraction's trailing zeros; isoformat() writes six digits.
    text = f"({expression})::text"
    return f"CASE WHEN strpos({text}, '.') > 0 THEN rpad({text}, 15, '0') ELSE {text} END"


def _flag(expression: str) -> str:
    return f"CASE WHEN {expression} THEN 'Y' WHEN NOT {expression} THEN 'N' END"


def _zone_name() -> str | None:
    zone = timezone.get_current_timezone()
    return zone.key if isinstance(zone, ZoneInfo) and zone.key else None


def sql_ready() -> bool:
    """Whether this connection can write the audit trail: PostgreSQL, in the ISO date
    style (dates as YYYY-MM-DD), and a site time zone that PostgreSQL can be given by
    name."""
    if connection.vendor != "postgresql" or _zone_name() is None:
        return False
    connection.ensure_connection()
    info = connection.connection.info
    return (info.parameter_status("DateStyle") or "").startswith("ISO") and (
        info.parameter_status("IntervalStyle") in (None, "postgres")
    )


def text_of(field: models.Field, expression: str) -> str:
    """SQL for `cells.cell` of one field's value: the text the Python path writes."""
    if isinstance(field, models.ForeignKey):
        return f"({expression})::text"
    if isinstance(field, models.BooleanField):
        return _flag(expression)
    if isinstance(field, models.CharField | models.TextField):
        return neutralised(expression)
    if isinstance(field, models.DateTimeField):
        return iso_datetime(expression)
    if isinstance(field, models.DateField):
        return iso_date(expression)
    if isinstance(field, models.TimeField):
        return _iso_time(expression)
    if isinstance(field, models.DecimalField | models.IntegerField | models.AutoField):
        # Numbers as stored (a decimal keeps its scale, as Decimal's "f" format does): never
        # a formula, so never neutralised.
        return f"({expression})::text"
    raise NotImplementedError(f"No SQL for a {type(field).__name__} in the audit trail.")


def _is_number(field: models.Field) -> bool:
    return isinstance(field, models.IntegerField | models.AutoField | models.DecimalField)


def _shown(key: models.ForeignKey, shown: models.Field, value: str) -> str:
    """SQL for what a key's value is shown by (a visit's code, a user's username)."""
    return (
        f"(SELECT s.{shown.column} FROM {shown.model._meta.db_table} s"
        f" WHERE s.{key.target_field.column} = {value})"
    )


def _compared(shown: models.Field, value: str, name: str) -> str:
    """A key's value as the Python path compares it: shown by its target's name (`name`),
    or as the id where the target is gone; an id is a number, a name a number or a text,
    and the comparison keeps their kind (the id 7 is the number 7, never the code "7")."""
    kind = "'n'" if _is_number(shown) else "'t'"
    return (
        f"CASE WHEN {value} IS NULL THEN NULL WHEN {name} IS NULL"
        f" THEN 'n' || ({value})::text ELSE {kind} || ({name})::text END"
    )


@dataclass(frozen=True)
class HistorySql:
    """What an `Audited` entry says in SQL, over the history row `h` and its record's
    previous version `p` (all NULL where there is none).

    record: the record's natural key, a text (before neutralisation; None is written
        empty), and whether it can never read as a formula (a date, a prefixed number).
    action: the action's name, or NULL for the default (created / changed / deleted).
    created: the creation row's new value, a text (before neutralisation), or None.
    previous: the rows whose previous version the action reads (a change always needs it).
    """

    record: str
    record_safe: bool = False
    action: str | None = None
    created: str | None = None
    previous: str = "h.history_type = '~'"


def history_select_sql(
    audited: Any, *, skipped: set[str], shown_as: dict[str, str], actions: dict[str, str]
) -> str:
    """The query of one `exchange.audit_trail.Audited` history table's rows, in the Python
    path's order: record, time, history id, then (`copy_blocks`) the fields in the table's
    order.

    The table is read in that order off its index on (id, history_date, history_id) (the
    `*_audit` migrations); a change's previous version is the row before it in that
    index, looked up only for the rows that need it. The user and the participant are
    joined by nested loops (cached), which keep the order: nothing is sorted but the
    changed fields of one change.
    """
    if audited.sql is None:
        raise NotImplementedError(f"{audited.dataset} has no SQL.")
    history = audited.model.history.model
    meta = history._meta
    table = meta.db_table
    user = get_user_model()._meta
    tracked = list(history.tracked_fields)

    def named(table: str, name: str, key: str, value: str) -> str:
        """The cell of a row's name (`name` of `table` where `key` is `value`), as `n`: in
        a subquery of its own, which PostgreSQL caches per value (Memoize), so a name is
        looked up and neutralised once, not once per history row."""
        return (
            f"(SELECT {neutralised(name, empty_as_null=True)} AS n FROM {table}"
            f" WHERE {key} = {value} OFFSET 0)"
        )

    username = user.get_field("username").column
    history_user = f"h.{meta.get_field('history_user').column}"
    by = named(user.db_table, username, user.pk.column, history_user)
    joins = [f"LEFT JOIN LATERAL {by} u ON true"]
    owner = "NULL"  # the database lock belongs to no participant
    if audited.model._meta.model_name == "participant":
        owner = neutralised("h.subject_id", empty_as_null=True)
    elif "participant_id" in {f.attname for f in tracked}:
        participant = meta.get_field("participant").related_model._meta
        subject_id = participant.get_field("subject_id").column
        row = named(participant.db_table, subject_id, participant.pk.column, "h.participant_id")
        joins.append(f"LEFT JOIN LATERAL {row} o ON true")
        owner = "o.n"
    # The time's text by a subquery of its own: PostgreSQL caches it per distinct time
    # (Memoize) where times repeat, as a set-based write's rows share one.
    joins.append(
        f"LEFT JOIN LATERAL (SELECT {iso_datetime('h.history_date')} AS at OFFSET 0) t ON true"
    )
    earlier = (
        f"FROM {table} p WHERE p.id = h.id"
        " AND (p.history_date, p.history_id) < (h.history_date, h.history_id)"
    )
    last = "ORDER BY p.history_date DESC, p.history_id DESC LIMIT 1"
    # Where only a change needs its previous version, the change's list reads it (one
    # subquery a row rescanned, not two); where the action reads it, it is joined.
    joined = audited.sql.previous != HistorySql.previous
    if joined:
        joins.append(
            f"LEFT JOIN LATERAL (SELECT * {earlier} AND ({audited.sql.previous}) {last}) p ON true"
        )
    changes = []
    names: list[str] = []
    for f in tracked:
        if f.name in skipped:
            continue
        new, old = f"h.{f.column}", f"p.{f.column}"
        changed = f"{new} IS DISTINCT FROM {old}"
        new_text, old_text = text_of(f, new), text_of(f, old)
        if isinstance(f, models.ForeignKey) and f.name in shown_as:
            shown_field = f.related_model._meta.get_field(shown_as[f.name])
            # Each name is looked up once, in a subquery of the change's own (a list
            # of subplans would each be rescanned for every row).
            i = len(names)
            names += [
                f"{_shown(f, shown_field, new)} AS s{i}",
                f"{_shown(f, shown_field, old)} AS s{i + 1}",
            ]
            new_name, old_name = f"s.s{i}", f"s.s{i + 1}"
            changed += f" AND {_compared(shown_field, new, new_name)}"
            changed += f" IS DISTINCT FROM {_compared(shown_field, old, old_name)}"
            new_text = f"COALESCE({text_of(shown_field, new_name)}, {new_text})"
            old_text = f"COALESCE({text_of(shown_field, old_name)}, {old_text})"
        changes.append((audited.columns.get(f.name, f.name), changed, old_text, new_text))
    default = "CASE h.history_type "
    default += " ".join(f"WHEN {_literal(k)} THEN {_literal(v)}" for k, v in actions.items())
    default += f" ELSE {neutralised('h.history_type')} END"
    action = default
    if audited.sql.action:
        action = neutralised(f"COALESCE(NULLIF({audited.sql.action}, ''), {default})")
    # A change with a previous version is listed field by field, a row per changed field
    # (none if nothing changed); any other entry is one row, the left join's empty match.
    # The list is evaluated under a one-time filter, only for such a change (OFFSET 0 keeps
    # the planner from pulling it up into the join, where it would be evaluated for all).
    diffed = "h.history_type = '~' AND p.history_id IS NOT NULL"
    listed = diffed if joined else "h.history_type = '~'"
    if not joined:  # a change that lists nothing: none earlier, or nothing changed
        diffed = f"h.history_type = '~' AND EXISTS (SELECT 1 {earlier})"
    values = ",\n    ".join(
        f"({n}, {_literal(column)}, {changed}, {old_text}, {new_text})"
        for n, (column, changed, old_text, new_text) in enumerate(changes, start=1)
    )
    if not values:
        values = "(0, NULL::text, false, NULL::text, NULL::text)"
    looked_up = f"LATERAL (SELECT {', '.join(names) or 'NULL'} OFFSET 0) s"
    read = "" if joined else f"(SELECT * {earlier} {last}) p, "
    joins.append(
        f"LEFT JOIN LATERAL (SELECT v.n, v.field, v.old, v.new FROM {read}{looked_up},\n"
        f"  LATERAL (VALUES\n    {values}\n"
        f"  ) v(n, field, changed, old, new) WHERE {listed} AND v.changed OFFSET 0) x ON true"
    )
    created = neutralised(audited.sql.created) if audited.sql.created else "NULL::text"
    record = audited.sql.record
    record = (
        f"NULLIF({record}, '')"
        if audited.sql.record_safe
        else neutralised(record, empty_as_null=True)
    )
    # COPY writes an empty text quoted and NULL empty; the csv module writes both empty:
    # a text that may be empty is written NULL instead.
    cells = [
        "t.at",  # never empty, nor the dataset or a field's name
        "u.n",
        f"NULLIF({action}, '')",
        _literal(cell(audited.dataset)),
        owner,
        record,
        "x.field",
        "NULLIF(x.old, '')",
        f"NULLIF(CASE WHEN x.n IS NULL THEN {created} ELSE x.new END, '')",
        neutralised("h.history_change_reason", empty_as_null=True),
    ]
    selected = ",\n  ".join(cells)
    return (
        f"SELECT\n  {selected}\n"
        f"FROM {table} h\n{chr(10).join(joins)}\n"
        f"WHERE x.n IS NOT NULL OR NOT ({diffed})\n"
        f"ORDER BY h.id, h.history_date, h.history_id"
    )


def copy_blocks(select: str, *, size: int) -> Iterator[tuple[bytes, int]]:
    """`select`'s rows (`history_select_sql`) as CSV in blocks of about `size` bytes, with
    their number of rows, each line ended CR LF as the csv module ends it.

    The query orders the versions; a change's fields come in the order of its list, which
    a plan of nested loops with no sort keeps (each version's list is read whole, in
    order, before the next version). Where the plan has anything else, the fields are
    ordered by their place too: sorting every row costs a fifth of the time.

    COPY sends one message per row: a line ends at each message's end, whatever newlines a
    quoted value holds.
    """
    with connection.cursor() as cursor:
        raw = cursor.cursor
        # While the COPY runs, the session's zone is the site's (date-times are written in
        # it), and JIT is off: the plan's cost is mostly subqueries that run only for a
        # change, and compiling it would take longer than running it. Then the settings
        # are restored: a zone left changed would change what the driver gives back. (In a
        # failed transaction, its rollback undoes the SET.)
        raw.execute("SELECT current_setting('TimeZone'), current_setting('jit')")
        previous = raw.fetchone()
        raw.execute(_SETTINGS, [_zone_name(), "off"])
        try:
            raw.execute(f"EXPLAIN (FORMAT JSON) {select}")
            if not _keeps_order(raw.fetchone()[0][0]["Plan"]):
                select += ", x.n"
            with raw.copy(f"COPY ({select}) TO STDOUT (FORMAT csv)") as copy:
                yield from copied_blocks(copy, size=size)
        finally:
            if raw.connection.info.transaction_status != TransactionStatus.INERROR:
                raw.execute(_SETTINGS, previous)


def copied_blocks(copy: Any, *, size: int) -> Iterator[tuple[bytes, int]]:
    """What a `COPY ... TO STDOUT (FORMAT csv)` (psycopg's `copy`, begun) writes, as blocks
    of about `size` bytes, each line ended CR LF, with their number of rows.

    The rows are read from libpq itself, one call a row, which costs a third of reading
    them through the driver's copy iterator: an export reads millions. Read to its end,
    the COPY's closing result read too, the driver has nothing left to finish; left
    early (an error, a download dropped), the driver's copy block cancels and drains it.
    """
    pgconn = copy.connection.pgconn
    read = pgconn.get_copy_data
    block, rows = bytearray(), 0
    while True:
        length, row = read(0)  # waits for the next row; -1 at the end
        if length < 0:
            break
        block += row
        rows += 1
        if len(block) >= size:
            yield _crlf(block, rows), rows
            block, rows = bytearray(), 0
    results = []
    while (result := pgconn.get_result()) is not None:
        results.append(result)
    failed = [r for r in results if r.status != pq.ExecStatus.COMMAND_OK]
    if failed:
        message = failed[0].error_message.decode(errors="replace")
        raise DatabaseError(f"The export's COPY failed: {message}")
    if rows:
        yield _crlf(block, rows), rows


# Nodes that return their input's rows in its order, or the inner rows of one outer row
# together and in their order (a nested loop).
_ORDER_KEEPING = {
    "Nested Loop",
    "Index Scan",
    "Index Only Scan",
    "Memoize",
    "Result",
    "Limit",
    "Values Scan",
    "Materialize",
    "Seq Scan",
    "Subquery Scan",
}


def _keeps_order(plan: dict[str, Any]) -> bool:
    """Whether a plan keeps the rows in the order its query builds them: the ORDER BY met
    without a sort, by the outer index scan of nested loops."""
    if plan["Node Type"] not in _ORDER_KEEPING:
        return False
    return all(_keeps_order(child) for child in plan.get("Plans", ()))


_SETTINGS = "SELECT set_config('TimeZone', %s, false), set_config('jit', %s, false)"


def _crlf(data: bytearray, rows: int) -> bytes:
    """Rows as COPY ends them (LF) as the csv module ends them (CR LF). A line feed inside
    a value is inside its quotes: after an odd number of quote characters in its row
    (a quote inside a value is doubled)."""
    if data.count(b"\n") == rows:  # no line feed inside a value
        return bytes(data).replace(b"\n", b"\r\n")
    lines, inside = [], False
    for piece in bytes(data).split(b"\n")[:-1]:
        inside ^= piece.count(b'"') % 2 == 1
        lines.append(piece + (b"\n" if inside else b"\r\n"))
    return b"".join(lines)
