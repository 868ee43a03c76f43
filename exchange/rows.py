"""The rows of each clinical dataset, streamed from database iterators.

Each generator yields one list of Python values per record, in the dataset's column order;
`exchange.export` formats and writes them. Rows come from `queryset.iterator(chunk_size)`:
a table is never held in memory. Values derived per participant (status, response,
schedule) are computed by the same selectors and pure rules the pages use, on chunks of
participants with their related rows prefetched: a constant number of queries per chunk.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime
from itertools import chain, islice
from typing import Any

from django.db import connections
from django.db.models import Case, Count, IntegerField, OuterRef, QuerySet, Subquery, When

from infusions import dosing
from infusions.models import Infusion
from itp_trial import protocol
from itp_trial.locks import DatabaseLock
from safety import rules as safety_rules
from safety.models import AdverseEvent, ConcomitantMedication, Flag
from subjects.models import CasebookLock, EligibilityAnswer, Participant
from subjects.rules import age_years
from visits import response, schedule
from visits.models import PlateletCount
from visits.selectors import (
    participant_response,
    participant_schedule,
    participants_with_outcomes,
    participants_with_schedule,
)

from . import datasets

CHUNK_SIZE = 2000  # rows fetched per database round trip
PARTICIPANT_CHUNK_SIZE = 100  # participants whose related rows are prefetched together

Row = list[Any]


def value_batches(queryset: QuerySet, *, size: int = CHUNK_SIZE) -> Iterator[list[tuple]]:
    """The rows of a `values_list()` queryset, a batch of `size` at a time, never the table.

    On PostgreSQL through a server-side cursor in the binary protocol, where no field
    converts what it reads (psycopg's binary loaders give the same Python values as the
    ORM, without parsing text); elsewhere through the queryset's own iterator.
    """
    if connections[queryset.db].vendor == "postgresql":
        compiler = queryset.query.get_compiler(using=queryset.db)
        sql, params = compiler.as_sql()
        selected = [column[0] for column in compiler.select[: compiler.col_count]]
        if not compiler.get_converters(selected):
            with connections[queryset.db].chunked_cursor() as wrapper:
                wrapper.cursor.execute(sql, params, binary=True)
                while batch := wrapper.cursor.fetchmany(size):
                    yield batch
            return
    rows = queryset.iterator(chunk_size=size)
    while batch := list(islice(rows, size)):
        yield batch


def value_rows(queryset: QuerySet, *, size: int = CHUNK_SIZE) -> Iterator[tuple]:
    """`value_batches`, a row at a time."""
    return chain.from_iterable(value_batches(queryset, size=size))


def _to_second(value: datetime | None) -> datetime | None:
    """A check's timestamp to the second: the microseconds of a background run say nothing."""
    return value.replace(microsecond=0) if value is not None else None


def _minor_only(value: bool | None, participant: Any) -> bool | None:
    """Guardian consent and child assent concern minors only: an adult has neither (`N`),
    rather than an unknown (empty); a minor's answer is exported as stored."""
    if value is None and age_years(participant.birth_date, participant.consent_date) >= (
        protocol.ADULT_AGE_YEARS
    ):
        return False
    return value


def _ordered(dataset: datasets.Dataset, values: dict[str, Any]) -> Row:
    return [values[name] for name in dataset.header]


def subjects_rows(*, today: date) -> Iterator[Row]:
    queryset = participants_with_outcomes(Participant.objects.order_by("subject_id"))
    for p in queryset.iterator(chunk_size=PARTICIPANT_CHUNK_SIZE):
        summary = participant_response(p)
        yield _ordered(
            datasets.SUBJECTS,
            {
                "subject_id": p.subject_id,
                "screening_number": p.screening_number,
                "sex": p.sex,
                "birth_date": p.birth_date,
                "consent_date": p.consent_date,
                "planned_first_infusion_date": p.planned_first_infusion_date,
                "treatment_discontinued_date": p.treatment_discontinued_date,
                "treatment_discontinued_reason": p.treatment_discontinued_reason,
                "withdrawal_date": p.withdrawal_date,
                "withdrawal_reason": p.withdrawal_reason,
                "age_at_consent": age_years(p.birth_date, p.consent_date),
                "status": p.status,
                "baseline_platelets": summary.baseline,
                "best_response": summary.best_response,
                "time_to_response_days": summary.time_to_response_days,
                "response_lost_on": summary.response_lost_on,
                "response_duration_days": summary.response_duration_days,
                "consent_version": p.consent_version,
                "guardian_consent": _minor_only(p.guardian_consent, p),
                "child_assent": _minor_only(p.child_assent, p),
                "itp_diagnosis_date": p.itp_diagnosis_date,
                "prior_therapies": p.prior_therapies,
                "splenectomy": p.splenectomy,
                "splenectomy_date": p.splenectomy_date,
                "height_cm": p.height_cm,
                "withdrawal_detail": p.withdrawal_detail,
                "enrolled_on": p.enrolled_on,
            },
        )


