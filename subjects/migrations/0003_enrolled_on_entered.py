"""`enrolled_on` becomes an entered date (protocol section 3).

It was stamped with the day the enrolment was saved. Rows enrolled before this migration
keep that date; a participant with a planned infusion 1 but no enrolment date (written
outside the services) gets the date its record was created, in the site's time zone,
never before consent.
"""

from django.db import migrations, models
from django.utils import timezone


def backfill_enrolled_on(apps, schema_editor):
    Participant = apps.get_model("subjects", "Participant")
    missing = Participant.objects.filter(
        enrolled_on__isnull=True, planned_first_infusion_date__isnull=False
    )
    for participant in missing.iterator():
        created = timezone.localdate(participant.created_at)
        Participant.objects.filter(pk=participant.pk).update(
            enrolled_on=max(created, participant.consent_date)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("subjects", "0002_sequences"),
    ]

    operations = [
        migrations.AlterField(
            model_name="historicalparticipant",
            name="enrolled_on",
            field=models.DateField(
                blank=True,
                help_text=(
                    "The date the participant was enrolled, as on the CRF: not in the future, "
                    "not before consent."
                ),
                null=True,
                verbose_name="enrolment date",
            ),
        ),
        migrations.AlterField(
            model_name="participant",
            name="enrolled_on",
            field=models.DateField(
                blank=True,
                help_text=(
                    "The date the participant was enrolled, as on the CRF: not in the future, "
                    "not before consent."
                ),
                null=True,
                verbose_name="enrolment date",
            ),
        ),
        migrations.RunPython(backfill_enrolled_on, migrations.RunPython.noop),
    ]
