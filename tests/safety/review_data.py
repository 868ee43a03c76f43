"""A participant with a record of every kind, signed or locked, for the signature and lock
tests."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from tests.factories import adverse_event_onset, enrolled, infused, paracetamol_given
from visits.services import platelet_record


def casebook(user: Any, *, serious: bool = False, today=None, awareness_at=None):  # noqa: ANN201
    """Enrolled, infusion 1 ten days ago, a platelet count, an AE and a medication."""
    today = today or timezone.localdate()
    participant = enrolled(user, planned=today - timedelta(days=10), today=today)
    infusion = infused(user, participant, 1, on=today - timedelta(days=10), lot_number="MSC-01")
    platelet_record(
        participant=participant,
        user=user,
        sample_date=today - timedelta(days=3),
        platelets=40,
        who_bleeding_grade=0,
    )
    adverse_event_onset(
        user,
        participant,
        infusion=infusion,
        today=today,
        ongoing=True,
        serious=serious,
        awareness_at=awareness_at,
    )
    paracetamol_given(user, participant, today=today, ongoing=True)
    participant.refresh_from_db()
    return participant


def verified(participant: Any, *, monitor: Any) -> int:
    """The monitor verifies every form of the participant at its current version."""
    from safety.sdv import record_verify, sdv_todo

    todo = list(sdv_todo(participant_id=participant.pk))
    for form in todo:
        record_verify(
            kind=form["r_kind"], object_id=form["pk"], user=monitor, version=form["version"]
        )
    return len(todo)


def locked(participant: Any, *, investigator: Any, data_manager: Any):  # noqa: ANN201
    """Signed by the investigator, every form verified, then locked by the data manager."""
    from django.contrib.auth.models import User

    from itp_trial.roles import MONITOR
    from safety.locking import casebook_lock
    from tests.factories import signed, user_with_role

    monitor = User.objects.filter(groups__name=MONITOR).first() or user_with_role(
        MONITOR, username="monitor", first_name="Zhao", last_name="Min"
    )
    verified(participant, monitor=monitor)
    signed(investigator, participant)
    casebook_lock(participant_id=participant.pk, user=data_manager)
    participant.refresh_from_db()
    return participant
