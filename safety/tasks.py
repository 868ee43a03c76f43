"""Celery tasks: thin, idempotent, taking ids; the work is in safety.checks and notifications.

The schedule is in code (settings.CELERY_BEAT_SCHEDULE): the checks every hour, a full pass
each night, the digest each morning. A task that fails retries with exponential back-off;
one that overruns its soft time limit is not retried (the next scheduled run catches up).
"""

from __future__ import annotations

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded

from .checks import checks_run
from .notifications import flags_digest_send

RETRY = {
    "autoretry_for": (Exception,),
    "dont_autoretry_for": (SoftTimeLimitExceeded,),
    "retry_backoff": True,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 5,
}


@shared_task(**RETRY, soft_time_limit=10 * 60, time_limit=15 * 60)
def checks_run_all(full: bool = False) -> dict:
    """The periodic run over every participant (hourly; `full` each night)."""
    return checks_run(full=full)


@shared_task(**RETRY, soft_time_limit=60, time_limit=2 * 60)
def checks_run_for_participant(participant_id: int) -> dict:
    """The immediate run for the participant whose data just changed."""
    return checks_run(participant_ids=[participant_id])


@shared_task(**RETRY, soft_time_limit=10 * 60, time_limit=15 * 60)
def checks_run_for_participants(participant_ids: list[int]) -> dict:
    """One run for every participant a bulk import created (queued once per import)."""
    return checks_run(participant_ids=participant_ids)


@shared_task(**RETRY, soft_time_limit=2 * 60, time_limit=5 * 60)
def flags_send_digest() -> int:
    """The daily digest of new flags to coordinators and investigators."""
    return flags_digest_send()
