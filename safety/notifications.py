"""E-mails about flags: the immediate SAE alert and the daily digest.

The recipients come from the roles (active users of the group with an e-mail address).
Each one reads the message in their own language (the preference saved on the account,
else the site's default), whoever's save triggered it.
Django's e-mail backend sends them: the console in the demo, SMTP in production.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage, get_connection
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from itp_trial import protocol
from itp_trial.language import preferred_language
from itp_trial.roles import COORDINATOR, INVESTIGATOR

from .models import Flag, FlagKind

logger = logging.getLogger(__name__)

DIGEST_HOURS = 24


def role_emails(*, roles: Iterable[str]) -> list[str]:
    """The e-mail addresses of the active users in any of `roles`, each once."""
    return sorted(
        set(
            get_user_model()
            .objects.filter(is_active=True, groups__name__in=list(roles))
            .exclude(email="")
            .values_list("email", flat=True)
        )
    )


def recipients_by_language(*, roles: Iterable[str]) -> dict[str, list[str]]:
    """role_emails, grouped by the language each recipient reads."""
    users = (
        get_user_model()
        .objects.filter(is_active=True, groups__name__in=list(roles))
        .exclude(email="")
        .select_related("preference")
        .distinct()
    )
    by_language: dict[str, set[str]] = {}
    for user in users:
        language = preferred_language(user) or settings.LANGUAGE_CODE
        by_language.setdefault(language, set()).add(user.email)
    return {language: sorted(emails) for language, emails in sorted(by_language.items())}


def _send(subject: str, body: str, recipients: Sequence[str]) -> int:
    """One message per recipient over one connection, so no one sees the others' addresses."""
    prefix = f"[{protocol.REGISTRY_ID}] "
    messages = [
        EmailMessage(prefix + subject, body, settings.DEFAULT_FROM_EMAIL, [address])
        for address in recipients
    ]
    if not messages:
        return 0
    return get_connection().send_messages(messages) or 0


def _flag_line(flag: Flag) -> str:
    about = flag.visit.code if flag.visit_id else ""
    if flag.infusion_id:
        about = flag.infusion.visit_code
    elif flag.adverse_event_id:
        about = f"AE{flag.adverse_event.ae_number}"
    subject_id = flag.participant.subject_id
    return f"- {subject_id} {about}: {flag.get_kind_display()}. {flag.detail_display}"


def sae_overdue_notify(*, flag_ids: Sequence[int]) -> int:
    """E-mail the investigators about SAE reports that just became overdue.

    Called by the checks for the flags they raised in this run only, so each overdue report
    is announced once. A failure to send is logged, not raised: the flag stands, it is on
    the flags page and in the next daily digest.
    """
    flags = list(
        Flag.objects.filter(pk__in=flag_ids, kind=FlagKind.SAE_REPORT_OVERDUE)
        .select_related("participant", "adverse_event")
        .order_by("participant__subject_id", "adverse_event__ae_number")
    )
    recipients = recipients_by_language(roles=[INVESTIGATOR])
    if not flags or not recipients:
        if flags:
            logger.warning("notifications: no investigator has an e-mail address")
        return 0

    def message() -> tuple[str, str]:
        subject = _("SAE report overdue: %(events)s") % {
            "events": ", ".join(
                f"{f.participant.subject_id} AE{f.adverse_event.ae_number}" for f in flags
            )
        }
        body = "\n".join(
            [
                _(
                    "A serious adverse event must be reported within %(hours)s hours of site "
                    "awareness. These reports are overdue:"
                )
                % {"hours": protocol.SAE_REPORT_HOURS},
                "",
                *(f"- {f.participant.subject_id}: {f.detail_display}" for f in flags),
                "",
                _(
                    "Enter the report time in the EDC once the report is made; "
                    "the flag then resolves."
                ),
            ]
        )
        return subject, body

    try:
        return _send_each_language(message, recipients)
    except Exception:  # the flag is raised either way; the digest repeats it
        logger.exception("notifications: could not send the SAE alert for flags %s", flag_ids)
        return 0


def flags_digest_send(*, now: datetime | None = None) -> int:
    """The daily digest: flags raised in the last 24 hours, to coordinators and investigators.

    Nothing is sent on a day without new flags. Returns the number of messages sent.
    """
    now = now or timezone.now()
    flags = list(
        Flag.objects.filter(raised_at__gt=now - timedelta(hours=DIGEST_HOURS), raised_at__lte=now)
        .select_related("participant", "visit", "infusion", "adverse_event")
        .order_by("kind", "participant__subject_id", "raised_at")
    )
    if not flags:
        return 0
    recipients = recipients_by_language(roles=[COORDINATOR, INVESTIGATOR])
    by_kind: dict[str, list[Flag]] = {}
    for flag in flags:
        by_kind.setdefault(flag.kind, []).append(flag)

    def message() -> tuple[str, str]:
        lines = [
            _("%(count)s new flags in the last %(hours)s hours.")
            % {"count": len(flags), "hours": DIGEST_HOURS}
        ]
        for kind in FlagKind:
            if kind.value in by_kind:
                lines += ["", f"{kind.label} ({len(by_kind[kind.value])})"]
                lines += [_flag_line(f) for f in by_kind[kind.value]]
        lines += ["", _("Review and acknowledge them on the flags page of the EDC.")]
        subject = _("Daily digest: %(count)s new flags") % {"count": len(flags)}
        return subject, "\n".join(lines)

    return _send_each_language(message, recipients)


def _send_each_language(
    message: Callable[[], tuple[str, str]], recipients: dict[str, list[str]]
) -> int:
    """Write the message once per language, in that language, and send it to its readers."""
    sent = 0
    for language, addresses in recipients.items():
        with translation.override(language):
            subject, body = message()
        sent += _send(subject, body, addresses)
    return sent
