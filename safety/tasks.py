"""Celery tasks: thin, idempotent, taking ids; the work is in safety.checks."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import transaction

from .checks import checks_run

logger = logging.getLogger(__name__)


@shared_task(autoretry_for=(Exception,), retry_backoff=True, retry_backoff_max=600, max_retries=5)
def checks_run_all(full: bool = False) -> dict:
    """The periodic run (hourly, and a nightly full pass) over every participant."""
    return checks_run()


@shared_task(autoretry_for=(Exception,), retry_backoff=True, retry_backoff_max=600, max_retries=5)
def checks_run_for_participant(participant_id: int) -> dict:
    """The immediate run for the participant whose data just changed."""
    return checks_run(participant_ids=[participant_id])


def checks_enqueue_for_participant(participant_id: int) -> None:
    """Queue the participant's checks once the transaction commits.

    A broker that is down must not fail the coordinator's save: the failure is logged and
    the next periodic run catches up.
    """

    def enqueue() -> None:
        try:
            checks_run_for_participant.delay(participant_id)
        except Exception:
            logger.warning(
                "checks: could not enqueue for participant %s", participant_id, exc_info=True
            )

    transaction.on_commit(enqueue)
