"""Create a participant's schedule, keep it and the stored response in step with the rules,
queue the checks after a write."""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from operator import attrgetter
from typing import Any, ClassVar

from django.db import connection, transaction
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from infusions.models import Infusion
from itp_trial import protocol
from itp_trial.locks import unlocked_participants
from itp_trial.tasks import CHECKS_FOR_PARTICIPANT, FIGURES_SYNC, task_enqueue_on_commit, task_run
from subjects.models import Participant

from .. import response, schedule
from ..models import VISIT_RESPONSE_FIELDS, ParticipantResponse, PlateletCount, Visit
from ..selectors import schedule_input

logger = logging.getLogger(__name__)

SCHEDULE_FIELDS = ("target_date", "window_start", "window_end", "provisional", "window_status")
_schedule_values = attrgetter(*SCHEDULE_FIELDS)


def schedule_create(*, participant_id: int, screening_date: date, user: Any) -> None:
    """A row for every visit of the protocol, for a participant just screened (V1 done)."""
    visits = [
        Visit(
            participant_id=participant_id,
            code=definition.code,
            actual_date=screening_date if definition.kind == protocol.KIND_SCREENING else None,
        )
        for definition in protocol.VISITS
    ]
    bulk_create_with_history(visits, Visit, default_user=user)


def schedule_sync(
    *, participant_ids: Iterable[int] | None = None, today: date | None = None
) -> int:
    """Recompute the schedule and status of participants and store what changed.

    Set-based, from value rows (no model instance): one read of the participants, then per
    SYNC_CHUNK participants one read each of their visits and infusions, and one UPDATE per
    table over the rows whose derived values moved, from VALUES or COPY (`_values_update`;
    flat memory: a chunk at a time). `schedule_derive` is the rule. With `participant_ids`
    None, every participant is synced (the nightly full pass). Returns the number of visit
    rows updated. A locked casebook is left as it stands (and everyone under the database
    lock): a locked record refuses every write.
    """
    today = today or timezone.localdate()
    queryset = unlocked_participants(Participant.objects.all(), field="")
    if participant_ids is not None:
        queryset = queryset.filter(pk__in=list(participant_ids))
    people = [
        ScheduleParticipant(*row)
        for row in queryset.order_by("pk").values_list(*ScheduleParticipant.FIELDS)
    ]
    return sum(
        _schedule_chunk(people[start : start + SYNC_CHUNK], today=today)
        for start in range(0, len(people), SYNC_CHUNK)
    )


SYNC_CHUNK = 2000  # participants read and written at a time


@dataclass(slots=True)
class ScheduleParticipant:
    """What the schedule reads of a participant, and the status it writes."""

    FIELDS: ClassVar[tuple[str, ...]] = (
        "pk",
        "planned_first_infusion_date",
        "eligible",
        "enrolled_on",
        "treatment_discontinued_date",
        "withdrawal_date",
        "status",
    )
    pk: int
    planned_first_infusion_date: date | None
    eligible: bool | None
    enrolled_on: date | None
    treatment_discontinued_date: date | None
    withdrawal_date: date | None
    status: str


@dataclass(slots=True)
class ScheduleVisit:
    """What the schedule reads of a visit (its entry) and writes (SCHEDULE_FIELDS)."""

    FIELDS: ClassVar[tuple[str, ...]] = ("pk", "code", "actual_date", "missed", *SCHEDULE_FIELDS)
    pk: int
    code: str
    actual_date: date | None
    missed: bool
    target_date: date | None
    window_start: date | None
    window_end: date | None
    provisional: bool
    window_status: str


@dataclass(frozen=True, slots=True)
class ScheduleInfusion:
    number: int
    infusion_date: date


def _schedule_chunk(people: list[ScheduleParticipant], *, today: date) -> int:
    """schedule_sync for one chunk of participants: two reads, then at most one UPDATE per
    table; returns the visit rows updated."""
    ids = [p.pk for p in people]
    visits: dict[int, list[ScheduleVisit]] = {pk: [] for pk in ids}
    for participant_id, *row in (
        Visit.objects.filter(participant_id__in=ids)
        .order_by()
        .values_list("participant_id", *ScheduleVisit.FIELDS)
    ):
        visits[participant_id].append(ScheduleVisit(*row))
    infusions: dict[int, list[ScheduleInfusion]] = {pk: [] for pk in ids}
    for participant_id, number, day in (
        Infusion.objects.filter(participant_id__in=ids)
        .order_by()
        .values_list("participant_id", "number", "infusion_date")
    ):
        infusions[participant_id].append(ScheduleInfusion(number, day))
    visits_changed: list[ScheduleVisit] = []
    participants_changed: list[ScheduleParticipant] = []
    for participant in people:
        changed, status = schedule_derive(
            participant,
            visits=visits[participant.pk],
            infusions=infusions[participant.pk],
            today=today,
        )
        visits_changed.extend(changed)
        if participant.status != status:
            participant.status = status
            participants_changed.append(participant)
    return _store(visits_changed, participants_changed)


