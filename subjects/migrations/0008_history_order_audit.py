"""The audit trail export's index on each history table of this app
(`itp_trial.history_indexes`)."""

from django.db import migrations

from itp_trial.history_indexes import history_order_indexes

TABLES = (
    "subjects_historicalparticipant",
    "subjects_historicaleligibilityanswer",
    "subjects_historicalsignature",
    "subjects_historicalcasebooklock",
)


class Migration(migrations.Migration):
    dependencies = [("subjects", "0007_i14b_signoffs_to_signatures")]

    operations = [history_order_indexes(TABLES)]