def eligibility_rows(*, today: date) -> Iterator[Row]:
    protocol_order = Case(
        *(When(criterion=c.code, then=i) for i, c in enumerate(protocol.CRITERIA)),
        output_field=IntegerField(),
    )
    queryset = (
        EligibilityAnswer.objects.annotate(criterion_order=protocol_order)
        .order_by("participant__subject_id", "criterion_order")
        .values_list("participant__subject_id", "criterion", "met")
    )
    for subject_id, criterion, met in queryset.iterator(chunk_size=CHUNK_SIZE):
        yield [subject_id, criterion, met]


VISIT_CRF_FIELDS = (
    "weight_kg",
    "height_cm",
    "systolic_bp",
    "diastolic_bp",
    "heart_rate",
    "temperature_c",
    "respiratory_rate",
    "physical_exam_normal",
    "physical_exam_findings",
    "new_adverse_event",
    "medication_change",
)


def visits_rows(*, today: date) -> Iterator[Row]:
    """Every scheduled visit of every participant, done or not, in protocol order."""
    queryset = participants_with_schedule(Participant.objects.order_by("subject_id"))
    for p in queryset.iterator(chunk_size=PARTICIPANT_CHUNK_SIZE):
        visits = {v.code: v for v in p.visits.all()}
        for s in participant_schedule(p, today=today):
            visit = visits.get(s.code)
            if visit is None:
                continue
            values = {
                "subject_id": p.subject_id,
                "visit_code": s.code,
                "actual_date": s.actual_date,
                "missed": visit.missed,
                "missed_reason": visit.missed_reason,
                "target_date": s.target,
                "window_start": s.window_start,
                "window_end": s.window_end,
                "window_status": s.status,
                "study_day": s.study_day,
            }
            values.update({name: getattr(visit, name) for name in VISIT_CRF_FIELDS})
            yield _ordered(datasets.VISITS, values)


INFUSION_CRF_FIELDS = (
    "lot_number",
    "viability_pct",
    "volume_ml",
    "reaction",
    "interrupted",
    "start_time",
    "end_time",
    "pre_systolic_bp",
    "pre_diastolic_bp",
    "pre_heart_rate",
    "pre_temperature_c",
    "post_systolic_bp",
    "post_diastolic_bp",
    "post_heart_rate",
    "post_temperature_c",
)


def infusions_rows(*, today: date) -> Iterator[Row]:
    queryset = Infusion.objects.select_related("participant").order_by(
        "participant__subject_id", "number"
    )
    for i in queryset.iterator(chunk_size=CHUNK_SIZE):
        dose = dosing.stored_dose(i)
        values = {
            "subject_id": i.participant.subject_id,
            "infusion_number": i.number,
            "infusion_date": i.infusion_date,
            "dosing_weight_kg": i.dosing_weight_kg,
            "actual_cells": i.actual_cells,
            "dose_per_kg": dose.dose_per_kg,
            "planned_cells": dose.planned_cells,
            "deviation_pct": dose.deviation_pct,
            "dose_deviation": dose.deviation,
        }
        values.update({name: getattr(i, name) for name in INFUSION_CRF_FIELDS})
        yield _ordered(datasets.INFUSIONS, values)


