"""The rows of each clinical dataset, streamed from database iterators.

Each generator yields one list of Python values per record, in the dataset's column order;
`exchange.export` formats and writes them. The clinical datasets read value rows
(`values_list()`, no model instances) a batch at a time (`value_rows`): a table is never
held in memory. A derived value is read where it is stored (the status, the IWG response,
each count's category, the dose) or computed by the pure rule the pages use (the schedule,
evaluability, the SAE clock), on chunks of participants: a constant number of queries per
chunk.
"""

from __future__ import annotations

from collections import defaultdict, namedtuple
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
from visits.models import PlateletCount, Visit
from visits.selectors import schedule_input

from . import datasets

CHUNK_SIZE = 2000  # rows fetched per database round trip
PARTICIPANT_CHUNK_SIZE = 100  # participants whose related rows are read together
AUDIT_CHUNK_SIZE = 10_000  # rows of the largest tables fetched per round trip

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


_SUBJECT_FIELDS = (
    "subject_id",
    "screening_number",
    "sex",
    "birth_date",
    "consent_date",
    "consent_version",
    "guardian_consent",
    "child_assent",
    "enrolled_on",
    "planned_first_infusion_date",
    "treatment_discontinued_date",
    "treatment_discontinued_reason",
    "withdrawal_date",
    "withdrawal_reason",
    "status",
    "itp_diagnosis_date",
    "prior_therapies",
    "splenectomy",
    "splenectomy_date",
    "height_cm",
    "withdrawal_detail",
)
# The response as stored by visits.services.responses_sync (response_summarise's result).
_STORED_RESPONSE = (
    "baseline_platelets",
    "best_response",
    "time_to_response_days",
    "response_lost_on",
    "response_duration_days",
)
_Subject = namedtuple("_Subject", (*_SUBJECT_FIELDS, *_STORED_RESPONSE, "version"))


def subjects_rows(*, today: date) -> Iterator[Row]:
    """The participants with their stored response (`visits.ParticipantResponse`)."""
    queryset = Participant.objects.order_by("subject_id").values_list(
        *_SUBJECT_FIELDS,
        *(f"stored_response__{name}" for name in _STORED_RESPONSE),
        "version",
    )
    for values in value_rows(queryset):
        p = _Subject._make(values)
        yield [
            p.subject_id,
            p.screening_number,
            p.sex,
            p.birth_date,
            p.consent_date,
            p.consent_version,
            _minor_only(p.guardian_consent, p),
            _minor_only(p.child_assent, p),
            p.enrolled_on,
            p.planned_first_infusion_date,
            p.treatment_discontinued_date,
            p.treatment_discontinued_reason,
            p.withdrawal_date,
            p.withdrawal_reason,
            age_years(p.birth_date, p.consent_date),
            p.status,
            p.baseline_platelets,
            p.best_response,
            p.time_to_response_days,
            p.response_lost_on,
            p.response_duration_days,
            p.itp_diagnosis_date,
            p.prior_therapies,
            p.splenectomy,
            p.splenectomy_date,
            p.height_cm,
            p.withdrawal_detail,
            p.version,
        ]


def eligibility_rows(*, today: date) -> Iterator[Row]:
    protocol_order = Case(
        *(When(criterion=c.code, then=i) for i, c in enumerate(protocol.CRITERIA)),
        output_field=IntegerField(),
    )
    queryset = (
        EligibilityAnswer.objects.annotate(criterion_order=protocol_order)
        .order_by("participant__subject_id", "criterion_order")
        .values_list("participant__subject_id", "criterion", "met", "version")
    )
    return value_rows(queryset)


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


_ScheduleParticipant = namedtuple(
    "_ScheduleParticipant",
    "pk subject_id planned_first_infusion_date eligible treatment_discontinued_date "
    "withdrawal_date",
)
_ScheduleVisit = namedtuple(
    "_ScheduleVisit",
    (
        "participant_id",
        "code",
        "actual_date",
        "missed",
        "missed_reason",
        *VISIT_CRF_FIELDS,
        "version",
    ),
)
_ScheduleInfusion = namedtuple("_ScheduleInfusion", "participant_id number infusion_date")


