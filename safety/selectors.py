"""Reads of flags and data queries for pages: a fixed number of queries whatever the rows."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Q, QuerySet

from .models import DataQuery, Flag, FlagStatus
from .triage import sae_clocks_running, triage_order

# The status of a flag as a filter, in the precedence of Flag.status: acknowledged first.
FLAG_STATUS_FILTERS: dict[str, Q] = {
    FlagStatus.OPEN: Q(resolved_at__isnull=True, acknowledged_at__isnull=True),
    FlagStatus.RESOLVED: Q(resolved_at__isnull=False, acknowledged_at__isnull=True),
    FlagStatus.ACKNOWLEDGED: Q(acknowledged_at__isnull=False),
}

QUERY_OPEN, QUERY_CLOSED = "open", "closed"


def _flags() -> QuerySet[Flag]:
    return Flag.objects.select_related(
        "participant", "visit", "infusion", "adverse_event", "acknowledged_by"
    )


def flags_list(
    *,
    kind: str | None = None,
    status: str | None = None,
    participant_id: int | None = None,
) -> QuerySet[Flag]:
    """Flags, newest first, filtered by kind, status (open, resolved, acknowledged) and
    participant; an empty filter is no filter."""
    flags = _flags().order_by("-raised_at", "-pk")
    if kind:
        flags = flags.filter(kind=kind)
    if status:
        flags = flags.filter(FLAG_STATUS_FILTERS[status])
    if participant_id:
        flags = flags.filter(participant_id=participant_id)
    return flags


def open_flags_for(*, participant_ids: Iterable[int] | None = None) -> QuerySet[Flag]:
    """The open flags of these participants (all participants with None), in triage order
    (safety.triage): SAE report flags, overdue visits by how long, then the rest, oldest
    first."""
    flags = _flags().filter(FLAG_STATUS_FILTERS[FlagStatus.OPEN])
    if participant_ids is not None:
        flags = flags.filter(participant_id__in=list(participant_ids))
    return triage_order(flags)


def open_flags_count(*, participant_ids: Iterable[int] | None = None) -> int:
    flags = Flag.objects.filter(FLAG_STATUS_FILTERS[FlagStatus.OPEN])
    if participant_ids is not None:
        flags = flags.filter(participant_id__in=list(participant_ids))
    return flags.count()


def open_flags_summary(
    *, participant_ids: Iterable[int] | None = None, limit: int = 20
) -> dict[str, Any]:
    """The context of templates/safety/_open_flags.html and _sae_clocks.html: the first
    `limit` open flags in triage order, the count of all of them, and the SAE report clocks
    still running (three queries)."""
    ids = list(participant_ids) if participant_ids is not None else None
    return {
        "open_flags": list(open_flags_for(participant_ids=ids)[:limit]),
        "open_flags_count": open_flags_count(participant_ids=ids),
        "sae_clocks": sae_clocks_running(participant_ids=ids),
    }


def queries_list(*, state: str | None = None, participant_id: int | None = None) -> QuerySet:
    """Data queries, newest first, open (not closed) or closed, of one participant or all."""
    queries = DataQuery.objects.select_related(
        "participant", "visit", "raised_by", "answered_by"
    ).order_by("-raised_at", "-pk")
    if state == QUERY_OPEN:
        queries = queries.filter(closed_at__isnull=True)
    elif state == QUERY_CLOSED:
        queries = queries.filter(closed_at__isnull=False)
    if participant_id:
        queries = queries.filter(participant_id=participant_id)
    return queries
