"""The trial overview: enrolment, visit compliance, response, safety and dose deviations.

Every derived number comes from the rule functions the exports call; see the package's
docstring.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from infusions.dosing import DoseAssessment
from itp_trial import protocol
from safety.rules import is_treatment_emergent
from subjects.models import Participant, ParticipantStatus
from visits import response
from visits.models import WindowStatus
from visits.selectors import participant_response, participant_schedule

from .common import first_infusion_date, infusion_dose, participants_for_pages, share

# Statuses of a visit that was due: done (in window, early, late), missed or overdue.
DUE_STATUSES: tuple[str, ...] = (
    WindowStatus.IN_WINDOW,
    WindowStatus.EARLY,
    WindowStatus.LATE,
    WindowStatus.MISSED,
    WindowStatus.OVERDUE,
)
WINDOW_STATUS_ORDER: tuple[str, ...] = DUE_STATUSES + (
    WindowStatus.PENDING,
    WindowStatus.NOT_EXPECTED,
)
FOLLOW_UP_CODES: tuple[str, ...] = tuple(
    v.code for v in protocol.VISITS if v.kind == protocol.KIND_FOLLOW_UP
)


@dataclass(frozen=True)
class CountRow:
    key: str
    label: str
    count: int
    share: float | None


@dataclass
class ComplianceRow:
    code: str
    name: str
    counts: Counter = field(default_factory=Counter)

    @property
    def due(self) -> int:
        return sum(self.counts[s] for s in DUE_STATUSES)

    @property
    def in_window_share(self) -> float | None:
        return share(self.counts[WindowStatus.IN_WINDOW], self.due)

    def cells(self) -> list[int]:
        return [self.counts[s] for s in WINDOW_STATUS_ORDER]


@dataclass
class CategoryRow:
    code: str
    name: str
    counts: Counter = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.counts[c] for c in response.CATEGORIES)

    def cells(self) -> list[tuple[int, float | None]]:
        return [(self.counts[c], share(self.counts[c], self.total)) for c in response.CATEGORIES]


@dataclass(frozen=True)
class SafetyRow:
    key: str
    label: str
    all_count: int
    all_share: float | None
    te_count: int
    te_share: float | None


@dataclass(frozen=True)
class DeviationRow:
    participant: Participant
    infusion: Any
    dose: DoseAssessment


@dataclass(frozen=True)
class ResponderRow:
    """A participant with a confirmed response: when it came, whether and when it was lost."""

    participant: Participant
    summary: response.ResponseSummary


@dataclass(frozen=True)
class Overview:
    today: date
    screened: int
    enrolled: int
    enrolment_cap: int
    enrolled_share: float | None
    by_status: list[CountRow]
    compliance: list[ComplianceRow]
    compliance_total: ComplianceRow
    treated: int
    response_at_visits: list[CategoryRow]
    best_response: CategoryRow
    responders: list[ResponderRow]
    safety: list[SafetyRow]
    infusions_given: int
    deviations: list[DeviationRow]
    deviation_participants: int
    chart: dict[str, Any]

    @property
    def deviation_share(self) -> float | None:
        return share(len(self.deviations), self.infusions_given)

    @property
    def deviation_participant_share(self) -> float | None:
        return share(self.deviation_participants, self.treated)

    @property
    def window_statuses(self) -> list[tuple[str, str]]:
        return [(s, str(WindowStatus(s).label)) for s in WINDOW_STATUS_ORDER]

    @property
    def categories(self) -> tuple[str, ...]:
        return response.CATEGORIES


def _safety_rows(participants: list[Participant], *, treated: int) -> list[SafetyRow]:
    """Participants by worst CTCAE grade and seriousness: all AEs, and treatment-emergent."""
    screened = len(participants)
    worst_all: Counter = Counter()
    worst_te: Counter = Counter()
    serious_all = serious_te = events_all = events_te = sae_all = sae_te = 0
    for p in participants:
        first = first_infusion_date(p)
        events = list(p.adverse_events.all())
        emergent = [e for e in events if is_treatment_emergent(e.onset_date, first)]
        events_all += len(events)
        events_te += len(emergent)
        sae_all += sum(e.serious for e in events)
        sae_te += sum(e.serious for e in emergent)
        if events:
            worst_all[max(e.ctcae_grade for e in events)] += 1
            serious_all += any(e.serious for e in events)
        if emergent:
            worst_te[max(e.ctcae_grade for e in emergent)] += 1
            serious_te += any(e.serious for e in emergent)

    def row(key: str, label: str, n_all: int, n_te: int) -> SafetyRow:
        return SafetyRow(key, label, n_all, share(n_all, screened), n_te, share(n_te, treated))

    rows = [
        row("any", _("Participants with any adverse event"), worst_all.total(), worst_te.total())
    ]
    for grade in range(protocol.CTCAE_GRADE_MIN, protocol.CTCAE_GRADE_MAX + 1):
        label = _("Worst grade %(grade)s") % {"grade": grade}
        rows.append(row(f"grade{grade}", label, worst_all[grade], worst_te[grade]))
    rows.append(
        row("serious", _("Participants with a serious adverse event"), serious_all, serious_te)
    )
    rows.append(
        SafetyRow("events", _("Adverse events (events)"), events_all, None, events_te, None)
    )
    rows.append(
        SafetyRow(
            "serious_events", _("Serious adverse events (events)"), sae_all, None, sae_te, None
        )
    )
    return rows


def trial_overview(*, today: date | None = None) -> Overview:
    """The trial's numbers: enrolment, visit compliance, response, safety, dose deviations."""
    today = today or timezone.localdate()
    participants = list(participants_for_pages(Participant.objects.all()))

    screened = len(participants)
    enrolled = sum(p.enrolled_on is not None for p in participants)
    statuses = Counter(p.status for p in participants)
    by_status = [
        CountRow(s.value, str(s.label), statuses[s.value], share(statuses[s.value], screened))
        for s in ParticipantStatus
    ]

    compliance = {v.code: ComplianceRow(v.code, str(v.name)) for v in protocol.VISITS}
    response_rows = {
        code: CategoryRow(code, str(protocol.VISITS_BY_CODE[code].name)) for code in FOLLOW_UP_CODES
    }
    best = CategoryRow("best", _("Best overall response"))
    deviations: list[DeviationRow] = []
    responders: list[ResponderRow] = []
    infusions_given = 0
    treated = 0
    for p in participants:
        for s in participant_schedule(p, today=today):
            compliance[s.code].counts[s.status] += 1

        first = first_infusion_date(p)
        summary = participant_response(p)
        if first is not None:
            treated += 1
            best.counts[summary.best_response] += 1
        if summary.response_start is not None:
            responders.append(ResponderRow(participant=p, summary=summary))
        visit_codes = {v.pk: v.code for v in p.visits.all()}
        assessments = {a.sample.sample_date: a for a in summary.assessments}
        for count in p.platelet_counts.all():
            code = visit_codes.get(count.visit_id)
            assessment = assessments.get(count.sample_date)
            if code in response_rows and assessment is not None:
                response_rows[code].counts[assessment.category] += 1

        for infusion in p.infusions.all():
            infusions_given += 1
            dose = infusion_dose(infusion)
            if dose.deviation:
                deviations.append(DeviationRow(participant=p, infusion=infusion, dose=dose))

    total = ComplianceRow("all", _("All visits"))
    for row in compliance.values():
        total.counts.update(row.counts)
    response_list = list(response_rows.values())
    chart = {
        "visits": [r.code for r in response_list],
        "categories": list(response.CATEGORIES),
        "counts": {c: [r.counts[c] for r in response_list] for c in response.CATEGORIES},
        "labels": {
            "title": _("Response at each follow-up visit"),
            "y": _("Participants"),
        },
    }
    return Overview(
        today=today,
        screened=screened,
        enrolled=enrolled,
        enrolment_cap=protocol.ENROLMENT_CAP,
        enrolled_share=share(enrolled, protocol.ENROLMENT_CAP),
        by_status=by_status,
        compliance=list(compliance.values()),
        compliance_total=total,
        treated=treated,
        response_at_visits=response_list,
        best_response=best,
        responders=responders,
        safety=_safety_rows(participants, treated=treated),
        infusions_given=infusions_given,
        deviations=deviations,
        deviation_participants=len({d.participant.pk for d in deviations}),
        chart=chart,
    )
