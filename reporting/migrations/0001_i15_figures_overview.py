"""The trial overview's stored figures: one row per participant and the ledger of their
sums, filled for the existing data by the one computation (reporting.figures)."""

import django.db.models.deletion
from django.db import migrations, models


def figures_fill(apps, schema_editor):
    from reporting.figures import figures_fill

    figures_fill(apps)


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("subjects", "0007_i14b_signoffs_to_signatures"),
        ("visits", "0004_15a_visit_response_counts"),
        ("infusions", "0004_i11_dose_tolerance"),
        ("safety", "0006_i15d_flag_open_raised_at"),
    ]

    operations = [
        migrations.CreateModel(
            name="FigureDelta",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("key", models.CharField(max_length=64)),
                ("n", models.BigIntegerField()),
            ],
        ),
        migrations.CreateModel(
            name="ParticipantFigures",
            fields=[
                (
                    "participant",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to="subjects.participant",
                    ),
                ),
                ("figures", models.TextField(blank=True, default="")),
            ],
        ),
        migrations.RunPython(figures_fill, migrations.RunPython.noop),
    ]
