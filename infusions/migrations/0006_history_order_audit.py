"""The audit trail export's index on each history table of this app
(`itp_trial.history_indexes`)."""

from django.db import migrations

from itp_trial.history_indexes import history_order_indexes

TABLES = ("infusions_historicalinfusion",)


class Migration(migrations.Migration):
    dependencies = [("infusions", "0005_i15_infusion_deviating_overview")]

    operations = [history_order_indexes(TABLES)]
