"""Edit pages for the roles that only read: to the record's read view, not a bare 403."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect


def edit_or_read(
    permission: str,
    kind: str,
    object_id: Callable[[dict[str, Any]], int | None],
    *,
    view_permission: str,
) -> Callable:
    """Like permission_required(permission): a user without it who may read the record
    (`kind`, `object_id(view kwargs)`, readable with `view_permission`) is sent to its read
    view (the review pages, `safety:record`); anyone else gets 403."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.user.has_perm(permission):
                return view(request, *args, **kwargs)
            if (
                request.method == "GET"
                and request.user.has_perm("safety.view_dataquery")
                and request.user.has_perm(view_permission)
            ):
                pk = object_id(kwargs)
                if pk is not None:
                    return redirect("safety:record", kind=kind, object_id=pk)
            raise PermissionDenied

        return wrapped

    return decorator
