"""Reads of flags and data queries for pages: a fixed number of queries whatever the rows."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import IntegerField, Prefetch, QuerySet
from django.db.models.expressions import RawSQL
from django.shortcuts import get_object_or_404

from infusions.models import Infusion
from itp_trial import protocol
from itp_trial.paging import COUNT_AHEAD, compiled_once
from subjects.models import Participant
from visits.models import Visit

from .models import (
    FLAG_OPEN,
    FLAG_STATUS_FILTERS,
    AdverseEvent,
    ConcomitantMedication,
    DataQuery,
    Flag,
    QueryState,
)
from .triage import sae_clocks_running, triage_order

QUERY_OPEN, QUERY_CLOSED = "open", "closed"


# One get-or-404 per object kind, with what its pages read alongside it.
def adverse_event_get(ae_id: int, *, with_flags: bool = False) -> AdverseEvent:
    events = AdverseEvent.objects.select_related("participant", "related_infusion")
    if with_flags:
        events = events.prefetch_related(
            Prefetch("flags", queryset=Flag.objects.select_related("acknowledged_by"))
        )
    return get_object_or_404(events, pk=ae_id)


def conmed_get(conmed_id: int) -> ConcomitantMedication:
    return get_object_or_404(
        ConcomitantMedication.objects.select_related("participant"), pk=conmed_id
    )


def flag_get(flag_id: int) -> Flag:
    return get_object_or_404(
        Flag.objects.select_related("participant", "visit", "infusion", "adverse_event"),
        pk=flag_id,
    )


def query_get(query_id: int) -> DataQuery:
    return get_object_or_404(DataQuery.objects.select_related("participant", "visit"), pk=query_id)


FLAG_RELATED = ("participant", "visit", "infusion", "adverse_event", "acknowledged_by")


def flags_list(
    *,
    kind: str | None = None,
    status: str | None = None,
    participant_id: int | None = None,
) -> QuerySet[Flag]:
    """Flags, newest first, filtered by kind, status (open, resolved, acknowledged) and
    participant; an empty filter is no filter. The flags alone, without what they point at:
    paginate this, then `flag_rows_of` reads the page's rows with their records."""
    flags = Flag.objects.order_by("-raised_at", "-pk")
    if kind:
        flags = flags.filter(kind=kind)
    if status:
        flags = flags.filter(FLAG_STATUS_FILTERS[status])
    if participant_id:
        flags = flags.filter(participant_id=participant_id)
    return flags


def _open_flags(participant_ids: list[int] | None) -> QuerySet[Flag]:
    flags = Flag.objects.filter(FLAG_OPEN)
    if participant_ids is not None:
        flags = flags.filter(participant_id__in=participant_ids)
    return flags


def open_flags_for(*, participant_ids: Iterable[int] | None = None) -> QuerySet[Flag]:
    """The open flags of these participants (all participants with None), in triage order
    (safety.triage): SAE report flags, overdue visits by how long, then the rest, oldest
    first."""
    ids = list(participant_ids) if participant_ids is not None else None
    return triage_order(_open_flags(ids).select_related(*FLAG_RELATED))


def open_flags_count(*, participant_ids: Iterable[int] | None = None) -> int:
    ids = list(participant_ids) if participant_ids is not None else None
    return _open_flags(ids).count()


# --- a page of flags as its lines show them -------------------------------------------------
# A list shows of each flag's records a word or two (the subject ID, the visit's code, the
# AE's number): read as one scalar subquery each rather than joined. Joined, the six tables
# made planning the page's query cost several times running it (2.4 ms against 0.2 ms at
# 100,000 flags), and made a model object of every record.


@dataclass(frozen=True, slots=True)
class ParticipantRef:
    subject_id: str


@dataclass(frozen=True, slots=True)
class VisitRef:
    code: str
    window_end: date | None


@dataclass(frozen=True, slots=True)
class InfusionRef:
    number: int

    @property
    def visit_code(self) -> str:
        return protocol.INFUSION_VISIT_CODES[self.number]


@dataclass(frozen=True, slots=True)
class AdverseEventRef:
    ae_number: int
    awareness_at: datetime | None


@dataclass(frozen=True, slots=True)
class UserRef:
    username: str
    first_name: str
    last_name: str

    def get_full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


@dataclass(frozen=True, slots=True)
class FlagRow:
    """A flag as a list reads it: its columns, and of its records what the line shows. The
    same attributes as a Flag loaded with its records, so that the one `flag_view`,
    `flag_line_html` and `triage_key` serve both."""

    pk: int
    version: int
    kind: str
    participant_id: int
    visit_id: int | None
    infusion_id: int | None
    adverse_event_id: int | None
    detail: str
    raised_at: datetime
    resolved_at: datetime | None
    acknowledged_at: datetime | None
    acknowledgement_comment: str
    participant: ParticipantRef
    visit: VisitRef | None
    infusion: InfusionRef | None
    adverse_event: AdverseEventRef | None
    acknowledged_by: UserRef | None

    @property
    def id(self) -> int:
        return self.pk

    # The model's own readings, not copies of them.
    detail_display = property(Flag.detail_display.fget)
    status = property(Flag.status.fget)


def _of(model: Any, field: str, *, key: str) -> RawSQL:
    """`field` of the `model` row that the flag's `key` points at, as a scalar subquery.
    Written out rather than as a Subquery: the ORM rebuilt nine of them on every request,
    which cost more than the join it replaced."""
    quote = connection.ops.quote_name
    meta, target = model._meta, model._meta.get_field(field)
    return RawSQL(
        f"SELECT {quote(target.column)} FROM {quote(meta.db_table)} "
        f"WHERE {quote(meta.pk.column)} = "
        f"{quote(Flag._meta.db_table)}.{quote(Flag._meta.get_field(key).column)}",
        (),
        output_field=target,
    )


