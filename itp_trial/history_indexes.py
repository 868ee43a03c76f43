"""The index each history table gets for the audit trail export.

The export reads each history table in record and time order (each record's versions by
date, then history id): an index in that order lets PostgreSQL stream it, and find a
change's previous version, without sorting (`exchange.audit_trail_sql`). It is not part of
the models' state: simple-history builds the history models, and the index is the
export's, so each app's migration creates it by name, on both databases, through
`history_order_indexes`.
"""

from __future__ import annotations

from django.db import migrations


def history_order_indexes(tables: tuple[str, ...]) -> migrations.RunSQL:
    """The migration operation that adds (and, reversed, drops) the tables' indexes."""

    def name(table: str) -> str:
        return f"{table}_order_audit"

    return migrations.RunSQL(
        sql=[
            f"CREATE INDEX IF NOT EXISTS {name(t)} ON {t} (id, history_date, history_id)"
            for t in tables
        ],
        reverse_sql=[f"DROP INDEX IF EXISTS {name(t)}" for t in tables],
    )