def _participant_id_chunks(size: int) -> Iterator[list[int]]:
    """Participant ids in subject order, a chunk at a time (ids only, never the rows)."""
    ids = list(Participant.objects.order_by("subject_id").values_list("pk", flat=True))
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def platelets_rows(*, today: date) -> Iterator[Row]:
    """Every count with its study day and IWG category, streamed in subject and date order.

    Per chunk of participants: one query for infusion 1, one for the rescue starts, then
    the counts through a server-side cursor. A count dated on or before infusion 1 is a
    baseline count (no category); the baseline of the assessments after it is taken from
    the counts already streamed, by the same rule (`response.baseline_platelets`).
    """
    uns = protocol.UNSCHEDULED_VISIT_CODE
    for ids in _participant_id_chunks(PARTICIPANT_CHUNK_SIZE * 10):
        first_infusions = dict(
            Infusion.objects.filter(participant_id__in=ids, number=1).values_list(
                "participant_id", "infusion_date"
            )
        )
        rescue_starts: dict[int, list[date]] = defaultdict(list)
        for pid, start in ConcomitantMedication.objects.filter(
            participant_id__in=ids, rescue=True
        ).values_list("participant_id", "start_date"):
            rescue_starts[pid].append(start)
        counts = (
            PlateletCount.objects.filter(participant_id__in=ids)
            .order_by("participant__subject_id", "sample_date")
            .values_list(
                "participant_id",
                "participant__subject_id",
                "sample_date",
                "platelets",
                "who_bleeding_grade",
                "visit__code",
            )
        )
        current = None
        before: list[response.PlateletSample] = []
        baseline: int | None = None
        baseline_known = False
        for pid, subject_id, sample_date, platelets, grade, visit_code in counts.iterator(
            chunk_size=CHUNK_SIZE
        ):
            if pid != current:
                current, before, baseline, baseline_known = pid, [], None, False
            first = first_infusions.get(pid)
            evaluable = category = None
            if first is not None and sample_date > first:
                if not baseline_known:
                    baseline = response.baseline_platelets(before, first_infusion=first)
                    baseline_known, before = True, []
                evaluable = response.is_evaluable(sample_date, rescue_starts=rescue_starts[pid])
                category = response.assessment_category(
                    platelets=platelets,
                    bleeding_grade=grade,
                    baseline=baseline,
                    evaluable=evaluable,
                )
            elif first is not None:
                before.append(response.PlateletSample(sample_date, platelets, grade))
            yield [
                subject_id,
                sample_date,
                platelets,
                grade,
                visit_code or uns,
                schedule.study_day(sample_date, first),
                evaluable,
                category,
            ]


def adverse_events_rows(*, today: date) -> Iterator[Row]:
    first_infusion = Infusion.objects.filter(participant=OuterRef("participant"), number=1)
    queryset = (
        AdverseEvent.objects.select_related("participant", "related_infusion")
        .annotate(first_infusion=Subquery(first_infusion.values("infusion_date")[:1]))
        .order_by("participant__subject_id", "ae_number")
    )
    for ae in queryset.iterator(chunk_size=CHUNK_SIZE):
        yield _ordered(
            datasets.ADVERSE_EVENTS,
            {
                "subject_id": ae.participant.subject_id,
                "ae_number": ae.ae_number,
                "term": ae.term,
                "onset_date": ae.onset_date,
                "end_date": ae.end_date,
                "ongoing": ae.ongoing,
                "ctcae_grade": ae.ctcae_grade,
                "serious": ae.serious,
                "serious_criteria": ae.serious_criteria,
                "relationship": ae.relationship,
                "related_infusion": ae.related_infusion.number if ae.related_infusion else None,
                "action_taken": ae.action_taken,
                "outcome": ae.outcome,
                "awareness_at": ae.awareness_at,
                "reported_at": ae.reported_at,
                "report_due_at": (
                    safety_rules.sae_report_due(ae.awareness_at)
                    if ae.serious and ae.awareness_at
                    else None
                ),
                "treatment_emergent": safety_rules.is_treatment_emergent(
                    ae.onset_date, ae.first_infusion
                ),
            },
        )


def conmeds_rows(*, today: date) -> Iterator[Row]:
    queryset = ConcomitantMedication.objects.select_related("participant").order_by(
        "participant__subject_id", "start_date", "drug"
    )
    for c in queryset.iterator(chunk_size=CHUNK_SIZE):
        yield [
            c.participant.subject_id,
            c.drug,
            c.indication,
            c.start_date,
            c.end_date,
            c.rescue,
            c.dose,
        ]


def flags_rows(*, today: date) -> Iterator[Row]:
    queryset = Flag.objects.select_related(
        "participant", "visit", "infusion", "adverse_event", "acknowledged_by"
    ).order_by("participant__subject_id", "raised_at", "id")
    for f in queryset.iterator(chunk_size=CHUNK_SIZE):
        if f.visit is not None:
            visit_code = f.visit.code
        elif f.infusion is not None:
            visit_code = f.infusion.visit_code
        else:
            visit_code = ""
        yield _ordered(
            datasets.FLAGS,
            {
                "subject_id": f.participant.subject_id,
                "kind": f.kind,
                "visit_code": visit_code,
                "raised_at": _to_second(f.raised_at),
                "resolved_at": _to_second(f.resolved_at),
                "status": f.status,
                "detail": f.detail,
                "ae_number": f.adverse_event.ae_number if f.adverse_event else None,
                "acknowledged_at": _to_second(f.acknowledged_at),
                "acknowledged_by": f.acknowledged_by.username if f.acknowledged_by else "",
                "acknowledgement_comment": f.acknowledgement_comment,
            },
        )


