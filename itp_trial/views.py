from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache

from .roles import COORDINATOR, user_role

logger = logging.getLogger(__name__)


def home(request: HttpRequest) -> HttpResponse:
    """Send each user to their role's starting page."""
    if user_role(request.user) == COORDINATOR:
        return redirect("visits:worklist")
    if request.user.has_perm("subjects.view_participant"):
        return redirect("subjects:list")
    return render(request, "home.html")


def _broker_ok() -> bool:
    from itp_trial.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return True
    except Exception:  # any broker failure makes the service unhealthy
        logger.warning("healthz: broker unreachable", exc_info=True)
        return False


@login_not_required
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness for load balancers and compose: the database, and the broker.

    The broker is checked when one is configured, and always where HEALTHZ_REQUIRE_BROKER
    is set (production): there, no broker is an error, not a pass.
    """
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception:
        logger.exception("healthz: database unreachable")
        checks["database"] = "error"
    if settings.CELERY_BROKER_URL:
        checks["broker"] = "ok" if _broker_ok() else "error"
    elif settings.HEALTHZ_REQUIRE_BROKER:
        logger.error("healthz: no broker configured")
        checks["broker"] = "error"
    healthy = all(v == "ok" for v in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "error", **checks}, status=200 if healthy else 503
    )
