"""The audit trail export's index on each history table of this app
(`itp_trial.history_indexes`)."""

from django.db import migrations

from itp_trial.history_indexes import history_order_indexes

TABLES = (
    "safety_historicaladverseevent",
    "safety_historicalconcomitantmedication",
    "safety_historicalflag",
    "safety_historicaldataquery",
    "safety_historicalverification",
)


class Migration(migrations.Migration):
    dependencies = [("safety", "0008_ae_sae_unreported_lists")]

    operations = [history_order_indexes(TABLES)]
