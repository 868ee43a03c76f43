"""Reads of the schedule: the engine's input built from stored rows, for one or many."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import date

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from infusions.models import Infusion
from itp_trial import protocol
from subjects.models import Participant

from . import response, schedule
from .models import PlateletCount, Visit


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


# The visits whose windows the enrolment confirmation shows: those that hang on infusion 1.
ENROLMENT_PREVIEW_ANCHORS = (protocol.ANCHOR_INF1, protocol.ANCHOR_PLANNED_INF1)


def enrolment_preview(*, participant_id: int, planned: date) -> list[schedule.ScheduledVisit]:
    """The windows (and statuses) the participant will have once enrolled with `planned`."""
    loaded = participants_with_schedule(Participant.objects.filter(pk=participant_id)).get()
    data = schedule_input(loaded, visits=loaded.visits.all(), infusions=loaded.infusions.all())
    computed = schedule.schedule_compute(
        dataclasses.replace(data, planned_first_infusion=planned), today=timezone.localdate()
    )
    return [
        s for s in computed if protocol.VISITS_BY_CODE[s.code].anchor in ENROLMENT_PREVIEW_ANCHORS
    ]


def participants_with_outcomes(queryset: QuerySet) -> QuerySet:
    """Participants with what their response needs prefetched: counts, medication, infusion 1.

    The medication is read through its relation to the participant (the safety app sits
    above this one): `rescue_conmeds` picks the rescue treatments from it.
    """
    return queryset.prefetch_related(
        Prefetch("platelet_counts", queryset=PlateletCount.objects.order_by("sample_date")),
        "conmeds",
        Prefetch(
            "infusions", queryset=Infusion.objects.filter(number=1), to_attr="first_infusions"
        ),
    )


def rescue_conmeds(participant) -> list:
    """The rescue treatments of a participant loaded through participants_with_outcomes()."""
    return [c for c in participant.conmeds.all() if c.rescue]


def participant_response(participant) -> response.ResponseSummary:
    """The IWG response of a participant loaded through participants_with_outcomes()."""
    first = participant.first_infusions[0].infusion_date if participant.first_infusions else None
    return response.response_summarise(
        (
            response.PlateletSample(p.sample_date, p.platelets, p.who_bleeding_grade)
            for p in participant.platelet_counts.all()
        ),
        first_infusion=first,
        rescue_starts=[c.start_date for c in rescue_conmeds(participant)],
    )


def visit_page(*, visit_id: int) -> Visit | None:
    """A visit with its participant and its platelet counts."""
    return (
        Visit.objects.select_related("participant")
        .prefetch_related(Prefetch("platelet_counts", queryset=PlateletCount.objects.all()))
        .filter(pk=visit_id)
        .first()
    )
