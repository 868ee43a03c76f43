"""A site's morning for the triage tests: SAE report clocks (one running, one overdue) and
flags of every kind, raised by the real background checks."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from safety.checks import checks_run
from safety.services import adverse_event_record
from subjects.models import Participant
from tests.factories import schedules_bulk
from visits.models import Visit, WindowStatus


def serious_event(participant: Participant, user: Any, *, aware_hours_ago: float, term: str):
    now = timezone.now()
    return adverse_event_record(
        participant=participant,
        user=user,
        data={
            "term": term,
            "onset_date": timezone.localdate() - timedelta(days=2),
            "ctcae_grade": 3,
            "serious": True,
            "serious_criteria": "hospitalisation",
            "relationship": "possible",
            "action_taken": "none",
            "outcome": "recovering",
            "ongoing": True,
            "awareness_at": now - timedelta(hours=aware_hours_ago),
        },
        now=now,
    )


VISITS = {
    "V2": (WindowStatus.LATE, -30),
    "V4": (WindowStatus.MISSED, -25),
    "V5-D14": (WindowStatus.OVERDUE, -20),
    "V5-M1": (WindowStatus.OVERDUE, -2),
}


def morning(user: Any) -> tuple[Participant, Participant]:
    """(running, overdue): the first has an SAE whose clock runs, a visit overdue by 20 days
    and one by 2 days, a missed and an out-of-window visit; the second an SAE overdue."""
    today = timezone.localdate()
    first, second = schedules_bulk(participants=2, visits=VISITS, today=today, prefix="ITP-")
    stored = {
        (v.participant_id, v.code): {
            f: getattr(v, f)
            for f in ("window_start", "window_end", "target_date", "window_status", "actual_date")
        }
        for v in Visit.objects.filter(participant_id__in=[first, second])
    }
    running = Participant.objects.get(pk=first)
    overdue = Participant.objects.get(pk=second)
    Participant.objects.filter(pk=second).update(subject_id="ITP-900")
    overdue.refresh_from_db()
    serious_event(running, user, aware_hours_ago=3, term="Epistaxis requiring admission")
    serious_event(overdue, user, aware_hours_ago=30, term="Intracranial haemorrhage")
    # Recording the events resynced the schedule from the (absent) infusions: put back the
    # chosen windows the checks are to find.
    for (participant_id, code), values in stored.items():
        Visit.objects.filter(participant_id=participant_id, code=code).update(**values)
    checks_run(participant_ids=[first, second], now=timezone.now())
    return running, overdue
