"""The participant's record page: the schedule, the platelet counts with their IWG category,
the response and the eligibility decision, with a fixed number of queries.

Every derived value is taken from the rule functions (the schedule engine, the eligibility
decision) or as they stored it (the IWG response and each count's category); nothing is
recomputed here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.core.paginator import Page, Paginator
from django.utils import timezone

from itp_trial import protocol
from safety.models import Flag
from safety.triage import SaeClockView
from subjects import rules
from subjects.models import Participant
from visits import response, schedule
from visits.models import PlateletCount, Visit, WindowStatus
from visits.selectors import participant_schedule

from .common import (
    PLATELET_PAGE_SIZE,
    open_flags_of,
    participant_for_page,
    review_records,
    sae_clocks_of,
    stored_summary,
)


@dataclass(frozen=True)
class ScheduleRow:
    visit: Visit  # the stored row (its id for links, its entered data)
    scheduled: schedule.ScheduledVisit  # target, window, status and study day from the engine
    definition: protocol.VisitDefinition
    # Worked out once here, as text, rather than by the template in every row.
    name: str
    status_label: str
    is_infusion: bool


def _schedule_row(visit: Visit, scheduled: schedule.ScheduledVisit) -> ScheduleRow:
    definition = protocol.VISITS_BY_CODE[scheduled.code]
    return ScheduleRow(
        visit=visit,
        scheduled=scheduled,
        definition=definition,
        name=str(definition.name),
        status_label=str(WindowStatus(scheduled.status).label),
        is_infusion=definition.kind == protocol.KIND_INFUSION,
    )


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
    platelets_page: Page  # the rows the page shows, PLATELET_PAGE_SIZE at a time
    response: response.ResponseSummary
    answers: dict[str, bool]
    decision: rules.EligibilityDecision
    open_flags: list[Flag]  # every open flag, in triage order
    sae_clocks: list[SaeClockView]  # the SAE report clocks still running
    records: dict[str, list[Any]]  # by review kind, for the review panel (review_records)


def participant_page(
    *, participant_id: int, today: date, counts_page: Any = None, now: datetime | None = None
) -> ParticipantPage | None:
    """Everything a participant's record page shows, with a fixed number of queries; the
    platelet table a page (`counts_page`) at a time. Its adverse events, medication and open
    flags are read here too: the flags and SAE clocks panels and the review panel take them
    from the loaded records rather than querying again."""
    participant = participant_for_page(participant_id)
    if participant is None:
        return None
    visits = {v.code: v for v in participant.visits.all()}
    computed = participant_schedule(participant, today=today)
    rows = [_schedule_row(visits[s.code], s) for s in computed if s.code in visits]
    first_infusion = next(
        (s.actual_date for s in computed if s.code == protocol.INFUSION_VISIT_CODES[1]), None
    )
    counts = list(participant.platelet_counts.all())
    summary = stored_summary(participant, counts)
    codes_by_id = {v.pk: v.code for v in visits.values()}
    platelets = [
        PlateletRow(
            count=count,
            visit_code=codes_by_id.get(count.visit_id, protocol.UNSCHEDULED_VISIT_CODE),
            study_day=schedule.study_day(count.sample_date, first_infusion),
            category=count.response_category or None,
        )
        for count in counts
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
        platelets_page=Paginator(platelets, PLATELET_PAGE_SIZE).get_page(counts_page),
        response=summary,
        answers=answers,
        decision=rules.eligibility_decide(answers),
        open_flags=open_flags_of(participant),
        sae_clocks=sae_clocks_of(participant.adverse_events.all(), now=now or timezone.now()),
        records=review_records(participant),
    )
