"""Reads of flags and data queries for pages: a fixed number of queries whatever the rows."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404

from itp_trial.paging import COUNT_AHEAD, rows_chosen

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


def flag_rows() -> QuerySet[Flag]:
    """Flags with what a page shows of them."""
    return Flag.objects.select_related(*FLAG_RELATED)


def flags_list(
    *,
    kind: str | None = None,
    status: str | None = None,
    participant_id: int | None = None,
) -> QuerySet[Flag]:
    """Flags, newest first, filtered by kind, status (open, resolved, acknowledged) and
    participant; an empty filter is no filter. The flags alone, without what they point at:
    paginate this, then `itp_trial.paging.rows_of_page` reads the page's rows with their records."""
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


# What the open-flags panel shows of a flag (safety/_open_flags.html: `flag_line`, the
# detail) and no more: the six tables' every column made planning that join cost more than
# running it (about 7 ms against 0.4 ms at 100,000 flags). An open flag has no
# acknowledgement, so the user who acknowledged is not read.
_PANEL_ROWS = Flag.objects.select_related("participant", "visit", "infusion", "adverse_event").only(
    "kind",
    "participant_id",
    "visit_id",
    "infusion_id",
    "adverse_event_id",
    "detail",
    "raised_at",
    "resolved_at",
    "acknowledged_at",
    "participant__subject_id",
    "visit__code",
    "visit__window_end",
    "infusion__number",
    "adverse_event__ae_number",
    "adverse_event__awareness_at",
)


def open_flags_summary(
    *, participant_ids: Iterable[int] | None = None, limit: int = 20
) -> dict[str, Any]:
    """The context of templates/safety/_open_flags.html and _sae_clocks.html: the first
    `limit` open flags in triage order, the count of all of them (up to COUNT_AHEAD, with
    `open_flags_more` when there are more), and the SAE report clocks
    still running (three queries). The first `limit` are chosen in a narrow subquery (the
    flags and what triage orders them by); only those are read with their records."""
    ids = list(participant_ids) if participant_ids is not None else None
    first = triage_order(_open_flags(ids))[:limit]
    # Counted up to COUNT_AHEAD: the whole trial's open flags can be 100,000 rows, too many
    # to count on every request; beyond, the panel says "more than".
    counted = _open_flags(ids).order_by()[: COUNT_AHEAD + 1].count()
    return {
        "open_flags": rows_chosen(first, triage_order(_PANEL_ROWS)),
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
