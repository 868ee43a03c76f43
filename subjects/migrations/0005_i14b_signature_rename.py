"""The sign-off becomes the investigator's signature: the same table and history rows,
renamed (the data are carried over by 0007)."""

from django.conf import settings
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("subjects", "0004_merge_20261201_2117"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RenameModel("SignOff", "Signature"),
        migrations.RenameModel("HistoricalSignOff", "HistoricalSignature"),
    ]
