"""The audit trail export reads each history table in record and time order (each record's
versions by date, then history id): an index in that order lets PostgreSQL stream it, and
find a change's previous version, without sorting (exchange.audit_trail_sql).

Not part of the models' state: simple-history builds the history models, and the index is
the export's, so it is created here by name on both databases.
"""

from django.db import migrations

TABLES = (
    "safety_historicaladverseevent",
    "safety_historicalconcomitantmedication",
    "safety_historicalflag",
    "safety_historicaldataquery",
    "safety_historicalverification",
)


def _name(table: str) -> str:
    return f"{table}_order_audit"


class Migration(migrations.Migration):
    dependencies = [("safety", "0008_ae_sae_unreported_lists")]

    operations = [
        migrations.RunSQL(
            sql=[
                f"CREATE INDEX IF NOT EXISTS {_name(t)} ON {t} (id, history_date, history_id)"
                for t in TABLES
            ],
            reverse_sql=[f"DROP INDEX IF EXISTS {_name(t)}" for t in TABLES],
        )
    ]
