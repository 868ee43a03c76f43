"""A participant with one record of every kind a reviewer queries and verifies."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from tests.factories import adverse_event_onset, enrolled, infused, paracetamol_given


def trial_records(coordinator: Any) -> dict[str, Any]:
    """{kind: record} for the seven kinds of safety.targets, all of one participant."""
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
    event = adverse_event_onset(coordinator, participant, infusion=infusion, today=today)
    conmed = paracetamol_given(coordinator, participant, today=today)
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
