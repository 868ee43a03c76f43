"""Reads for the coordinator's pages: the participant list, a participant's record, a visit.

Each page loads its rows with a fixed number of queries whatever the amount of data, and
takes every derived value from the rule functions (the schedule engine, the IWG response,
the eligibility decision); nothing is recomputed here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db.models import Count, Max, Prefetch, Q, QuerySet

from itp_trial import protocol
from visits import response, schedule
from visits.models import PlateletCount, Visit, WindowStatus
from visits.selectors import (
    participant_response,
    participant_schedule,
    participants_with_outcomes,
    participants_with_schedule,
)

from . import rules
from .models import EligibilityAnswer, Participant, ParticipantStatus


def participant_list(*, status: str = "", search: str = "") -> QuerySet[Participant]:
    """Participants filtered by status and by subject ID or screening number, one query.

    Each carries `screening_date` (V1's date) and `overdue_visits`, annotated in the same
    query.
    """
    queryset = Participant.objects.all()
    if status in ParticipantStatus.values:
        queryset = queryset.filter(status=status)
    search = search.strip()
    if search:
        queryset = queryset.filter(
            Q(subject_id__icontains=search) | Q(screening_number__icontains=search)
        )
    screening_code = next(v.code for v in protocol.VISITS if v.kind == protocol.KIND_SCREENING)
    return queryset.annotate(
        overdue_visits=Count("visits", filter=Q(visits__window_status=WindowStatus.OVERDUE)),
        screening_date=Max("visits__actual_date", filter=Q(visits__code=screening_code)),
    ).order_by("subject_id")


@dataclass(frozen=True)
class ScheduleRow:
    visit: Visit  # the stored row (its id for links, its entered data)
    scheduled: schedule.ScheduledVisit  # target, window, status and study day from the engine
    definition: protocol.VisitDefinition

    @property
    def status_label(self) -> str:
        return WindowStatus(self.scheduled.status).label

    @property
    def is_infusion(self) -> bool:
        return self.definition.kind == protocol.KIND_INFUSION


@dataclass(frozen=True)
class PlateletRow:
    count: PlateletCount
    visit_code: str  # the visit it was entered at, or UNS for an unscheduled result
    study_day: int | None
    category: str | None  # IWG category of an assessment after infusion 1; None before


@dataclass(frozen=True)
class ParticipantPage:
    participant: Participant
    age_at_consent: int
    screening_date: date | None
    first_infusion: date | None
    schedule: list[ScheduleRow]
    platelets: list[PlateletRow]
    response: response.ResponseSummary
    answers: dict[str, bool]
    decision: rules.EligibilityDecision


def participant_page(*, participant_id: int, today: date) -> ParticipantPage | None:
    """Everything a participant's record page shows, with a fixed number of queries."""
    queryset = participants_with_outcomes(
        participants_with_schedule(Participant.objects.filter(pk=participant_id))
    ).prefetch_related(
        Prefetch("eligibility_answers", queryset=EligibilityAnswer.objects.order_by("criterion"))
    )
    participant = queryset.first()
    if participant is None:
        return None
    visits = {v.code: v for v in participant.visits.all()}
    computed = participant_schedule(participant, today=today)
    rows = [
        ScheduleRow(visit=visits[s.code], scheduled=s, definition=protocol.VISITS_BY_CODE[s.code])
        for s in computed
        if s.code in visits
    ]
    first_infusion = next(
        (s.actual_date for s in computed if s.code == protocol.INFUSION_VISIT_CODES[1]), None
    )
    summary = participant_response(participant)
    categories = {a.sample.sample_date: a.category for a in summary.assessments}
    codes_by_id = {v.pk: v.code for v in visits.values()}
    platelets = [
        PlateletRow(
            count=count,
            visit_code=codes_by_id.get(count.visit_id, protocol.UNSCHEDULED_VISIT_CODE),
            study_day=schedule.study_day(count.sample_date, first_infusion),
            category=categories.get(count.sample_date),
        )
        for count in participant.platelet_counts.all()
    ]
    answers = {a.criterion: a.met for a in participant.eligibility_answers.all()}
    screening = next((r.visit for r in rows if r.definition.kind == protocol.KIND_SCREENING), None)
    return ParticipantPage(
        participant=participant,
        age_at_consent=rules.age_years(participant.birth_date, participant.consent_date),
        screening_date=screening.actual_date if screening else None,
        first_infusion=first_infusion,
        schedule=rows,
        platelets=platelets,
        response=summary,
        answers=answers,
        decision=rules.eligibility_decide(answers),
    )


def visit_page(*, visit_id: int) -> Visit | None:
    """A visit with its participant and its platelet counts."""
    return (
        Visit.objects.select_related("participant")
        .prefetch_related(Prefetch("platelet_counts", queryset=PlateletCount.objects.all()))
        .filter(pk=visit_id)
        .first()
    )


def participant_for_action(participant_id: int) -> Participant | None:
    return Participant.objects.filter(pk=participant_id).first()


def decision_failed_texts(decision: rules.EligibilityDecision) -> list[Any]:
    """The failed criteria with their text, for the page."""
    return [(code, protocol.CRITERIA_BY_CODE[code].text) for code in decision.failed]