def signatures_rows(*, today: date) -> Iterator[Row]:
    """The signatures as the standards read them (exchange.standards.review)."""
    from .standards.review import signatures

    for signed in signatures().values():
        for s in signed:
            yield _ordered(
                datasets.SIGNATURES,
                {
                    "subject_id": s.subject_id,
                    "signed_at": s.signed_at,
                    "time_zone": s.time_zone,
                    "signed_by": s.username,
                    "signer_name": s.full_name,
                    "meaning": s.meaning,
                    "statement": s.statement,
                    "casebook_sha256": s.content_hash,
                    "status": s.status,
                    "stale_at": s.stale_at,
                    "stale_reason": s.stale_reason,
                },
            )


def locks_rows(*, today: date) -> Iterator[Row]:
    """Every lock period of the database, then of each casebook, oldest first."""

    def row(scope: str, subject_id: str, lock: Any) -> Row:
        return _ordered(
            datasets.LOCKS,
            {
                "scope": scope,
                "subject_id": subject_id,
                "locked_at": lock.locked_at,
                "locked_by": lock.locked_by.username,
                "unlocked_at": lock.unlocked_at,
                "unlocked_by": lock.unlocked_by.username if lock.unlocked_by else "",
                "unlock_reason": lock.unlock_reason,
            },
        )

    database = DatabaseLock.objects.select_related("locked_by", "unlocked_by")
    for lock in database.order_by("locked_at", "id").iterator(chunk_size=CHUNK_SIZE):
        yield row("database", "", lock)
    casebooks = CasebookLock.objects.select_related("participant", "locked_by", "unlocked_by")
    for lock in casebooks.order_by("participant__subject_id", "locked_at", "id").iterator(
        chunk_size=CHUNK_SIZE
    ):
        yield row("casebook", lock.participant.subject_id, lock)


def queries_rows(*, today: date) -> Iterator[Row]:
    from safety.models import DataQuery
    from safety.review_export import record_keys

    keys = record_keys()
    queryset = (
        DataQuery.objects.select_related("participant", "raised_by", "answered_by", "closed_by")
        .annotate(turns=Count("messages"))
        .order_by("participant__subject_id", "number", "id")
    )
    for q in queryset.iterator(chunk_size=CHUNK_SIZE):
        dataset, record = keys.get((q.target_kind, q.object_id), ("", ""))
        yield _ordered(
            datasets.QUERIES,
            {
                "subject_id": q.participant.subject_id,
                "query_number": q.number,
                "dataset": dataset,
                "record": record,
                "field": q.field_name,
                "state": q.state,
                "due_date": q.due_date,
                "question": q.question,
                "raised_by": q.raised_by.username,
                "raised_at": q.raised_at,
                "answer": q.answer,
                "answered_by": q.answered_by.username if q.answered_by else "",
                "answered_at": q.answered_at,
                "closed_by": q.closed_by.username if q.closed_by else "",
                "closed_at": q.closed_at,
                "record_version_raised": q.target_version,
                "messages": q.turns,
            },
        )


def sdv_rows(*, today: date) -> Iterator[Row]:
    from safety.models import Verification
    from safety.review_export import record_keys, record_versions

    keys, versions = record_keys(), record_versions()
    queryset = Verification.objects.select_related("participant", "verified_by").order_by(
        "participant__subject_id", "target_kind", "object_id"
    )
    for v in queryset.iterator(chunk_size=CHUNK_SIZE):
        dataset, record = keys.get((v.target_kind, v.object_id), ("", ""))
        current = versions.get((v.target_kind, v.object_id))
        yield _ordered(
            datasets.SDV,
            {
                "subject_id": v.participant.subject_id,
                "dataset": dataset,
                "record": record,
                "state": "verified" if current == v.verified_version else "changed",
                "verified_version": v.verified_version,
                "current_version": current,
                "verified_by": v.verified_by.username,
                "verified_at": v.verified_at,
            },
        )


def _audit_trail_rows(*, today: date) -> Iterator[Row]:
    from .audit_trail import audit_trail_rows

    return audit_trail_rows()


ROWS: dict[str, Callable[..., Iterator[Sequence[Any]]]] = {
    "subjects": subjects_rows,
    "eligibility": eligibility_rows,
    "visits": visits_rows,
    "infusions": infusions_rows,
    "platelets": platelets_rows,
    "adverse_events": adverse_events_rows,
    "conmeds": conmeds_rows,
    "flags": flags_rows,
    "signatures": signatures_rows,
    "locks": locks_rows,
    "queries": queries_rows,
    "sdv": sdv_rows,
    "audit_trail": _audit_trail_rows,
}
