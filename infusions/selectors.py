"""Reads of infusions for their pages: a constant number of queries whatever the data."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from itp_trial import protocol
from subjects.models import Participant

from . import dosing
from .models import Infusion
from .services import infusion_dose_assess


@dataclass(frozen=True)
class InfusionRow:
    infusion: Infusion
    dose: dosing.DoseAssessment


# The dose columns of a stored infusion, as stored: the same read as the dashboard's,
# the exports' and the checks'.
infusion_dose = dosing.stored_dose


def dose_preview(
    *, weight_kg: Decimal, actual_cells: int, infusion: Infusion | None = None
) -> dosing.DoseAssessment:
    """What saving these numbers would store: the dose of infusion `infusion`, or of a new one."""
    return infusion_dose_assess(infusion, weight_kg=weight_kg, actual_cells=actual_cells)


def _infusions_with_events() -> QuerySet:
    # Adverse events and flags are read through their relations to the infusion (the safety
    # app sits above this one); an infusion's events are one participant's, in their order.
    return Infusion.objects.prefetch_related("adverse_events")


def participant_infusion_rows(participant: Participant) -> list[InfusionRow]:
    """The participant's infusions in order, each with its dose and linked adverse events."""
    infusions = _infusions_with_events().filter(participant=participant).order_by("number")
    return [InfusionRow(infusion=i, dose=infusion_dose(i)) for i in infusions]


def infusion_get(infusion_id: int) -> Infusion:
    """One infusion with its participant, flags and linked adverse events."""
    return get_object_or_404(
        _infusions_with_events()
        .select_related("participant")
        .prefetch_related("flags__acknowledged_by"),
        pk=infusion_id,
    )


def infusion_for_number(participant: Participant, number: int) -> Infusion | None:
    return Infusion.objects.filter(participant=participant, number=number).first()


def infusion_visit(participant: Participant, number: int):
    """The V3-INFn visit row of the participant, for its target and window."""
    code = protocol.INFUSION_VISIT_CODES.get(number)
    return participant.visits.filter(code=code).first() if code else None


def visit_weights_by_date(participant: Participant) -> dict[str, dict[str, str]]:
    """The weight measured at each dated visit ({ISO date: {weight, code}}), so that the
    infusion form can offer the weight of a visit held the same day as the infusion."""
    rows = (
        participant.visits.filter(actual_date__isnull=False, weight_kg__isnull=False)
        .order_by("actual_date")
        .values_list("actual_date", "weight_kg", "code")
    )
    return {day.isoformat(): {"weight": str(weight), "code": code} for day, weight, code in rows}
