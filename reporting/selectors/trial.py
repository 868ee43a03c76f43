"""The trial overview: enrolment, visit compliance, response, safety and dose deviations.

Every number is a figure summed ahead of the request (`reporting.figures`: each
participant's share of each figure, computed from the stored derived values and the rules
the other pages use, and kept in step by every write), read in one query whatever the
number of participants. The lists (responders, deviating infusions) are paginated.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.core.paginator import Page, Paginator
from django.utils import timezone
from django.utils.translation import gettext as _

from infusions.dosing import DoseAssessment
from infusions.models import Infusion
from itp_trial import protocol
from safety.sdv import Progress
from subjects.models import Participant, ParticipantStatus
from visits import response
from visits.models import ParticipantResponse, WindowStatus

from .. import figures as f
from .common import infusion_dose, share

# Rows per page of the lists on the overview: each row costs as much to render as a
# whole table of counts, and the page is a summary (the lists page on).
LIST_PAGE_SIZE = 20

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
    summary: ParticipantResponse  # the stored response_summarise result


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
    responders: list[ResponderRow]  # one page of them, by subject id
    responders_page: Page
    safety: list[SafetyRow]
    infusions_given: int
    deviations: list[DeviationRow]  # one page of them, by subject id and infusion number
    deviations_page: Page
    deviation_count: int
    deviation_participants: int
    sdv: Progress  # the trial's source data verification
    chart: dict[str, Any]

    @property
    def deviation_share(self) -> float | None:
        return share(self.deviation_count, self.infusions_given)

    @property
    def deviation_participant_share(self) -> float | None:
        return share(self.deviation_participants, self.treated)

    @property
    def window_statuses(self) -> list[tuple[str, str]]:
        return [(s, str(WindowStatus(s).label)) for s in WINDOW_STATUS_ORDER]

    @property
    def categories(self) -> tuple[str, ...]:
        return response.CATEGORIES


def _safety_rows(figures: Counter, *, screened: int, treated: int) -> list[SafetyRow]:
    """Participants by worst CTCAE grade and seriousness: all AEs, and treatment-emergent."""

    def row(key: str, label: str, n_all: int, n_te: int) -> SafetyRow:
        return SafetyRow(key, label, n_all, share(n_all, screened), n_te, share(n_te, treated))

    grades = range(protocol.CTCAE_GRADE_MIN, protocol.CTCAE_GRADE_MAX + 1)
    any_all = sum(figures[f.worst_key(g, emergent=False)] for g in grades)
    any_te = sum(figures[f.worst_key(g, emergent=True)] for g in grades)
    rows = [row("any", _("Participants with any adverse event"), any_all, any_te)]
    for grade in grades:
        label = _("Worst grade %(grade)s") % {"grade": grade}
        rows.append(
            row(
                f"grade{grade}",
                label,
                figures[f.worst_key(grade, emergent=False)],
                figures[f.worst_key(grade, emergent=True)],
            )
        )
    rows.append(
        row(
            "serious",
            _("Participants with a serious adverse event"),
            figures[f.AE_SERIOUS],
            figures[f.AE_SERIOUS_TE],
        )
    )
    rows.append(
        SafetyRow(
            "events",
            _("Adverse events (events)"),
            figures[f.AE_EVENTS],
            None,
            figures[f.AE_EVENTS_TE],
            None,
        )
    )
    rows.append(
        SafetyRow(
            "serious_events",
            _("Serious adverse events (events)"),
            figures[f.AE_SAE],
            None,
            figures[f.AE_SAE_TE],
            None,
        )
    )
    return rows


def trial_overview(
    *,
    today: date | None = None,
    responders_page: Any = None,
    deviations_page: Any = None,
) -> Overview:
    """The trial's numbers: enrolment, visit compliance, response, safety, dose deviations.

    Three queries whatever the size of the trial: the stored figures summed, one page of
    responders, one page of deviating infusions (their totals are figures too).
    `responders_page` and `deviations_page` are the page numbers of the two lists."""
    today = today or timezone.localdate()
    figures = f.figures_totals()
    statuses = {s.value: figures[f.status_key(s.value)] for s in ParticipantStatus}
    screened = sum(statuses.values())
    enrolled = figures[f.ENROLLED]
    by_status = [
        CountRow(s.value, str(s.label), statuses[s.value], share(statuses[s.value], screened))
        for s in ParticipantStatus
    ]

    compliance = {v.code: ComplianceRow(v.code, str(v.name)) for v in protocol.VISITS}
    for code, row in compliance.items():
        for status in WINDOW_STATUS_ORDER:
            if figures[f.visit_key(code, status)]:
                row.counts[status] = figures[f.visit_key(code, status)]
    response_rows = {
        code: CategoryRow(code, str(protocol.VISITS_BY_CODE[code].name)) for code in FOLLOW_UP_CODES
    }
    for code, row in response_rows.items():
        for category in response.CATEGORIES:
            if figures[f.response_key(code, category)]:
                row.counts[category] = figures[f.response_key(code, category)]

    # The treated: infusion 1 given; their best response as stored.
    treated = figures[f.TREATED]
    best = CategoryRow("best", _("Best overall response"))
    for category in response.CATEGORIES:
        if figures[f.best_key(category)]:
            best.counts[category] = figures[f.best_key(category)]

    responders = Paginator(
        ParticipantResponse.objects.filter(response_start__isnull=False)
        .select_related("participant")
        .order_by("participant__subject_id"),
        LIST_PAGE_SIZE,
    )
    responders.count = figures[f.RESPONDERS]  # known from the figures: no COUNT
    responders_shown = responders.get_page(responders_page)

    deviating = Paginator(
        Infusion.objects.filter(dose_deviation=True)
        .select_related("participant")
        .order_by("participant__subject_id", "number"),
        LIST_PAGE_SIZE,
    )
    deviating.count = figures[f.DEVIATIONS]
    deviations = deviating.get_page(deviations_page)

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
        responders=[ResponderRow(participant=r.participant, summary=r) for r in responders_shown],
        responders_page=responders_shown,
        safety=_safety_rows(figures, screened=screened, treated=treated),
        infusions_given=figures[f.INFUSIONS],
        deviations=[
            DeviationRow(participant=i.participant, infusion=i, dose=infusion_dose(i))
            for i in deviations
        ],
        deviations_page=deviations,
        deviation_count=figures[f.DEVIATIONS],
        deviation_participants=figures[f.DEVIATING_PARTICIPANTS],
        sdv=Progress(
            total=figures[f.SDV_FORMS],
            verified=figures[f.SDV_VERIFIED],
            changed=figures[f.SDV_CHANGED],
        ),
        chart=chart,
    )
