"""Reads for the review pages: a record's read view, a query's page, open-query counts.

A fixed number of SQL queries per page, whatever the number of participants or records.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from django.core.paginator import Paginator
from django.db.models import Count, F, Q, QuerySet, Value
from django.utils import timezone
from django.utils.translation import gettext as _

from itp_trial.compiled import CompiledRead
from itp_trial.paging import compiled_once

from .models import DataQuery, QueryState, Verification
from .sdv import forms_progress, participant_forms, verified_versions
from .targets import TARGETS, Target, target_get

OPEN_STATES = (QueryState.OPEN, QueryState.ANSWERED)


def value_shown(record: Any, name: str) -> str:
    """A field's value as a reader sees it: labels for codes, ISO dates, yes/no."""
    f = record._meta.get_field(name)
    value = getattr(record, name)
    if value is None or value == "":
        return "—"
    if f.choices:
        return str(getattr(record, f"get_{name}_display")())
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, datetime):
        return timezone.localtime(value).isoformat(sep=" ", timespec="minutes")
    if isinstance(value, (date, time)):
        return value.isoformat()
    if f.is_relation:
        number = getattr(value, "number", None)
        return _("Infusion %(n)s") % {"n": number} if number else str(value)
    return str(value)


@dataclass
class FieldRow:
    name: str
    label: str
    value: str
    open_queries: list[DataQuery] = field(default_factory=list)


@dataclass
class RecordPage:
    target: Target
    record: Any
    participant: Any
    label: str
    rows: list[FieldRow]
    queries: list[DataQuery]
    verification: Verification | None
    is_form: bool

    @property
    def open_count(self) -> int:
        return sum(1 for q in self.queries if q.state in OPEN_STATES)


def record_page(kind: str, object_id: int) -> RecordPage | None:
    """The record, its fields with their open queries, all its queries, its verification."""
    target = target_get(kind)
    if target is None:
        return None
    manager = target.model._default_manager
    record = manager.select_related(*target.related).filter(pk=object_id).first()
    if record is None:
        return None
    participant = record if kind == "participant" else record.participant
    queries = list(
        DataQuery.objects.filter(target_kind=kind, object_id=record.pk)
        .select_related("raised_by", "answered_by")
        .order_by("number")
    )
    rows = [
        FieldRow(name, target.field_label(name), value_shown(record, name))
        for name in target.fields
    ]
    by_name = {row.name: row for row in rows}
    for q in queries:
        if q.state in OPEN_STATES and q.field_name in by_name:
            by_name[q.field_name].open_queries.append(q)
    return RecordPage(
        target=target,
        record=record,
        participant=participant,
        label=target.label(record),
        rows=rows,
        queries=queries,
        verification=Verification.objects.select_related("verified_by")
        .filter(target_kind=kind, object_id=record.pk)
        .first(),
        is_form=target.forms().filter(pk=record.pk).exists(),
    )


def query_record(query: DataQuery) -> Any:
    target = target_get(query.target_kind)
    if target is None or query.object_id is None:
        return None
    return target.model._default_manager.filter(pk=query.object_id).first()


def open_query_counts(*, participant_ids: list[int] | None = None) -> dict[int, dict[str, int]]:
    """Per participant: queries open (awaiting the site) and answered (awaiting review)."""
    rows = DataQuery.objects.filter(state__in=OPEN_STATES)
    if participant_ids is not None:
        rows = rows.filter(participant_id__in=participant_ids)
    counts = (
        rows.order_by()
        .values("participant_id")
        .annotate(
            open=Count("pk", filter=Q(state=QueryState.OPEN)),
            answered=Count("pk", filter=Q(state=QueryState.ANSWERED)),
        )
    )
    return {r["participant_id"]: {"open": r["open"], "answered": r["answered"]} for r in counts}


