"""Set off the work of a higher layer without importing it: its Celery task, found by name.

An app may import only the apps below it (see the README's "Development" section). When a
write in a lower app has consequences in a higher one (the schedule resync after a
participant's data changes, the checks after any write), the lower app names the task.
The apps register their tasks when they load (their `AppConfig.ready`).
"""

from __future__ import annotations

import logging
from typing import Any

from celery import current_app
from django.db import transaction

logger = logging.getLogger(__name__)

# The consequences of a write, by task name.
SCHEDULE_CREATE = "visits.schedule_create"
PARTICIPANT_CHANGED = "visits.participant_changed"
CHECKS_FOR_PARTICIPANT = "safety.tasks.checks_run_for_participant"
CHECKS_FOR_PARTICIPANTS = "safety.tasks.checks_run_for_participants"
# The trial overview's stored figures (reporting.figures), after any write that moves them.
FIGURES_SYNC = "reporting.figures_sync"


def task_run(name: str, **kwargs: Any) -> Any:
    """Run the task now, in this process and transaction: the caller needs its effect."""
    return current_app.tasks[name](**kwargs)


def task_enqueue_on_commit(name: str, **kwargs: Any) -> None:
    """Queue the task once the transaction commits (in-process when no broker is set).

    A broker that is down must not fail the user's save: the failure is logged and the next
    periodic run catches up.
    """

    def enqueue() -> None:
        try:
            current_app.tasks[name].delay(**kwargs)
        except Exception:
            logger.warning("could not enqueue %s %s", name, kwargs, exc_info=True)

    transaction.on_commit(enqueue)
