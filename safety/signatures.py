"""The investigator's signature on a participant's casebook (protocol section 8; 21 CFR
11.50 manifestation, 11.70 linking, 11.200 two components).

The signature stores the signer's full name, the time with its zone, the meaning chosen
from the protocol configuration and the sha256 of the casebook data it signed
(`safety.casebook`). Once stale, the checks raise a `signature_stale` flag, which the next
signature resolves.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from itp_trial import protocol
from itp_trial.audit import audited_save
from subjects.models import Participant, Signature

from .casebook import casebook_hashes
from .checks import sae_report_overdue, signature_flags_sync
from .models import FLAG_OPEN, AdverseEvent, Flag, FlagKind

SIGN_PERMISSION = "subjects.sign_casebook"  # investigators


def sae_report_open(participant_id: int, *, now: datetime) -> bool:
    """Whether the participant has an SAE report overdue: an open flag, or an overdue report
    the checks have not flagged yet."""
    if Flag.objects.filter(
        FLAG_OPEN, participant_id=participant_id, kind=FlagKind.SAE_REPORT_OVERDUE
    ).exists():
        return True
    return AdverseEvent.objects.filter(
        sae_report_overdue(now), participant_id=participant_id
    ).exists()


def signer_name(user: Any) -> str:
    return user.get_full_name() or user.username


@transaction.atomic
def casebook_sign(
    *,
    participant_id: int,
    user: Any,
    password: str,
    meaning: str,
    now: datetime | None = None,
) -> Signature:
    """The investigator signs the participant's casebook as it stands now.

    The password is asked again (the second component of the signature, with the logged-in
    account); a wrong one is refused and nothing is written. Refused while the participant
    has an SAE report overdue, and on a locked casebook. Resolves the participant's
    `signature_stale` flag.
    """
    if not user.has_perm(SIGN_PERMISSION):
        raise PermissionDenied(_("Only an investigator can sign a casebook."))
    errors: dict[str, str] = {}
    if meaning not in protocol.SIGNATURE_MEANING_TEXT:
        errors["meaning"] = _("Choose what your signature means.")
    if not password or not user.check_password(password):
        errors["password"] = _("The password is not correct; nothing was signed.")
    if errors:
        raise ValidationError(errors)
    now = now or timezone.now()
    participant = Participant.objects.select_for_update().get(pk=participant_id)
    if sae_report_open(participant.pk, now=now):
        raise ValidationError(
            _(
                "%(id)s has a serious adverse event whose report is overdue: enter the report "
                "time before signing."
            )
            % {"id": participant.subject_id}
        )
    signature = Signature(
        participant=participant,
        signed_by=user,
        signer_name=signer_name(user),
        signed_at=now,
        time_zone=timezone.get_current_timezone_name(),
        meaning=meaning,
        statement=str(protocol.SIGNATURE_MEANING_TEXT[meaning]),
        content_hash=casebook_hashes([participant.pk])[participant.pk],
    )
    audited_save(signature, user=user)
    signature_flags_sync(participant_ids=[participant.pk], now=now)
    return signature