def visits_rows(*, today: date) -> Iterator[Row]:
    """Every scheduled visit of every participant, done or not, in protocol order.

    Per chunk of participants, three value queries (participants, their visits, their
    infusions); the schedule is the engine's (`schedule.schedule_compute`) on that input.
    """
    for ids in _participant_id_chunks(PARTICIPANT_CHUNK_SIZE * 10):
        participants = Participant.objects.filter(pk__in=ids).order_by("subject_id")
        visits: dict[int, list[Any]] = defaultdict(list)
        for values in value_rows(
            Visit.objects.filter(participant_id__in=ids).values_list(*_ScheduleVisit._fields)
        ):
            visit = _ScheduleVisit._make(values)
            visits[visit.participant_id].append(visit)
        infusions: dict[int, list[Any]] = defaultdict(list)
        infusion_values = (
            Infusion.objects.filter(participant_id__in=ids)
            .order_by("number")
            .values_list(*_ScheduleInfusion._fields)
        )
        for values in value_rows(infusion_values):
            infusion = _ScheduleInfusion._make(values)
            infusions[infusion.participant_id].append(infusion)
        for values in value_rows(participants.values_list(*_ScheduleParticipant._fields)):
            p = _ScheduleParticipant._make(values)
            own = {v.code: v for v in visits[p.pk]}
            data = schedule_input(p, visits=own.values(), infusions=infusions[p.pk])
            for s in schedule.schedule_compute(data, today=today):
                visit = own.get(s.code)
                if visit is None:
                    continue
                yield [
                    p.subject_id,
                    s.code,
                    s.actual_date,
                    visit.missed,
                    visit.missed_reason,
                    s.target,
                    s.window_start,
                    s.window_end,
                    s.status,
                    s.study_day,
                    *visit[_VISIT_CRF_START:],  # the CRF's fields, then the version
                ]


_VISIT_CRF_START = _ScheduleVisit._fields.index(VISIT_CRF_FIELDS[0])


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


_StoredDose = namedtuple(
    "_StoredDose", "actual_cells dose_per_kg planned_cells dose_deviation dose_tolerance_pct"
)


def infusions_rows(*, today: date) -> Iterator[Row]:
    queryset = Infusion.objects.order_by("participant__subject_id", "number").values_list(
        "participant__subject_id",
        "number",
        "infusion_date",
        "dosing_weight_kg",
        *_StoredDose._fields,
        *INFUSION_CRF_FIELDS,
        "version",
    )
    crf = 4 + len(_StoredDose._fields)
    for values in value_rows(queryset):
        dose = dosing.stored_dose(_StoredDose._make(values[4:crf]))
        (
            lot_number,
            viability_pct,
            volume_ml,
            reaction,
            interrupted,
            start_time,
            end_time,
            *vitals,
            version,
        ) = values[crf:]
        yield [
            *values[:4],
            values[4],
            lot_number,
            viability_pct,
            volume_ml,
            reaction,
            interrupted,
            dose.dose_per_kg,
            dose.planned_cells,
            dose.deviation_pct,
            dose.deviation,
            start_time,
            end_time,
            *vitals,
            version,
        ]


def _participant_id_chunks(size: int) -> Iterator[list[int]]:
    """Participant ids in subject order, a chunk at a time (ids only, never the rows)."""
    ids = list(Participant.objects.order_by("subject_id").values_list("pk", flat=True))
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def platelets_rows(*, today: date) -> Iterator[Row]:
    """Every count with its study day, evaluability and stored IWG category, in subject and
    date order.

    Per chunk of participants: one query for infusion 1, one for the rescue starts, then
    the counts as value rows. The category is the one `visits.services.responses_sync`
    stored with the count (empty on or before infusion 1).
    """
    uns = protocol.UNSCHEDULED_VISIT_CODE
    study_day, is_evaluable = schedule.study_day, response.is_evaluable
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
                "response_category",
                "version",
            )
        )
        for (
            pid,
            subject_id,
            sample_date,
            platelets,
            grade,
            visit_code,
            category,
            version,
        ) in value_rows(counts, size=AUDIT_CHUNK_SIZE):
            first = first_infusions.get(pid)
            after = first is not None and sample_date > first
            yield [
                subject_id,
                sample_date,
                platelets,
                grade,
                visit_code or uns,
                study_day(sample_date, first),
                is_evaluable(sample_date, rescue_starts=rescue_starts[pid]) if after else None,
                category or None,
                version,
            ]


