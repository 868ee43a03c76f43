"""Each infusion stores the dose tolerance it is judged by, as it stores its dose per kg.

Infusions recorded before this were judged by the protocol's tolerance of the time, which is
the one in force now: it is what they get.
"""

from decimal import Decimal

from django.db import migrations, models

from itp_trial import protocol


def tolerance_backfill(apps, schema_editor):
    tolerance = Decimal(protocol.DOSE_TOLERANCE_PCT)
    for name in ("Infusion", "HistoricalInfusion"):
        apps.get_model("infusions", name).objects.filter(dose_tolerance_pct__isnull=True).update(
            dose_tolerance_pct=tolerance
        )


class Migration(migrations.Migration):
    dependencies = [("infusions", "0003_versions_and_chained_history")]

    operations = [
        *(
            migrations.AddField(
                model_name=model_name,
                name="dose_tolerance_pct",
                field=models.DecimalField(
                    decimal_places=2, editable=False, max_digits=5, null=True
                ),
            )
            for model_name in ("infusion", "historicalinfusion")
        ),
        migrations.RunPython(tolerance_backfill, migrations.RunPython.noop),
        *(
            migrations.AlterField(
                model_name=model_name,
                name="dose_tolerance_pct",
                field=models.DecimalField(
                    decimal_places=2,
                    editable=False,
                    help_text="The dose tolerance in force when the infusion was recorded.",
                    max_digits=5,
                    verbose_name="dose tolerance (%)",
                ),
            )
            for model_name in ("infusion", "historicalinfusion")
        ),
    ]
