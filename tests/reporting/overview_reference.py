"""The trial overview as it was computed before its numbers were stored and aggregated in
SQL: every participant loaded, the schedule and the response recomputed per participant by
the rule functions. Kept as the oracle the SQL overview is compared with."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date

from django.utils import timezone
from django.utils.translation import gettext as _

from itp_trial import protocol
from reporting.selectors.common import (
    first_infusion_date,
    infusion_dose,
    participants_for_pages,
    share,
)
from reporting.selectors.trial import (
    FOLLOW_UP_CODES,
    CategoryRow,
    ComplianceRow,
    CountRow,
    SafetyRow,
)
from safety.rules import is_treatment_emergent
from subjects.models import Participant, ParticipantStatus
from visits import response
from visits.selectors import participant_response, participant_schedule


@dataclass(frozen=True)
class Responder:
    participant: Participant
    summary: object


@dataclass(frozen=True)
class Deviation:
    participant: Participant
    infusion: object
    dose: object


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


def reference_overview(*, today: date | None = None) -> dict:
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
    deviations: list = []
    responders: list = []
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
            responders.append(Responder(p, summary))
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
                deviations.append(Deviation(p, infusion, dose))

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
    return {
        "screened": screened,
        "enrolled": enrolled,
        "by_status": by_status,
        "compliance": {r.code: dict(r.counts) for r in compliance.values()},
        "compliance_total": dict(total.counts),
        "treated": treated,
        "response_at_visits": {r.code: dict(r.counts) for r in response_list},
        "best_response": dict(best.counts),
        "responders": [
            (
                r.participant.pk,
                r.summary.best_response,
                r.summary.time_to_response_days,
                r.summary.response_start,
                r.summary.response_lost_on,
                r.summary.response_duration_days,
            )
            for r in responders
        ],
        "safety": _safety_rows(participants, treated=treated),
        "infusions_given": infusions_given,
        "deviations": [(d.participant.pk, d.infusion.pk, d.dose) for d in deviations],
        "deviation_participants": len({d.participant.pk for d in deviations}),
        "chart": chart,
    }