def adverse_events_rows(*, today: date) -> Iterator[Row]:
    first_infusion = Infusion.objects.filter(participant=OuterRef("participant"), number=1)
    queryset = (
        AdverseEvent.objects.annotate(
            first_infusion=Subquery(first_infusion.values("infusion_date")[:1])
        )
        .order_by("participant__subject_id", "ae_number")
        .values_list(
            "participant__subject_id",
            "ae_number",
            "term",
            "onset_date",
            "end_date",
            "ongoing",
            "ctcae_grade",
            "serious",
            "serious_criteria",
            "relationship",
            "related_infusion__number",
            "action_taken",
            "outcome",
            "awareness_at",
            "reported_at",
            "first_infusion",
            "version",
        )
    )
    for *values, first, version in value_rows(queryset):
        serious, onset, awareness_at = values[7], values[3], values[13]
        yield [
            *values,
            safety_rules.sae_report_due(awareness_at) if serious and awareness_at else None,
            safety_rules.is_treatment_emergent(onset, first),
            version,
        ]


def conmeds_rows(*, today: date) -> Iterator[Row]:
    queryset = ConcomitantMedication.objects.order_by(
        "participant__subject_id", "start_date", "drug"
    ).values_list(
        "participant__subject_id",
        "drug",
        "indication",
        "start_date",
        "end_date",
        "rescue",
        "dose",
        "version",
    )
    return value_rows(queryset)


_FlagState = namedtuple("_FlagState", "acknowledged_at resolved_at")


def flags_rows(*, today: date) -> Iterator[Row]:
    queryset = Flag.objects.order_by("participant__subject_id", "raised_at", "id").values_list(
        "participant__subject_id",
        "kind",
        "visit__code",
        "infusion__number",
        "raised_at",
        "resolved_at",
        "detail",
        "adverse_event__ae_number",
        "acknowledged_at",
        "acknowledged_by__username",
        "acknowledgement_comment",
    )
    status = Flag.status.fget  # the model's rule, read on the values
    infusion_codes = protocol.INFUSION_VISIT_CODES
    for (
        subject_id,
        kind,
        visit_code,
        infusion_number,
        raised_at,
        resolved_at,
        detail,
        ae_number,
        acknowledged_at,
        acknowledged_by,
        comment,
    ) in value_rows(queryset):
        if visit_code is None:
            visit_code = infusion_codes[infusion_number] if infusion_number is not None else ""
        yield [
            subject_id,
            kind,
            visit_code,
            _to_second(raised_at),
            _to_second(resolved_at),
            status(_FlagState(acknowledged_at, resolved_at)),
            detail,
            ae_number,
            _to_second(acknowledged_at),
            acknowledged_by or "",
            comment,
        ]


def none_in(*models: Any) -> bool:
    """Whether these tables are all empty, in one plain query: a dataset of records not
    yet made (often all of them, early in a study) then costs what a COPY of an empty table
    does, not the compiling and cursors of the querysets that would read them."""
    tables = [connections["default"].ops.quote_name(m._meta.db_table) for m in models]
    exists = " OR ".join(f"EXISTS (SELECT 1 FROM {table})" for table in tables)
    with connections["default"].cursor() as cursor:
        cursor.execute(f"SELECT {exists}")
        return not cursor.fetchone()[0]


def signatures_rows(*, today: date) -> Iterator[Row]:
    """The signatures as the standards read them (exchange.standards.review)."""
    from subjects.models import Signature

    if none_in(Signature):  # none yet: one query, not the states of none (nor their imports)
        return
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

    if none_in(DatabaseLock, CasebookLock):  # none yet: one query, not two cursors
        return
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

    if none_in(DataQuery):  # none yet: one query, not the look-ups of none
        return
    from safety.review_export import record_keys

    keys = record_keys(DataQuery.objects.all())
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

    if none_in(Verification):  # none yet: one query, not the look-ups of none
        return
    from safety.review_export import record_keys, record_versions

    verified = Verification.objects.all()
    keys, versions = record_keys(verified), record_versions(verified)
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
