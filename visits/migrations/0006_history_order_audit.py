"""The audit trail export's index on each history table of this app
(`itp_trial.history_indexes`)."""

from django.db import migrations

from itp_trial.history_indexes import history_order_indexes

TABLES = (
    "visits_historicalvisit",
    "visits_historicalplateletcount",
)


class Migration(migrations.Migration):
    dependencies = [("visits", "0005_visit_window_status_one_index_fullpass")]

    operations = [history_order_indexes(TABLES)]
