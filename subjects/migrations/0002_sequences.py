from django.db import migrations


def create_sequences(apps, schema_editor):
    counter = apps.get_model("subjects", "SequenceCounter")
    for name in ("subject_id", "screening_number"):
        counter.objects.get_or_create(name=name, defaults={"value": 0})


class Migration(migrations.Migration):
    dependencies = [("subjects", "0001_initial")]

    operations = [migrations.RunPython(create_sequences, migrations.RunPython.noop)]
