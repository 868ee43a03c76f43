"""The participant dashboard: one participant's data arranged for the page.

Every derived number comes from the rule functions the exports call; see the package's
docstring.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.core.paginator import Page, Paginator
from django.utils import timezone
from django.utils.translation import gettext as _

from infusions.dosing import DoseAssessment
from itp_trial import protocol
from safety.models import AdverseEvent, Flag
from safety.rules import SaeClock, is_treatment_emergent
from safety.triage import SaeClockView, sae_clock_view
from subjects.models import Participant
from subjects.rules import age_years
from visits import response
from visits.models import WindowStatus
from visits.schedule import ScheduledVisit, study_day
from visits.selectors import participant_schedule, rescue_conmeds

from .common import (
    PLATELET_PAGE_SIZE,
    infusion_dose,
    open_flags_of,
    participant_for_page,
    review_records,
    stored_summary,
)


@dataclass(frozen=True)
class TimelineRow:
    visit: ScheduledVisit
    visit_id: int | None  # the stored visit, for the link to its record
    name: str
    status_label: str
    band_left: float | None  # percentages of the timeline's width
    band_width: float | None
    mark_left: float | None  # the actual date, or the target while not done
    done: bool


@dataclass(frozen=True)
class InfusionRow:
    infusion: Any
    study_day: int | None
    dose: DoseAssessment


@dataclass(frozen=True)
class PlateletRow:
    count: Any
    study_day: int | None
    visit_code: str
    assessment: response.Assessment | None  # None for a count on or before infusion 1


@dataclass(frozen=True)
class AdverseEventRow:
    event: AdverseEvent
    onset_study_day: int | None
    treatment_emergent: bool
    clock: SaeClock
    sae: SaeClockView  # the clock with the one wording every page shows


@dataclass(frozen=True)
class Dashboard:
    participant: Participant
    today: date
    age_at_consent: int
    age_today: int
    first_infusion: date | None
    last_infusion: date | None
    summary: response.ResponseSummary
    timeline: list[TimelineRow]
    timeline_start: date | None
    timeline_end: date | None
    today_left: float | None
    infusions: list[InfusionRow]
    platelets: list[PlateletRow]  # every count (the chart)
    platelets_page: Page  # the table's rows, PLATELET_PAGE_SIZE at a time
    adverse_events: list[AdverseEventRow]
    open_flags: list[Flag]
    chart: dict[str, Any]
    records: dict[str, list[Any]]  # by review kind, for the SDV progress (review_records)

    @property
    def sae_clocks(self) -> list[SaeClockView]:
        """The SAE report clocks still running (or overdue): shown at the top."""
        rows = [r.sae for r in self.adverse_events if r.sae.state in ("due", "overdue")]
        return sorted(rows, key=lambda v: v.clock.due_at)


def _position(day: date, start: date, span_days: int) -> float:
    return round((day - start).days / span_days * 100, 2)


def _timeline(
    schedule: list[ScheduledVisit], today: date, visit_ids: dict[str, int]
) -> tuple[list[TimelineRow], date | None, date | None, float | None]:
    """Rows of the timeline with each window and date placed on a common date axis."""
    days = [
        d
        for s in schedule
        for d in (s.window_start, s.window_end, s.actual_date, s.target)
        if d is not None
    ]
    start = min(days) if days else None
    end = max(days) if days else None
    span = max((end - start).days, 1) if start and end else 1
    min_width = 0.6  # a one-day window stays visible
    rows = []
    for s in schedule:
        band_left = band_width = mark_left = None
        if start is not None and s.window_start is not None and s.window_end is not None:
            band_left = _position(s.window_start, start, span)
            band_width = max(_position(s.window_end, start, span) - band_left, min_width)
        if start is not None and (s.actual_date or s.target):
            mark_left = _position(s.actual_date or s.target, start, span)
        rows.append(
            TimelineRow(
                visit=s,
                visit_id=visit_ids.get(s.code),
                name=str(protocol.VISITS_BY_CODE[s.code].name),
                status_label=str(WindowStatus(s.status).label),
                band_left=band_left,
                band_width=band_width,
                mark_left=mark_left,
                done=s.actual_date is not None,
            )
        )
    today_left = None
    if start is not None and end is not None and start <= today <= end:
        today_left = _position(today, start, span)
    return rows, start, end, today_left


def _chart(
    participant: Participant,
    *,
    platelets: list[PlateletRow],
    infusions: list[InfusionRow],
    summary: response.ResponseSummary,
    first_infusion: date | None,
) -> dict[str, Any]:
    """The platelet chart's data, passed to the page with json_script.

    The x axis is the study day. Before infusion 1 is given there is no study day; the
    points are then placed by the same rule against the planned date of infusion 1, and the
    axis says so.
    """
    reference = first_infusion or participant.planned_first_infusion_date
    if first_infusion is not None:
        axis = _("Study day (infusion 1 = day 1)")
    else:
        axis = _("Day relative to the planned infusion 1")

    def day(d: date) -> int | None:
        return study_day(d, reference)

    rescue = []
    for conmed in rescue_conmeds(participant):
        if reference is None:
            continue
        until = conmed.start_date + timedelta(days=protocol.RESCUE_NOT_EVALUABLE_DAYS)
        rescue.append(
            {
                "drug": conmed.drug,
                "from": day(conmed.start_date),
                "to": day(until),
                "start": conmed.start_date.isoformat(),
                "until": until.isoformat(),
            }
        )
    return {
        "axis": axis,
        "reference": reference.isoformat() if reference else None,
        "points": [
            {
                "x": day(row.count.sample_date),
                "y": row.count.platelets,
                "date": row.count.sample_date.isoformat(),
                "visit": row.visit_code,
                "category": row.assessment.category if row.assessment else "",
                "bleeding": row.count.who_bleeding_grade,
            }
            for row in platelets
            if reference is not None
        ],
        "baseline": summary.baseline,
        "thresholds": {"r": protocol.R_PLATELETS, "cr": protocol.CR_PLATELETS},
        "bleeding_from": protocol.BLEEDING_PRESENT_FROM_GRADE,
        "infusions": [
            {"number": row.infusion.number, "x": day(row.infusion.infusion_date)}
            for row in infusions
            if reference is not None
        ],
        "rescue": rescue,
        "labels": {
            "platelets": _("Platelets (10⁹/L)"),
            "baseline": _("Baseline"),
            "r": _("Response threshold (%(n)s)") % {"n": protocol.R_PLATELETS},
            "cr": _("Complete response threshold (%(n)s)") % {"n": protocol.CR_PLATELETS},
            "infusion": _("INF"),  # the short label over each infusion line: INF1..INF5
            "rescue": _("Rescue therapy (not evaluable)"),
            "bleeding": _("WHO bleeding grade"),
            "category": _("Category"),
        },
    }


def participant_dashboard(
    *,
    participant_id: int,
    today: date | None = None,
    now: datetime | None = None,
    counts_page: Any = None,
) -> Dashboard | None:
    """Everything the dashboard shows for one participant (the platelet table a page,
    `counts_page`, at a time); None when there is none."""
    now = now or timezone.now()
    today = today or timezone.localdate(now)
    # What participants_for_pages reads, less its second read of infusion 1 (the infusions
    # are all here) and the AEs' infusions (not shown); with the eligibility answers (for the
    # SDV progress) and the open flags. One query each: a round trip costs more than its rows.
    participant = participant_for_page(participant_id)
    if participant is None:
        return None

    first_infusion = next(
        (i.infusion_date for i in participant.infusions.all() if i.number == 1), None
    )
    counts = list(participant.platelet_counts.all())
    summary = stored_summary(participant, counts)
    schedule = participant_schedule(participant, today=today)
    visit_codes = {v.pk: v.code for v in participant.visits.all()}
    timeline, start, end, today_left = _timeline(
        schedule, today, {code: pk for pk, code in visit_codes.items()}
    )

    infusions = [
        InfusionRow(
            infusion=i,
            study_day=study_day(i.infusion_date, first_infusion),
            dose=infusion_dose(i),
        )
        for i in participant.infusions.all()
    ]
    assessments = {a.sample.sample_date: a for a in summary.assessments}
    platelets = [
        PlateletRow(
            count=p,
            study_day=study_day(p.sample_date, first_infusion),
            visit_code=visit_codes.get(p.visit_id, protocol.UNSCHEDULED_VISIT_CODE),
            assessment=assessments.get(p.sample_date),
        )
        for p in counts
    ]
    adverse_events = []
    for event in participant.adverse_events.all():
        view = sae_clock_view(event, now=now)
        clock = view.clock
        adverse_events.append(
            AdverseEventRow(
                event=event,
                onset_study_day=study_day(event.onset_date, first_infusion),
                treatment_emergent=is_treatment_emergent(event.onset_date, first_infusion),
                clock=clock,
                sae=view,
            )
        )

    return Dashboard(
        participant=participant,
        today=today,
        age_at_consent=age_years(participant.birth_date, participant.consent_date),
        age_today=age_years(participant.birth_date, today),
        first_infusion=first_infusion,
        last_infusion=max((i.infusion_date for i in participant.infusions.all()), default=None),
        summary=summary,
        timeline=timeline,
        timeline_start=start,
        timeline_end=end,
        today_left=today_left,
        infusions=infusions,
        platelets=platelets,
        platelets_page=Paginator(platelets, PLATELET_PAGE_SIZE).get_page(counts_page),
        adverse_events=adverse_events,
        open_flags=open_flags_of(participant),
        chart=_chart(
            participant,
            platelets=platelets,
            infusions=infusions,
            summary=summary,
            first_infusion=first_infusion,
        ),
        records=review_records(participant),
    )
