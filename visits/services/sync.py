"""Create a participant's schedule, keep it in step with the engine, queue the checks after a
write."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date
from typing import Any

from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from itp_trial import protocol
from itp_trial.locks import unlocked_participants
from itp_trial.tasks import CHECKS_FOR_PARTICIPANT, task_enqueue_on_commit
from subjects.models import Participant

from .. import schedule
from ..models import Visit
from ..selectors import participants_with_schedule, schedule_input

logger = logging.getLogger(__name__)

SCHEDULE_FIELDS = ("target_date", "window_start", "window_end", "provisional", "window_status")


def schedule_create(*, participant_id: int, screening_date: date, user: Any) -> None:
    """A row for every visit of the protocol, for a participant just screened (V1 done)."""
    visits = [
        Visit(
            participant_id=participant_id,
            code=definition.code,
            actual_date=screening_date if definition.kind == protocol.KIND_SCREENING else None,
        )
        for definition in protocol.VISITS
    ]
    bulk_create_with_history(visits, Visit, default_user=user)


def schedule_sync(
    *, participant_ids: Iterable[int] | None = None, today: date | None = None
) -> int:
    """Recompute the schedule and status of participants and store what changed.

    Set-based: three reads for any number of participants, then bulk updates of the rows
    whose derived values moved. With `participant_ids` None, every participant is synced.
    Returns the number of visit rows updated. A locked casebook is left as it stands (and
    everyone under the database lock): a locked record refuses every write.
    """
    today = today or timezone.localdate()
    queryset = unlocked_participants(Participant.objects.all(), field="")
    if participant_ids is not None:
        queryset = queryset.filter(pk__in=list(participant_ids))
    visits_changed: list[Visit] = []
    participants_changed = []
    for participant in participants_with_schedule(queryset).iterator(chunk_size=5000):
        visits = list(participant.visits.all())
        infusions = list(participant.infusions.all())
        computed = {
            s.code: s
            for s in schedule.schedule_compute(
                schedule_input(participant, visits=visits, infusions=infusions), today=today
            )
        }
        for visit in visits:
            s = computed[visit.code]
            new = (s.target, s.window_start, s.window_end, s.provisional, s.status)
            if tuple(getattr(visit, f) for f in SCHEDULE_FIELDS) != new:
                for field, value in zip(SCHEDULE_FIELDS, new, strict=True):
                    setattr(visit, field, value)
                visits_changed.append(visit)
        final = computed[protocol.FINAL_VISIT_CODE]
        data = schedule_input(participant, visits=visits, infusions=infusions)
        status = schedule.participant_status(
            withdrawn=participant.withdrawal_date is not None,
            eligible=participant.eligible,
            enrolled=participant.enrolled_on is not None,
            final_visit_done_or_missed=final.actual_date is not None or final.missed,
            treatment_complete=schedule.treatment_complete(data),
            infusions_given=len(infusions),
        )
        if participant.status != status:
            participant.status = status
            participants_changed.append(participant)
    Visit.objects.bulk_update(visits_changed, SCHEDULE_FIELDS, batch_size=500)
    Participant.objects.bulk_update(participants_changed, ["status"], batch_size=500)
    return len(visits_changed)


def participant_changed(*, participant_id: int, today: date | None = None) -> None:
    """After any write that may move an anchor: resync the schedule, then queue the checks."""
    schedule_sync(participant_ids=[participant_id], today=today)
    task_enqueue_on_commit(CHECKS_FOR_PARTICIPANT, participant_id=participant_id)
