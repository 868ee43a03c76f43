"""The demo trial's review: data queries in every state and forms verified, some changed
since, all through the services (safety.dataqueries, safety.sdv) as the monitor and the
site would have made them. Run once: a trial that already has queries is left as it is.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.contrib.auth.models import User

from safety import dataqueries, sdv
from safety.models import DataQuery
from subjects.models import Participant
from visits.models import Visit
from visits.services import visit_record


def _done_visits(limit: int) -> list[Visit]:
    """One done, non-infusion visit with a weight per participant, for `limit` of them."""
    chosen: dict[int, Visit] = {}
    for visit in (
        Visit.objects.filter(actual_date__isnull=False, weight_kg__isnull=False)
        .exclude(code__contains="INF")
        .select_related("participant")
        .order_by("participant__subject_id", "-actual_date")
    ):
        chosen.setdefault(visit.participant_id, visit)
        if len(chosen) == limit:
            break
    return list(chosen.values())


def review_demo_seed(*, users: dict[str, User], today: date) -> dict[str, int]:
    """Queries open, answered, closed (one closed after a correction) and re-opened; forms
    verified, and one changed after verification."""
    if DataQuery.objects.exists():
        return {"queries_created": 0}
    monitor, coordinator = users["monitor"], users["coordinator"]
    manager = users["datamanager"]
    visits = _done_visits(6)
    if len(visits) < 6:
        return {"queries_created": 0}
    due = today + timedelta(days=14)

    def ask(record: Any, kind: str, field: str, question: str, user: User = monitor):
        return dataqueries.query_raise(
            user=user,
            kind=kind,
            object_id=record.pk,
            field_name=field,
            question=question,
            due_date=due,
        )

    # Open: awaiting the site.
    ask(visits[0], "visit", "weight_kg", "The weight differs from the clinic note; please check.")
    # Answered: awaiting the monitor.
    answered = ask(visits[1], "visit", "systolic_bp", "Blood pressure recorded as measured?")
    dataqueries.query_answer(
        query_id=answered.pk, user=coordinator, answer="Yes, confirmed against the source."
    )
    # Closed after the site corrected the data from the query.
    corrected = ask(visits[2], "visit", "weight_kg", "Weight looks transposed (source: 1 kg more).")
    visit = visits[2]
    visit_record(
        visit=visit,
        user=coordinator,
        data={"actual_date": visit.actual_date, "weight_kg": visit.weight_kg + 1},
        reason="Transcription error, corrected from query",
        version=visit.version,
        today=today,
    )
    dataqueries.query_answer(
        query_id=corrected.pk, user=coordinator, answer="Corrected to the source value."
    )
    dataqueries.query_close(query_id=corrected.pk, user=monitor, comment="Correction verified.")
    # Re-opened: the answer did not settle it.
    reopened = ask(visits[3], "visit", "heart_rate", "Heart rate missing from the source?")
    dataqueries.query_answer(query_id=reopened.pk, user=coordinator, answer="Not measured.")
    dataqueries.query_close(query_id=reopened.pk, user=monitor)
    dataqueries.query_reopen(
        query_id=reopened.pk, user=monitor, comment="The nurse's sheet shows a value; recheck."
    )
    # A data manager's query on the participant record.
    participant = Participant.objects.get(pk=visits[4].participant_id)
    ask(participant, "participant", "consent_version", "Consent version 2.1 on file?", manager)

    # Verified forms: the first participant's visits and their record; then one changed.
    verified = 0
    first = visits[0].participant
    for record, kind in [(first, "participant"), *((v, "visit") for v in first.visits.all())]:
        record.refresh_from_db()
        if kind == "visit" and record.actual_date is None and not record.missed:
            continue
        sdv.record_verify(kind=kind, object_id=record.pk, user=monitor, version=record.version)
        verified += 1
    changed = visits[5]
    sdv.record_verify(kind="visit", object_id=changed.pk, user=monitor, version=changed.version)
    visit_record(
        visit=changed,
        user=coordinator,
        data={"actual_date": changed.actual_date, "weight_kg": changed.weight_kg - 1},
        reason="Scale recalibrated: weight re-entered",
        version=changed.version,
        today=today,
    )
    return {"queries_created": DataQuery.objects.count(), "verified": verified + 1}
