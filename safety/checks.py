"""The background checks of protocol section 6: raise and resolve flags, set-based."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.utils import timezone

from visits.services import schedule_sync


def checks_run(
    *, participant_ids: Iterable[int] | None = None, now: datetime | None = None
) -> dict:
    """Bring the stored schedule up to date, then raise and resolve every flag kind."""
    now = now or timezone.now()
    ids = list(participant_ids) if participant_ids is not None else None
    schedule_sync(participant_ids=ids, today=timezone.localdate(now))
    return {}