def query_totals(*, participant_ids: list[int] | None = None) -> dict[str, int]:
    """Open and answered queries, and those open past their due date (one query, over the
    open and answered rows only: the closed ones, most of them in time, are not read)."""
    today = timezone.localdate()
    if participant_ids is not None and not participant_ids:
        return {"open": 0, "answered": 0, "overdue": 0}

    def counts() -> QuerySet:
        rows: QuerySet = DataQuery.objects.filter(state__in=OPEN_STATES)
        if participant_ids is not None:
            rows = rows.filter(participant_id__in=participant_ids)
        return (
            rows.order_by()
            .values_list(Value(1))
            .annotate(
                q_open=Count("pk", filter=Q(state=QueryState.OPEN)),
                q_answered=Count("pk", filter=Q(state=QueryState.ANSWERED)),
                q_overdue=Count("pk", filter=Q(state=QueryState.OPEN, due_date__lt=today)),
            )
            .values_list("q_open", "q_answered", "q_overdue")
        )

    # Every navigation bar of a reviewer shows them: the statement is compiled once a day.
    key = ("query_totals", today, tuple(participant_ids) if participant_ids is not None else None)
    (found,) = compiled_once(key, counts) or [(0, 0, 0)]
    return dict(zip(("open", "answered", "overdue"), found, strict=True))


# Rows of a participant's review panel per page (every form is reached through the pages).
REVIEW_FORMS_PER_PAGE = 25


def participant_review(
    *, participant_id: int, records: Mapping[str, Iterable[Any]], forms_page: Any = None
) -> dict[str, Any]:
    """The participant page's review panel: the forms with their SDV state and open queries,
    REVIEW_FORMS_PER_PAGE at a time (`forms_page`), and the participant's query counts and
    SDV progress over every form. The forms come from the participant's records the page
    has loaded (`records`, by kind: sdv.participant_forms); two queries (its verifications,
    its open queries)."""
    forms = participant_forms(
        records=records, verified=verified_versions(participant_id=participant_id)
    )
    page = Paginator(forms, REVIEW_FORMS_PER_PAGE).get_page(forms_page)
    # The participant's open and answered queries, read once for the badges and the totals.
    queries = participant_open_queries(participant_id=participant_id)
    open_by_record: dict[tuple[str, int | None], int] = {}
    for kind, object_id, _state, _due in queries:
        open_by_record[(kind, object_id)] = open_by_record.get((kind, object_id), 0) + 1
    labels = {t.kind: str(t.verbose_name) for t in TARGETS.values()}
    for row in page.object_list:
        row["kind_label"] = labels[row["r_kind"]]
        row["open_queries"] = open_by_record.get((row["r_kind"], row["pk"]), 0)
    return {
        "review_forms": page.object_list,
        "review_forms_page": page,
        "review_queries": query_totals_of(
            [(state, due) for _kind, _id, state, due in queries], today=timezone.localdate()
        ),
        "review_progress": forms_progress(forms),
    }


# Read on every participant page and dashboard: compiled once (itp_trial.compiled).
_PARTICIPANT_OPEN_QUERIES = CompiledRead(
    lambda pk: (
        DataQuery.objects.filter(participant_id=pk, state__in=OPEN_STATES)
        .order_by()
        .values_list("target_kind", "object_id", "state", "due_date")
    )
)


def participant_open_queries(*, participant_id: int) -> list[tuple[str, int | None, str, Any]]:
    """(kind, record id, state, due date) of each of the participant's open and answered
    queries (one query)."""
    return _PARTICIPANT_OPEN_QUERIES.rows(participant_id)


def participant_query_totals(*, participant_id: int) -> dict[str, int]:
    """query_totals(participant_ids=[participant_id]), from participant_open_queries."""
    return query_totals_of(
        [
            (state, due)
            for _kind, _id, state, due in participant_open_queries(participant_id=participant_id)
        ],
        today=timezone.localdate(),
    )


def query_totals_of(queries: Iterable[tuple[str, date | None]], *, today: date) -> dict[str, int]:
    """query_totals for queries already read, as (state, due date) of each open or answered
    one: the same three counts without a query (a test holds the two equal)."""
    totals = {"open": 0, "answered": 0, "overdue": 0}
    for state, due in queries:
        if state == QueryState.OPEN:
            totals["open"] += 1
            if due is not None and due < today:
                totals["overdue"] += 1
        elif state == QueryState.ANSWERED:
            totals["answered"] += 1
    return totals


def worklist_queries(*, limit: int = 20, open_count: int | None = None) -> dict[str, Any]:
    """The site's queries to answer, the most urgent first, and their count: `open_count`
    when the page has it already (query_totals' "open", the same rows), else counted here
    (one or two queries)."""
    rows = DataQuery.objects.filter(state=QueryState.OPEN)
    return {
        "worklist_queries": list(
            rows.select_related("participant", "visit").order_by(
                F("due_date").asc(nulls_last=True), "raised_at", "pk"
            )[:limit]
        ),
        "worklist_queries_count": rows.count() if open_count is None else open_count,
    }
