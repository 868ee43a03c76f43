"""Carry the sign-offs over as signatures. A sign-off asked no password and was not tied to
the data it signed, so each becomes a signature with the signer's full name, an empty hash
and no meaning, stale from now: the investigator signs again. Each change is recorded in
the signature's history."""

from django.conf import settings
from django.db import migrations
from django.utils import timezone

REASON = "Sign-off carried over as a signature: not tied to the data, signature required"


def forward(apps, schema_editor):
    Signature = apps.get_model("subjects", "Signature")
    History = apps.get_model("subjects", "HistoricalSignature")
    now = timezone.now()
    for signature in Signature.objects.select_related("signed_by").order_by("pk"):
        user = signature.signed_by
        signature.signer_name = (f"{user.first_name} {user.last_name}".strip() or user.username)
        signature.time_zone = settings.TIME_ZONE
        signature.stale_at = now
        signature.stale_reason = REASON
        signature.version += 1
        signature.save()
        History.objects.create(
            id=signature.pk,
            participant_id=signature.participant_id,
            signed_by_id=signature.signed_by_id,
            signer_name=signature.signer_name,
            signed_at=signature.signed_at,
            time_zone=signature.time_zone,
            meaning=signature.meaning,
            statement=signature.statement,
            content_hash=signature.content_hash,
            stale_at=signature.stale_at,
            stale_reason=signature.stale_reason,
            version=signature.version,
            history_date=now,
            history_type="~",
            history_change_reason=REASON,
            history_user_id=None,
        )


class Migration(migrations.Migration):
    dependencies = [("subjects", "0006_i14b_signatures_and_locks")]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
