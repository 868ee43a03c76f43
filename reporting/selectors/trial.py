"""The trial overview: enrolment, visit compliance, response, safety and dose deviations.

A fixed number of aggregate queries over stored derived values, whatever the number of
participants: the schedule's window status on each visit (`visits.services.schedule_sync`),
the IWG response per participant and each visit's counts by category
(`visits.services.responses_sync`, from `visits.response.response_summarise`), the dose
deviation stored by the infusion service. The lists (responders, deviating infusions) are
paginated. Treatment-emergent is `safety.rules.is_treatment_emergent`, read in SQL as
TREATMENT_EMERGENT_SQL; a test holds the two equal on every adverse event.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import Count, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from infusions.dosing import DoseAssessment
from infusions.models import Infusion
from itp_trial import protocol
from safety.models import AdverseEvent
from subjects.models import Participant, ParticipantStatus
from visits import response
from visits.models import VISIT_RESPONSE_FIELDS, ParticipantResponse, Visit, WindowStatus

from .common import infusion_dose, share

# Rows per page of the lists on the overview.
LIST_PAGE_SIZE = 50

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


# `safety.rules.is_treatment_emergent(onset_date, first_infusion)` in SQL, over an adverse
# event `ae` left-joined to its participant's infusion 1 `inf1`: onset on or after infusion
# 1, never before infusion 1 has been given. Tested equal to the rule on every event.
TREATMENT_EMERGENT_SQL = "(inf1.infusion_date IS NOT NULL AND ae.onset_date >= inf1.infusion_date)"


def _events_with_infusion_1() -> str:
    quote = connection.ops.quote_name
    return (
        f"{quote(AdverseEvent._meta.db_table)} ae LEFT JOIN {quote(Infusion._meta.db_table)} inf1"
        " ON inf1.participant_id = ae.participant_id AND inf1.number = 1"
    )


def treatment_emergent_by_event() -> dict[int, bool]:
    """{adverse event id: treatment-emergent} as the overview counts it (for the test that
    holds it equal to the rule)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT ae.id, CASE WHEN {TREATMENT_EMERGENT_SQL} THEN 1 ELSE 0 END "
            f"FROM {_events_with_infusion_1()}"
        )
        return {pk: bool(te) for pk, te in cursor.fetchall()}


def _safety_rows(*, screened: int, treated: int) -> list[SafetyRow]:
    """Participants by worst CTCAE grade and seriousness: all AEs, and treatment-emergent.

    One query: the events summed per participant, then the participants counted per
    (worst grade, worst treatment-emergent grade, any serious, any serious emergent).
    """
    te = TREATMENT_EMERGENT_SQL
    per_participant = (
        "SELECT ae.participant_id,"
        " MAX(ae.ctcae_grade) AS worst,"
        f" MAX(CASE WHEN {te} THEN ae.ctcae_grade END) AS worst_te,"
        " MAX(CASE WHEN ae.serious THEN 1 ELSE 0 END) AS serious,"
        f" MAX(CASE WHEN ae.serious AND {te} THEN 1 ELSE 0 END) AS serious_te,"
        " COUNT(*) AS events,"
        f" SUM(CASE WHEN {te} THEN 1 ELSE 0 END) AS events_te,"
        " SUM(CASE WHEN ae.serious THEN 1 ELSE 0 END) AS sae,"
        f" SUM(CASE WHEN ae.serious AND {te} THEN 1 ELSE 0 END) AS sae_te"
        f" FROM {_events_with_infusion_1()} GROUP BY ae.participant_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT worst, worst_te, serious, serious_te, COUNT(*), SUM(events),"
            " SUM(events_te), SUM(sae), SUM(sae_te)"
            f" FROM ({per_participant}) p GROUP BY worst, worst_te, serious, serious_te"
        )
        groups = cursor.fetchall()
    worst_all: Counter = Counter()
    worst_te: Counter = Counter()
    serious_all = serious_te = events_all = events_te = sae_all = sae_te = 0
    for worst, worst_emergent, serious, serious_emergent, n, events, emergent, sae, sae_e in groups:
        worst_all[worst] += n
        if worst_emergent is not None:
            worst_te[worst_emergent] += n
        serious_all += n if serious else 0
        serious_te += n if serious_emergent else 0
        events_all += events
        events_te += emergent
        sae_all += sae
        sae_te += sae_e

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


