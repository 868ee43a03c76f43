"""The visits app's work that the apps below it set off by name (itp_trial.tasks).

Both run in the caller's process and transaction (`itp_trial.tasks.task_run`): the caller's
page shows the schedule they produce.
"""

from __future__ import annotations

from datetime import date

from celery import shared_task
from django.contrib.auth import get_user_model

from itp_trial.tasks import PARTICIPANT_CHANGED, SCHEDULE_CREATE

from .services import participant_changed, schedule_create


@shared_task(name=SCHEDULE_CREATE)
def schedule_create_task(*, participant_id: int, screening_date: date, user_id: int | None) -> None:
    user = get_user_model().objects.get(pk=user_id) if user_id is not None else None
    schedule_create(participant_id=participant_id, screening_date=screening_date, user=user)


@shared_task(name=PARTICIPANT_CHANGED)
def participant_changed_task(*, participant_id: int, today: date | None = None) -> None:
    participant_changed(participant_id=participant_id, today=today)
