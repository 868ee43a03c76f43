"""What the dashboard and the overview share: the loading of participants, shares, doses."""

from __future__ import annotations

from datetime import date

from django.db.models import Prefetch, QuerySet

from infusions.dosing import stored_dose as infusion_dose  # noqa: F401  (the one dose read)
from safety.models import AdverseEvent
from subjects.models import Participant
from visits.selectors import participants_with_outcomes, participants_with_schedule


def share(part: int, whole: int) -> float | None:
    """part / whole as a percentage, None when there is nothing to divide by."""
    return part * 100 / whole if whole else None


def first_infusion_date(participant: Participant) -> date | None:
    firsts = participant.first_infusions
    return firsts[0].infusion_date if firsts else None


def participants_for_pages(queryset: QuerySet) -> QuerySet:
    """Participants with the schedule's and the response's inputs and their AEs prefetched.

    A fixed number of queries whatever the number of participants, visits or counts.
    """
    return participants_with_outcomes(participants_with_schedule(queryset)).prefetch_related(
        Prefetch(
            "adverse_events",
            queryset=AdverseEvent.objects.select_related("related_infusion").order_by("ae_number"),
        )
    )