def _store(visits: list[Any], participants: list[Any]) -> int:
    """The derived values that moved (visits: their SCHEDULE_FIELDS, participants: their
    status), one UPDATE per table (`_values_update`: a bulk_update's CASE over thousands of
    rows costs more to build than to run, and an UPDATE a row more to send). Takes model
    instances (the import) or the sync's value rows alike."""
    _values_update(Visit, SCHEDULE_FIELDS, [(v.pk, *_schedule_values(v)) for v in visits])
    _values_update(Participant, ("status",), [(p.pk, p.status) for p in participants])
    return len(visits)


def _typed_row(model: Any, names: Iterable[str]) -> str:
    """One row of placeholders for a VALUES list of `names` of `model`.

    Typed on PostgreSQL, where a column of NULLs would otherwise be text; untyped on SQLite,
    whose CAST to a date would turn it into a number.
    """
    names = list(names)
    if connection.vendor != "postgresql":
        return "(" + ", ".join(["%s"] * len(names)) + ")"
    casts = (f"CAST(%s AS {model._meta.get_field(n).cast_db_type(connection)})" for n in names)
    return "(" + ", ".join(casts) + ")"


# From this many rows, PostgreSQL takes an update's values by COPY: at 30,000 visits, COPY
# and one UPDATE ... FROM took a third of the time of the same rows in VALUES lists (the
# statement's text is built, sent and parsed with every value in it).
COPY_FROM_ROWS = 2000


def _values_update(model: Any, names: tuple[str, ...], rows: list[tuple]) -> None:
    """Set `names` of the rows of `model` given as (pk, *values): one UPDATE ... FROM
    (VALUES ...) per STATEMENT_PARAMETERS values, or from COPY for many rows on PostgreSQL;
    nothing for no rows."""
    if not rows:
        return
    if connection.vendor == "postgresql" and len(rows) >= COPY_FROM_ROWS:
        _copy_update(model, names, rows)
        return
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    sets = ", ".join(
        f"{quote(model._meta.get_field(n).column)} = v.column{i}"
        for i, n in enumerate(names, start=2)
    )
    _in_values_batches(
        f"UPDATE {table} SET {sets} FROM (VALUES {{values}}) AS v "
        f"WHERE {table}.{quote(model._meta.pk.column)} = v.column1",
        _typed_row(model, (model._meta.pk.name, *names)),
        rows,
    )


