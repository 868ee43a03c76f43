"""Back to the query once the site has saved the correction it asked for."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from .views.records import CORRECTING


class QueryCorrectionReturn:
    """After a successful save (a POST answered by a redirect) on the edit page a query sent
    the site to, go back to that query instead of the page's usual next step."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        session = getattr(request, "session", None)
        if session is None or request.method != "POST" or response.status_code != 302:
            return response
        correcting = session.get(CORRECTING)
        if not correcting or correcting.get("path") != request.path:
            return response
        del session[CORRECTING]
        response["Location"] = reverse("safety:query_detail", args=[correcting["query"]])
        return response
