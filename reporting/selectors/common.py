"""What the dashboard and the overview share: the loading of participants, shares, doses."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from django.db.models import Prefetch, QuerySet

from infusions.dosing import stored_dose as infusion_dose  # noqa: F401  (the one dose read)
from infusions.models import Infusion
from itp_trial.compiled import CompiledRead, loaded_as_related
from safety.models import (
    FLAG_OPEN,
    AdverseEvent,
    ConcomitantMedication,
    Flag,
    QueryTarget,
)
from safety.triage import SaeClockView, sae_clock_view, triage_key
from subjects.models import EligibilityAnswer, Participant
from visits import response
from visits.models import ParticipantResponse, PlateletCount, Visit
from visits.selectors import (
    participant_response,
    participants_with_outcomes,
    participants_with_schedule,
)

# Rows of a participant's platelet table per page (the chart shows every count).
PLATELET_PAGE_SIZE = 25
# Open flags a participant's page lists, in triage order (the count says how many in all), as
# safety.selectors.open_flags_summary.
OPEN_FLAGS_SHOWN = 20


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


def stored_summary(participant: Participant, counts: Iterable[Any]) -> response.ResponseSummary:
    """The response as `response_summarise` gave it when it was stored (its row, and the
    category of each count, `counts` in date order): nothing recomputed. The assessments
    are the counts with a category (those after infusion 1); NE is the not-evaluable one.

    A participant with no stored row yet (none is left so by the services) is computed by
    the rule, with the three reads it needs.
    """
    try:
        stored = participant.stored_response
    except ParticipantResponse.DoesNotExist:
        loaded = participants_with_outcomes(Participant.objects.filter(pk=participant.pk))
        return participant_response(loaded.get())
    return response.ResponseSummary(
        baseline=stored.baseline_platelets,
        assessments=tuple(
            response.Assessment(
                sample=response.PlateletSample(c.sample_date, c.platelets, c.who_bleeding_grade),
                evaluable=c.response_category != response.NE,
                category=c.response_category,
            )
            for c in counts
            if c.response_category
        ),
        best_response=stored.best_response,
        time_to_response_days=stored.time_to_response_days,
        response_start=stored.response_start,
        response_lost_on=stored.response_lost_on,
        response_duration_days=stored.response_duration_days,
    )


# The reads of participant_for_page, compiled once (itp_trial.compiled): by the participant's id.
_PAGE_PARTICIPANT = CompiledRead(
    lambda pk: Participant.objects.select_related("stored_response").filter(pk=pk)
)
_PAGE_RELATED = {
    "visits": Visit.objects.all(),
    "infusions": Infusion.objects.order_by("number"),
    "platelet_counts": PlateletCount.objects.order_by("sample_date"),
    "eligibility_answers": EligibilityAnswer.objects.order_by("criterion"),
    "adverse_events": AdverseEvent.objects.order_by("ae_number"),
    "conmeds": ConcomitantMedication.objects.all(),
}
_PAGE_READS = {
    name: CompiledRead(lambda pk, queryset=queryset: queryset.filter(participant_id=pk))
    for name, queryset in _PAGE_RELATED.items()
}
_PAGE_OPEN_FLAGS = CompiledRead(lambda pk: Flag.objects.filter(FLAG_OPEN, participant_id=pk))


def participant_for_page(participant_id: int) -> Participant | None:
    """One participant with everything its record page and dashboard read, as
    participants_with_schedule and the pages' prefetches leave it (`participant.visits.all()`
    and the others, `participant.open_flags`): one query for the participant and its stored
    response, one per relation.

    A query per relation filtered by the participant, not prefetch_related: for one
    participant its machinery (the IN filter over the instances, matching the rows back)
    costs more than the rows themselves; and each query compiled once per process
    (itp_trial.compiled), since building it costs more than running it.
    tests/reporting/test_page_rows.py holds the two loads equal."""
    found = _PAGE_PARTICIPANT.rows(participant_id)
    if not found:
        return None
    (participant,) = found
    for name, queryset in _PAGE_RELATED.items():
        loaded_as_related(participant, name, queryset, _PAGE_READS[name].rows(participant_id))
    participant.open_flags = _PAGE_OPEN_FLAGS.rows(participant_id)
    for flag in participant.open_flags:
        flag.participant = participant
    return participant


def open_flags_prefetch() -> Prefetch:
    """A participant's open flags (`participant.open_flags`): one query, a handful of rows
    (a participant's flags are bounded by its records). Read them with open_flags_of."""
    return Prefetch("flags", queryset=Flag.objects.filter(FLAG_OPEN), to_attr="open_flags")


def open_flags_of(participant: Participant) -> list[Flag]:
    """The open flags of a participant loaded with open_flags_prefetch and its visits,
    infusions and adverse events, in triage order (safety.triage.triage_key). Each flag's
    record is the one already loaded, not joined again in the flags' query."""
    visits = {v.pk: v for v in participant.visits.all()}
    infusions = {i.pk: i for i in participant.infusions.all()}
    events = {e.pk: e for e in participant.adverse_events.all()}
    for flag in participant.open_flags:
        if flag.visit_id in visits:
            flag.visit = visits[flag.visit_id]
        if flag.infusion_id in infusions:
            flag.infusion = infusions[flag.infusion_id]
        if flag.adverse_event_id in events:
            flag.adverse_event = events[flag.adverse_event_id]
    return sorted(participant.open_flags, key=triage_key)


def sae_clocks_of(events: Iterable[AdverseEvent], *, now: datetime) -> list[SaeClockView]:
    """safety.triage.sae_clocks_running for one participant's events already loaded: the
    clocks still running (or overdue), the nearest deadline first."""
    views = [sae_clock_view(e, now=now) for e in events]
    running = [v for v in views if v.state in ("due", "overdue")]
    return sorted(running, key=lambda v: (v.clock.due_at, v.event.pk))


def review_records(participant: Participant) -> dict[str, list[Any]]:
    """A participant's records by kind of review target (safety.targets), from what its page
    prefetched: eligibility answers, visits, infusions, platelet counts, adverse events and
    medication. The review panel and the SDV progress read them instead of querying again."""
    return {
        QueryTarget.PARTICIPANT: [participant],
        QueryTarget.ELIGIBILITY: list(participant.eligibility_answers.all()),
        QueryTarget.VISIT: list(participant.visits.all()),
        QueryTarget.INFUSION: list(participant.infusions.all()),
        QueryTarget.PLATELET: list(participant.platelet_counts.all()),
        QueryTarget.ADVERSE_EVENT: list(participant.adverse_events.all()),
        QueryTarget.MEDICATION: list(participant.conmeds.all()),
    }