def _copy_update(model: Any, names: tuple[str, ...], rows: list[tuple]) -> None:
    """_values_update on PostgreSQL for many rows: COPY into a temporary table, then one
    UPDATE ... FROM it; the table is dropped in the same (sub)transaction."""
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    fields = [model._meta.pk, *(model._meta.get_field(n) for n in names)]
    temp = quote(f"sync_{model._meta.db_table}")
    columns = ", ".join(f"{quote(f.column)} {f.cast_db_type(connection)}" for f in fields)
    sets = ", ".join(f"{quote(f.column)} = t.{quote(f.column)}" for f in fields[1:])
    key = quote(fields[0].column)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMPORARY TABLE {temp} ({columns}) ON COMMIT DROP")
        with cursor.copy(f"COPY {temp} FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(f"UPDATE {table} SET {sets} FROM {temp} AS t WHERE {table}.{key} = t.{key}")
        cursor.execute(f"DROP TABLE {temp}")


def schedule_derive(
    participant: Any, *, visits: list[Any], infusions: list[Any], today: date
) -> tuple[list[Any], str]:
    """The stored schedule of one participant brought in step with the engine (in memory):
    the visits whose derived values moved, and the participant's status. Pure: the sync and
    the bulk import both store what it gives. Takes model instances (the import) or the
    sync's value rows (`ScheduleParticipant`, `ScheduleVisit`, `ScheduleInfusion`)."""
    data = schedule_input(participant, visits=visits, infusions=infusions)
    computed = {s.code: s for s in schedule.schedule_compute(data, today=today)}
    changed = []
    for visit in visits:
        s = computed[visit.code]
        new = (s.target, s.window_start, s.window_end, s.provisional, s.status)
        if _schedule_values(visit) != new:
            for field, value in zip(SCHEDULE_FIELDS, new, strict=True):
                setattr(visit, field, value)
            changed.append(visit)
    final = computed[protocol.FINAL_VISIT_CODE]
    status = schedule.participant_status(
        withdrawn=participant.withdrawal_date is not None,
        eligible=participant.eligible,
        enrolled=participant.enrolled_on is not None,
        final_visit_done_or_missed=final.actual_date is not None or final.missed,
        treatment_complete=schedule.treatment_complete(data),
        infusions_given=len(infusions),
    )
    return changed, status


RESPONSE_FIELDS = (
    "baseline_platelets",
    "best_response",
    "time_to_response_days",
    "response_start",
    "response_lost_on",
    "response_duration_days",
)
RESPONSE_CHUNK = 1000  # participants read and written at a time (flat memory)
# Parameters per INSERT or UPDATE ... (VALUES ...): under SQLite's limit of 32,766.
STATEMENT_PARAMETERS = 30000


def responses_sync(participant_ids: Iterable[int] | None = None) -> int:
    """Recompute the stored IWG response of participants and store what changed.

    `visits.response.response_summarise` is the rule; this only feeds it and stores its
    result: each participant's `ParticipantResponse` row and each platelet count's
    `response_category` ('' on or before infusion 1). Set-based: per chunk of participants,
    five reads (counts, infusion 1, rescue starts, the stored rows, the visits), one upsert
    and one UPDATE each for the counts and the visits that changed (per STATEMENT_PARAMETERS
    values).
    Each visit also keeps how many of its counts fall in each category (the overview's
    response at each visit). With `participant_ids` None, every participant
    is synced. Locked casebooks are left as they stand, like the schedule. Returns the
    number of participants whose response row changed.
    """
    queryset = unlocked_participants(Participant.objects.all(), field="")
    if participant_ids is not None:
        queryset = queryset.filter(pk__in=list(participant_ids))
    ids = list(queryset.order_by("pk").values_list("pk", flat=True))
    return sum(
        responses_store(ids[start : start + RESPONSE_CHUNK])
        for start in range(0, len(ids), RESPONSE_CHUNK)
    )


@dataclass(frozen=True)
class ResponseModels:
    """The models responses_store reads and writes: the live ones, or a migration's."""

    participant: Any = Participant
    infusion: Any = Infusion
    platelet_count: Any = PlateletCount
    stored: Any = ParticipantResponse
    visit: Any = Visit  # None: the visits' response counters are not stored (yet)


def responses_store(ids: list[int], *, models: ResponseModels = ResponseModels()) -> int:
    """responses_sync for one chunk of participant ids, locks not consulted (a migration
    fills every participant's derived values); returns the response rows changed."""
    # (participant_id, sample_date, platelets, grade, id, response_category, visit_id)
    counts: dict[int, list[tuple[int, date, int, int | None, int, str, int | None]]] = {
        pk: [] for pk in ids
    }
    for row in (
        models.platelet_count.objects.filter(participant_id__in=ids)
        .order_by("participant_id", "sample_date", "id")
        .values_list(
            "participant_id",
            "sample_date",
            "platelets",
            "who_bleeding_grade",
            "id",
            "response_category",
            "visit_id",
        )
    ):
        counts[row[0]].append(row)
    # No default ordering (by subject id, a join): the rows are keyed by participant.
    firsts = dict(
        models.infusion.objects.filter(participant_id__in=ids, number=1)
        .order_by()
        .values_list("participant_id", "infusion_date")
    )
    rescues: dict[int, list[date]] = {}
    # Through the participant's relation: the medication's app sits above this one.
    for participant_id, start in (
        models.participant.objects.filter(pk__in=ids, conmeds__rescue=True)
        .order_by()
        .values_list("pk", "conmeds__start_date")
    ):
        rescues.setdefault(participant_id, []).append(start)
    stored = {
        row[0]: tuple(row[1:])
        for row in models.stored.objects.filter(participant_id__in=ids).values_list(
            "participant_id", *RESPONSE_FIELDS
        )
    }

    responses: list[tuple] = []
    categories: list[tuple[int, str]] = []
    at_visits: dict[int, Counter] = defaultdict(Counter)
    sample = response.PlateletSample
    for pk in ids:
        rows = counts[pk]
        summary = response.response_summarise(
            (sample(row[1], row[2], row[3]) for row in rows),
            first_infusion=firsts.get(pk),
            rescue_starts=rescues.get(pk, ()),
        )
        values = (
            summary.baseline,
            summary.best_response,
            summary.time_to_response_days,
            summary.response_start,
            summary.response_lost_on,
            summary.response_duration_days,
        )
        if stored.get(pk) != values:
            responses.append((pk, *values))
        by_date = {a.sample.sample_date: a.category for a in summary.assessments}
        for _pk, day, _platelets, _grade, count_id, current, visit_id in rows:
            category = by_date.get(day, "")
            if category != current:
                categories.append((count_id, category))
            if category and visit_id is not None:
                at_visits[visit_id][category] += 1

    _responses_upsert(models.stored, responses)
    _categories_store(models.platelet_count, categories)
    if models.visit is not None:
        _visit_counts_store(models.visit, ids, at_visits)
    return len(responses)


def _visit_counts_store(model: Any, ids: list[int], at_visits: dict[int, Counter]) -> None:
    """Each visit's counters of its counts by category, where they moved: one read, one
    UPDATE ... FROM (VALUES ...) (per STATEMENT_PARAMETERS values)."""
    fields = [VISIT_RESPONSE_FIELDS[c] for c in response.CATEGORIES]
    changed = []
    none: Counter = Counter()
    for visit_id, *current in (
        model.objects.filter(participant_id__in=ids).order_by().values_list("id", *fields)
    ):
        found = at_visits.get(visit_id, none)
        new = [found[c] for c in response.CATEGORIES]
        if new != current:
            changed.append((visit_id, *new))
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    sets = ", ".join(
        f"{quote(model._meta.get_field(f).column)} = v.column{n}"
        for n, f in enumerate(fields, start=2)
    )
    _in_values_batches(
        f"UPDATE {table} SET {sets} FROM (VALUES {{values}}) AS v WHERE {table}.id = v.column1",
        "(" + ", ".join(["CAST(%s AS bigint)"] + ["CAST(%s AS integer)"] * len(fields)) + ")",
        changed,
    )


def responses_fill(apps: Any, *, visits: bool = True) -> None:
    """A data migration's fill of every participant's stored response, with its models
    (`visits` False: before the visits' counters exist)."""
    models = ResponseModels(
        participant=apps.get_model("subjects", "Participant"),
        infusion=apps.get_model("infusions", "Infusion"),
        platelet_count=apps.get_model("visits", "PlateletCount"),
        stored=apps.get_model("visits", "ParticipantResponse"),
        visit=apps.get_model("visits", "Visit") if visits else None,
    )
    ids = list(models.participant.objects.order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), RESPONSE_CHUNK):
        responses_store(ids[start : start + RESPONSE_CHUNK], models=models)


