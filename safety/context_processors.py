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
    return {"nav_query_counts": SimpleLazyObject(query_totals)}
