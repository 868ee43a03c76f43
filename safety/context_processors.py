"""Open-query counts for the navigation bar: one query per page, only when shown."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from .review import query_totals


def query_counts(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.has_perm("safety.view_dataquery"):
        return {"nav_query_counts": None}
    return {"nav_query_counts": SimpleLazyObject(lambda: request_query_totals(request))}


def request_query_totals(request: HttpRequest) -> dict[str, int]:
    """The site's query_totals, read once a request: the navigation's badge and a page that
    shows the same counts (the worklist's open queries) share them."""
    totals = getattr(request, "_query_totals", None)
    if totals is None:
        totals = request._query_totals = query_totals()
    return totals
