"""The stored IWG response: a row per participant and a category per platelet count, filled
for the existing data by the one rule (visits.response.response_summarise)."""

import django.db.models.deletion
from django.db import migrations, models


def responses_fill(apps, schema_editor):
    from visits.services.sync import responses_fill

    responses_fill(apps, visits=False)


class Migration(migrations.Migration):
    dependencies = [
        ("subjects", "0007_i14b_signoffs_to_signatures"),
        ("visits", "0002_versions_and_chained_history"),
        ("infusions", "0004_i11_dose_tolerance"),
        ("safety", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="ParticipantResponse",
            fields=[
                (
                    "participant",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="stored_response",
                        serialize=False,
                        to="subjects.participant",
                    ),
                ),
                ("baseline_platelets", models.PositiveIntegerField(blank=True, null=True)),
                ("best_response", models.CharField(db_index=True, max_length=2)),
                ("time_to_response_days", models.IntegerField(blank=True, null=True)),
                ("response_start", models.DateField(blank=True, null=True)),
                ("response_lost_on", models.DateField(blank=True, null=True)),
                ("response_duration_days", models.IntegerField(blank=True, null=True)),
            ],
        ),
        migrations.AddField(
            model_name="plateletcount",
            name="response_category",
            field=models.CharField(blank=True, default="", editable=False, max_length=2),
        ),
        migrations.RunPython(responses_fill, migrations.RunPython.noop),
    ]
