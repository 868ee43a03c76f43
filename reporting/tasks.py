"""The reporting app's work that the apps below it set off by name (itp_trial.tasks).

It runs in the caller's process and transaction (`itp_trial.tasks.task_run`): the
overview's figures move with the write that moved them.
"""

from __future__ import annotations

from celery import shared_task

from itp_trial.tasks import FIGURES_SYNC

from .figures import figures_sync


@shared_task(name=FIGURES_SYNC)
def figures_sync_task(*, participant_ids: list[int] | None = None, sdv: bool = True) -> int:
    return figures_sync(participant_ids=participant_ids, sdv=sdv)
