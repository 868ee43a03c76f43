from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("infusions", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="infusion",
            name="planned_cells",
            field=models.PositiveBigIntegerField(default=0, editable=False, verbose_name="planned cells"),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="infusion",
            name="dose_deviation",
            field=models.BooleanField(default=False, editable=False, verbose_name="dose deviation"),
        ),
        migrations.AddField(
            model_name="historicalinfusion",
            name="planned_cells",
            field=models.PositiveBigIntegerField(default=0, editable=False, verbose_name="planned cells"),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="historicalinfusion",
            name="dose_deviation",
            field=models.BooleanField(default=False, editable=False, verbose_name="dose deviation"),
        ),
    ]