def _visit_rows() -> tuple[dict[str, ComplianceRow], dict[str, CategoryRow]]:
    """Visit compliance and the response at each follow-up visit, in one aggregate over the
    visits' stored window status and response counters."""
    compliance = {v.code: ComplianceRow(v.code, str(v.name)) for v in protocol.VISITS}
    response_rows = {
        code: CategoryRow(code, str(protocol.VISITS_BY_CODE[code].name)) for code in FOLLOW_UP_CODES
    }
    sums = {name: Sum(name) for name in VISIT_RESPONSE_FIELDS.values()}
    for row in (
        Visit.objects.order_by().values("code", "window_status").annotate(n=Count("id"), **sums)
    ):
        compliance[row["code"]].counts[row["window_status"]] += row["n"]
        if row["code"] in response_rows:
            counts = response_rows[row["code"]].counts
            for category, name in VISIT_RESPONSE_FIELDS.items():
                if row[name]:
                    counts[category] += row[name]
    return compliance, response_rows


def trial_overview(
    *,
    today: date | None = None,
    responders_page: Any = None,
    deviations_page: Any = None,
) -> Overview:
    """The trial's numbers: enrolment, visit compliance, response, safety, dose deviations.

    `responders_page` and `deviations_page` are the page numbers of the two lists."""
    today = today or timezone.localdate()
    statuses: Counter = Counter()
    enrolled = 0
    for row in (
        Participant.objects.order_by()
        .values("status")
        .annotate(n=Count("pk"), enrolled=Count("pk", filter=Q(enrolled_on__isnull=False)))
    ):
        statuses[row["status"]] += row["n"]
        enrolled += row["enrolled"]
    screened = statuses.total()
    by_status = [
        CountRow(s.value, str(s.label), statuses[s.value], share(statuses[s.value], screened))
        for s in ParticipantStatus
    ]

    compliance, response_rows = _visit_rows()

    # The treated: infusion 1 given; their best response as stored.
    best = CategoryRow("best", _("Best overall response"))
    treated = 0
    for row in (
        Infusion.objects.filter(number=1)
        .order_by()
        .values("participant__stored_response__best_response")
        .annotate(n=Count("pk"))
    ):
        treated += row["n"]
        category = row["participant__stored_response__best_response"]
        if category is not None:
            best.counts[category] += row["n"]

    responders = Paginator(
        ParticipantResponse.objects.filter(response_start__isnull=False)
        .select_related("participant")
        .order_by("participant__subject_id"),
        LIST_PAGE_SIZE,
    ).get_page(responders_page)

    given = Infusion.objects.order_by().aggregate(
        given=Count("pk"),
        deviating=Count("pk", filter=Q(dose_deviation=True)),
        participants=Count("participant", filter=Q(dose_deviation=True), distinct=True),
    )
    deviating = Paginator(
        Infusion.objects.filter(dose_deviation=True)
        .select_related("participant")
        .order_by("participant__subject_id", "number"),
        LIST_PAGE_SIZE,
    )
    deviating.count = given["deviating"]  # known from the aggregate: no second COUNT
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
        responders=[ResponderRow(participant=r.participant, summary=r) for r in responders],
        responders_page=responders,
        safety=_safety_rows(screened=screened, treated=treated),
        infusions_given=given["given"],
        deviations=[
            DeviationRow(participant=i.participant, infusion=i, dose=infusion_dose(i))
            for i in deviations
        ],
        deviations_page=deviations,
        deviation_count=given["deviating"],
        deviation_participants=given["participants"],
        chart=chart,
    )
