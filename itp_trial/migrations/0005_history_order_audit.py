"""The audit trail export's index on each history table of this app
(`itp_trial.history_indexes`)."""

from django.db import migrations

from itp_trial.history_indexes import history_order_indexes

TABLES = ("itp_trial_historicaldatabaselock",)


class Migration(migrations.Migration):
    dependencies = [("itp_trial", "0004_merge_20261201_2250")]

    operations = [history_order_indexes(TABLES)]