_FLAG_COLUMNS = (
    "pk",
    "version",
    "kind",
    "participant_id",
    "visit_id",
    "infusion_id",
    "adverse_event_id",
    "detail",
    "raised_at",
    "resolved_at",
    "acknowledged_at",
    "acknowledgement_comment",
)


@lru_cache(maxsize=4)
def _related_columns() -> dict[str, RawSQL]:
    user = get_user_model()
    return {
        "r_subject_id": _of(Participant, "subject_id", key="participant"),
        "r_visit_code": _of(Visit, "code", key="visit"),
        "r_visit_window_end": _of(Visit, "window_end", key="visit"),
        "r_infusion_number": _of(Infusion, "number", key="infusion"),
        "r_ae_number": _of(AdverseEvent, "ae_number", key="adverse_event"),
        "r_ae_awareness_at": _of(AdverseEvent, "awareness_at", key="adverse_event"),
        "r_user_username": _of(user, "username", key="acknowledged_by"),
        "r_user_first_name": _of(user, "first_name", key="acknowledged_by"),
        "r_user_last_name": _of(user, "last_name", key="acknowledged_by"),
    }


def _flag_rows_query(chosen: QuerySet[Flag], **extra: Any) -> QuerySet:
    related = _related_columns()
    extra_names = list(extra)
    return (
        Flag.objects.filter(pk__in=chosen.values("pk"))
        .annotate(**extra)
        .order_by(*chosen.query.order_by)
        .values_list(*_FLAG_COLUMNS, *related.values(), *extra_names)
    )


def _flag_row(row: tuple) -> FlagRow:
    """A row of _flag_rows_query as a FlagRow (the columns past its own are ignored)."""
    flag = dict(zip(_FLAG_COLUMNS, row[: len(_FLAG_COLUMNS)], strict=True))
    (
        subject_id,
        visit_code,
        visit_window_end,
        infusion_number,
        ae_number,
        ae_awareness_at,
        username,
        first_name,
        last_name,
    ) = row[len(_FLAG_COLUMNS) : len(_FLAG_COLUMNS) + len(_related_columns())]
    return FlagRow(
        **flag,
        participant=ParticipantRef(subject_id),
        visit=VisitRef(visit_code, visit_window_end) if flag["visit_id"] else None,
        infusion=InfusionRef(infusion_number) if flag["infusion_id"] else None,
        adverse_event=AdverseEventRef(ae_number, ae_awareness_at)
        if flag["adverse_event_id"]
        else None,
        acknowledged_by=UserRef(username, first_name, last_name)
        if username is not None
        else None,
    )


def flag_rows_of(chosen: QuerySet[Flag], *, key: Hashable = None) -> list[FlagRow]:
    """The flags the sliced list `chosen` picks (a page), in its order, as FlagRows (one
    query). With `key` (every value `chosen` is built from: its filters, its page), the
    statement is compiled once for it (itp_trial.paging.compiled_once)."""
    if key is None:
        return [_flag_row(row) for row in _flag_rows_query(chosen)]
    # The slice too: a paginator ends its last page at the count, not a page further.
    key = (key, chosen.query.low_mark, chosen.query.high_mark)
    return [_flag_row(row) for row in compiled_once(key, lambda: _flag_rows_query(chosen))]


def open_flags_summary(
    *, participant_ids: Iterable[int] | None = None, limit: int = 20
) -> dict[str, Any]:
    """The context of templates/safety/_open_flags.html and _sae_clocks.html: the first
    `limit` open flags in triage order, the count of all of them (up to COUNT_AHEAD, with
    `open_flags_more` when there are more), and the SAE report clocks still running (two
    queries). The first `limit` are chosen in a narrow subquery (the flags and what triage
    orders them by); only those are read with their records, and with the count."""
    ids = list(participant_ids) if participant_ids is not None else None

    def rows() -> QuerySet:
        first = triage_order(_open_flags(ids))[:limit]
        # Counted up to COUNT_AHEAD: the whole trial's open flags can be 100,000 rows, too
        # many to count on every request; beyond, the panel says "more than". Read with the
        # rows: with no open flag there is no row, and the count is 0.
        counted_rows = _open_flags(ids).order_by().values("pk")[: COUNT_AHEAD + 1]
        sql, params = counted_rows.query.sql_with_params()
        counted = RawSQL(
            f"SELECT COUNT(*) FROM ({sql}) AS open_counted", params, output_field=IntegerField()
        )
        return _flag_rows_query(first, r_open_count=counted)

    # The statement depends on these alone: compiled once for them.
    key = ("open_flags", tuple(ids) if ids is not None else None, limit, COUNT_AHEAD)
    found = compiled_once(key, rows)
    counted = found[0][-1] if found else 0
    return {
        "open_flags": [_flag_row(row) for row in found],
        "open_flags_count": min(counted, COUNT_AHEAD),
        "open_flags_more": counted > COUNT_AHEAD,
        "sae_clocks": sae_clocks_running(participant_ids=ids),
    }


def queries_list(*, state: str | None = None, participant_id: int | None = None) -> QuerySet:
    """Data queries, newest first, open (not closed) or closed, of one participant or all."""
    queries = DataQuery.objects.select_related(
        "participant", "visit", "raised_by", "answered_by"
    ).order_by("-raised_at", "-pk")
    if state == QUERY_OPEN:
        queries = queries.exclude(state=QueryState.CLOSED)
    elif state in (QueryState.ANSWERED, QUERY_CLOSED):
        queries = queries.filter(state=state)
    if participant_id:
        queries = queries.filter(participant_id=participant_id)
    return queries