def _in_values_batches(sql: str, row_sql: str, rows: list[tuple]) -> None:
    """`sql` run with `{values}` replaced by as many rows of `row_sql` as STATEMENT_PARAMETERS
    allows: one statement per batch, on PostgreSQL and SQLite alike."""
    size = max(STATEMENT_PARAMETERS // max(row_sql.count("%s"), 1), 1)
    for start in range(0, len(rows), size):
        batch = rows[start : start + size]
        with connection.cursor() as cursor:
            cursor.execute(
                sql.format(values=", ".join([row_sql] * len(batch))),
                [value for row in batch for value in row],
            )


def _responses_upsert(model: Any, rows: list[tuple]) -> None:
    """INSERT ... ON CONFLICT DO UPDATE of the response rows that changed."""
    quote = connection.ops.quote_name
    columns = [quote(model._meta.get_field(n).column) for n in ("participant", *RESPONSE_FIELDS)]
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns[1:])
    _in_values_batches(
        f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(columns)}) VALUES {{values}} "
        f"ON CONFLICT ({columns[0]}) DO UPDATE SET {updates}",
        "(" + ", ".join(["%s"] * len(columns)) + ")",
        rows,
    )


def _categories_store(model: Any, categories: list[tuple[int, str]]) -> None:
    """One UPDATE ... FROM (VALUES ...) (per STATEMENT_PARAMETERS values)."""
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    column = quote(model._meta.get_field("response_category").column)
    _in_values_batches(
        f"UPDATE {table} SET {column} = v.column2 FROM (VALUES {{values}}) AS v "
        f"WHERE {table}.id = v.column1",
        "(CAST(%s AS bigint), CAST(%s AS varchar(2)))",
        categories,
    )


def participant_changed(*, participant_id: int, today: date | None = None) -> None:
    """After any write that may move an anchor or the response: resync the schedule, the
    stored response and the overview's figures (reporting.figures), then queue the checks."""
    schedule_sync(participant_ids=[participant_id], today=today)
    responses_sync([participant_id])
    task_run(FIGURES_SYNC, participant_ids=[participant_id])
    task_enqueue_on_commit(CHECKS_FOR_PARTICIPANT, participant_id=participant_id)
