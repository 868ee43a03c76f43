"""Reads of the schedule: the engine's input built from stored rows, for one or many."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from itp_trial import protocol

from . import response, schedule
from .models import Visit


def schedule_input(
    participant, *, visits: Iterable[Visit], infusions: Iterable
) -> schedule.ScheduleInput:
    """The engine's input for one participant, from rows already loaded."""
    return schedule.ScheduleInput(
        planned_first_infusion=participant.planned_first_infusion_date,
        infusion_dates={i.number: i.infusion_date for i in infusions},
        visits={
            v.code: schedule.VisitRecord(actual_date=v.actual_date, missed=v.missed)
            for v in visits
            if protocol.VISITS_BY_CODE[v.code].kind != protocol.KIND_INFUSION
        },
        screen_failed=participant.eligible is False,
        treatment_discontinued=participant.treatment_discontinued_date,
        withdrawal=participant.withdrawal_date,
    )


def participants_with_schedule(queryset: QuerySet) -> QuerySet:
    """Participants with their visits and infusions prefetched (three queries in all)."""
    from infusions.models import Infusion

    return queryset.prefetch_related(
        Prefetch("visits", queryset=Visit.objects.all()),
        Prefetch("infusions", queryset=Infusion.objects.order_by("number")),
    )


def participant_schedule(
    participant, *, today: date | None = None
) -> list[schedule.ScheduledVisit]:
    """The computed schedule of a participant whose visits and infusions are prefetched."""
    data = schedule_input(
        participant, visits=participant.visits.all(), infusions=participant.infusions.all()
    )
    return schedule.schedule_compute(data, today=today or timezone.localdate())


def participants_with_outcomes(queryset: QuerySet) -> QuerySet:
    """Participants with what their response needs prefetched: counts, rescues, infusion 1."""
    from infusions.models import Infusion
    from safety.models import ConcomitantMedication

    from .models import PlateletCount

    return queryset.prefetch_related(
        Prefetch("platelet_counts", queryset=PlateletCount.objects.order_by("sample_date")),
        Prefetch(
            "conmeds",
            queryset=ConcomitantMedication.objects.filter(rescue=True),
            to_attr="rescue_conmeds",
        ),
        Prefetch(
            "infusions", queryset=Infusion.objects.filter(number=1), to_attr="first_infusions"
        ),
    )


def participant_response(participant) -> response.ResponseSummary:
    """The IWG response of a participant loaded through participants_with_outcomes()."""
    first = participant.first_infusions[0].infusion_date if participant.first_infusions else None
    return response.response_summarise(
        (
            response.PlateletSample(p.sample_date, p.platelets, p.who_bleeding_grade)
            for p in participant.platelet_counts.all()
        ),
        first_infusion=first,
        rescue_starts=[c.start_date for c in participant.rescue_conmeds],
    )
