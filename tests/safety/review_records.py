"""A participant with one record of every kind a reviewer queries and verifies."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from tests.factories import enrolled, infused


def trial_records(coordinator: Any) -> dict[str, Any]:
    """{kind: record} for the seven kinds of safety.targets, all of one participant."""
    from safety.services import adverse_event_record, conmed_record
    from visits.models import PlateletCount
    from visits.services import visit_record

    today = timezone.localdate()
    participant = enrolled(coordinator, planned=today - timedelta(days=10), today=today)
    infusion = infused(coordinator, participant, 1, on=today - timedelta(days=8))
    v2 = participant.visits.get(code="V2")
    visit_record(
        visit=v2,
        user=coordinator,
        data={
            "actual_date": today - timedelta(days=9),
            "weight_kg": 61,
            "platelets": 45,
            "who_bleeding_grade": 0,
        },
    )
    v2.refresh_from_db()
    event = adverse_event_record(
        participant=participant,
        user=coordinator,
        data={
            "term": "Headache",
            "onset_date": today - timedelta(days=7),
            "end_date": today - timedelta(days=6),
            "ongoing": False,
            "ctcae_grade": 1,
            "serious": False,
            "serious_criteria": [],
            "relationship": "possible",
            "related_infusion": infusion,
            "action_taken": "none",
            "outcome": "recovered",
            "awareness_at": timezone.now() - timedelta(days=7),
            "reported_at": None,
        },
    )
    conmed = conmed_record(
        participant=participant,
        user=coordinator,
        data={
            "drug": "Paracetamol",
            "indication": "Headache",
            "dose": "500 mg",
            "start_date": today - timedelta(days=7),
            "end_date": today - timedelta(days=6),
            "rescue": False,
        },
    )
    participant.refresh_from_db()
    return {
        "participant": participant,
        "eligibility": participant.eligibility_answers.get(criterion="I1"),
        "visit": v2,
        "infusion": infusion,
        "platelet": PlateletCount.objects.get(visit=v2),
        "adverse_event": event,
        "conmed": conmed,
    }


# The field each kind's test queries.
QUERIED_FIELD = {
    "participant": "consent_version",
    "eligibility": "met",
    "visit": "weight_kg",
    "infusion": "actual_cells",
    "platelet": "platelets",
    "adverse_event": "ctcae_grade",
    "conmed": "dose",
}
