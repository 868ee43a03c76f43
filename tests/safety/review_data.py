"""A participant with a record of every kind, signed or locked, for the signature and lock
tests."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from infusions.dosing import planned_cells
from infusions.services import infusion_record
from safety.services import adverse_event_record, conmed_record
from tests.factories import enrolled
from visits.services import platelet_record


def casebook(user: Any, *, serious: bool = False, today=None, awareness_at=None):  # noqa: ANN201
    """Enrolled, infusion 1 ten days ago, a platelet count, an AE and a medication."""
    today = today or timezone.localdate()
    participant = enrolled(user, planned=today - timedelta(days=10), today=today)
    infusion = infusion_record(
        participant=participant,
        user=user,
        number=1,
        data={
            "infusion_date": today - timedelta(days=10),
            "dosing_weight_kg": Decimal("60.0"),
            "actual_cells": planned_cells(weight_kg=Decimal("60.0")),
            "lot_number": "MSC-01",
        },
    )
    platelet_record(
        participant=participant,
        user=user,
        sample_date=today - timedelta(days=3),
        platelets=40,
        who_bleeding_grade=0,
    )
    adverse_event_record(
        participant=participant,
        user=user,
        data={
            "term": "Pneumonia" if serious else "Headache",
            "onset_date": today - timedelta(days=7),
            "end_date": None,
            "ongoing": True,
            "ctcae_grade": 3 if serious else 1,
            "serious": serious,
            "serious_criteria": ["hospitalisation"] if serious else [],
            "relationship": "possible",
            "related_infusion": infusion,
            "action_taken": "none",
            "outcome": "recovering",
            "awareness_at": awareness_at or timezone.now() - timedelta(days=7),
            "reported_at": None,
        },
    )
    conmed_record(
        participant=participant,
        user=user,
        data={
            "drug": "Paracetamol",
            "indication": "Headache",
            "dose": "500 mg",
            "start_date": today - timedelta(days=7),
            "end_date": None,
            "rescue": False,
        },
    )
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
