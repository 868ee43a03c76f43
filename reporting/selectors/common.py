"""What the dashboard and the overview share: the loading of participants, shares, doses."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db.models import Prefetch, QuerySet

from infusions.dosing import DoseAssessment, deviation_pct
from safety.models import AdverseEvent
from subjects.models import Participant
from visits.selectors import participants_with_outcomes, participants_with_schedule


def share(part: int, whole: int) -> float | None:
    """part / whole as a percentage, None when there is nothing to divide by."""
    return part * 100 / whole if whole else None


def first_infusion_date(participant: Participant) -> date | None:
    firsts = participant.first_infusions
    return firsts[0].infusion_date if firsts else None


def infusion_dose(infusion: Any) -> DoseAssessment:
    """An infusion's dose columns as the exports give them: stored at recording by the
    infusion service through infusions.dosing, with the deviation % from the same rule."""
    return DoseAssessment(
        dose_per_kg=infusion.dose_per_kg,
        planned_cells=infusion.planned_cells,
        deviation_pct=deviation_pct(
            actual_cells=infusion.actual_cells, planned_cells=infusion.planned_cells
        ),
        deviation=infusion.dose_deviation,
    )


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
