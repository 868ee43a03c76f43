"""The coordinator's worklist: every participant's visits that are open, due soon or overdue."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Count, Q, QuerySet

from itp_trial import protocol
from itp_trial.paging import rows_chosen
from visits.models import Visit, WindowStatus

WORKLIST_PER_PAGE = 50
SECTIONS = ("overdue", "in_window", "due")


@dataclass(frozen=True)
class Worklist:
    in_window: list[Visit]  # open now (the page shown)
    due: list[Visit]  # opening within WORKLIST_DUE_DAYS
    overdue: list[Visit]  # window closed, not done, not missed
    pages: dict[str, Page] = field(default_factory=dict)  # per section: its page, its count


def _open_visits() -> QuerySet[Visit]:
    # Not done, not missed, not `not_expected`: an infusion visit is done when its
    # infusion is recorded, which only the stored status tells.
    return Visit.objects.filter(
        window_status__in=(WindowStatus.PENDING, WindowStatus.OVERDUE)
    ).order_by("window_end", "participant__subject_id", "id")


def worklist(
    *,
    today: date,
    pages: Mapping[str, Any] | None = None,
    per_page: int = WORKLIST_PER_PAGE,
) -> Worklist:
    """The coordinator's worklist from the stored schedule, a page of each section.

    Overdue is judged from the stored window against `today` rather than from the stored
    status, so a window that closed since the last background run is already shown.
    `pages` gives the page number wanted per section (overdue, in_window, due); four
    queries in all (the counts, then a page of each section), whatever the number of
    participants.
    """
    horizon = today + timedelta(days=protocol.WORKLIST_DUE_DAYS)
    visits = _open_visits()
    sections = {
        "overdue": visits.filter(window_end__lt=today),
        "in_window": visits.filter(window_start__lte=today, window_end__gte=today),
        "due": visits.filter(window_start__gt=today, window_start__lte=horizon),
    }
    wanted = pages or {}
    # The three counts in one query; then each section's page, read even when empty, so
    # that the page costs the same queries whatever the number of participants.
    counts = _open_visits().order_by().aggregate(
        **{
            key: Count("pk", filter=condition)
            for key, condition in (
                ("overdue", Q(window_end__lt=today)),
                ("in_window", Q(window_start__lte=today, window_end__gte=today)),
                ("due", Q(window_start__gt=today, window_start__lte=horizon)),
            )
        }
    )
    found = {}
    for key, queryset in sections.items():
        paginator = Paginator(queryset, per_page)
        paginator.__dict__["count"] = counts[key]  # the cached count, from the query above
        page = paginator.get_page(wanted.get(key))
        bottom = (page.number - 1) * per_page
        # The page chosen from the narrow rows, then read with its participants.
        page.object_list = rows_chosen(
            queryset[bottom : bottom + per_page], Visit.objects.select_related("participant")
        )
        found[key] = page
    for visit in found["overdue"]:
        # The longest overdue first (ordered by the window's end), with how long.
        visit.overdue_days = (today - visit.window_end).days
    return Worklist(
        in_window=list(found["in_window"]),
        due=list(found["due"]),
        overdue=list(found["overdue"]),
        pages=found,
    )
