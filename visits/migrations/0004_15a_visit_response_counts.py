"""Each visit's count of its platelet counts by IWG category, stored for the overview and
filled by the one rule for the existing data."""

from django.db import migrations, models


def responses_fill(apps, schema_editor):
    from visits.services.sync import responses_fill

    responses_fill(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("visits", "0003_15a_stored_response"),
    ]

    operations = [
        migrations.AddField(
            model_name="visit",
            name="response_cr",
            field=models.PositiveSmallIntegerField(default=0, editable=False),
        ),
        migrations.AddField(
            model_name="visit",
            name="response_ne",
            field=models.PositiveSmallIntegerField(default=0, editable=False),
        ),
        migrations.AddField(
            model_name="visit",
            name="response_nr",
            field=models.PositiveSmallIntegerField(default=0, editable=False),
        ),
        migrations.AddField(
            model_name="visit",
            name="response_r",
            field=models.PositiveSmallIntegerField(default=0, editable=False),
        ),
        migrations.RunPython(responses_fill, migrations.RunPython.noop),
    ]
