"""The coordinator's worklist: every participant's visits that are open, due soon or overdue."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from django.core.paginator import Page
from django.db.models import QuerySet
from django.utils.translation import get_language, ngettext

from itp_trial import protocol
from itp_trial.paging import BoundedPaginator, bounded_counts, row_url, rows_chosen
from visits.models import Visit, WindowStatus

# Up to three sections a page, each worked from the top: 25 rows each, as the participant
# list (the rows, not the queries, were most of the page's time).
WORKLIST_PER_PAGE = 25
SECTIONS = ("overdue", "in_window", "due")


@dataclass(frozen=True)
class WorklistRow:
    """A visit as its row shows it, built here rather than by the template (a hundred and
    fifty rows of template tags cost more than the rest of the page)."""

    visit: Visit
    subject_id: str
    name: str  # the visit's name in the reader's language
    participant_url: str
    target: str
    window_start: str
    window_end: str
    overdue_by: str  # "12 days", in the overdue section only
    edit_url: str
    missed_url: str  # "" for an infusion visit: it is not marked missed
    infusion: bool


@dataclass(frozen=True)
class Worklist:
    in_window: list[Visit]  # open now (the page shown)
    due: list[Visit]  # opening within WORKLIST_DUE_DAYS
    overdue: list[Visit]  # window closed, not done, not missed
    pages: dict[str, Page] = field(default_factory=dict)  # per section: its page, its count
    rows: dict[str, list[WorklistRow]] = field(default_factory=dict)  # per section


def _open_visits() -> QuerySet[Visit]:
    # Not done, not missed, not `not_expected`: an infusion visit is done when its
    # infusion is recorded, which only the stored status tells. Ordered as the index of the
    # open visits (visits.Visit.Meta), so that a page is read from its first entries.
    return Visit.objects.filter(
        window_status__in=(WindowStatus.PENDING, WindowStatus.OVERDUE)
    ).order_by("window_end", "participant_id", "id")


# What a row shows, and no more: a visit has forty columns (vital signs, notes) the
# worklist never reads.
_ROWS = Visit.objects.select_related("participant").only(
    "participant__subject_id",
    "code",
    "target_date",
    "provisional",
    "window_start",
    "window_end",
    "window_status",
)


@lru_cache(maxsize=1024)
def _days_in(language: str | None, days: int) -> str:
    return ngettext("%(days)s day", "%(days)s days", days) % {"days": days}


@lru_cache(maxsize=64)
def _names_in(language: str | None) -> dict[str, str]:
    return {definition.code: str(definition.name) for definition in protocol.VISITS}


def _day(value: date | None) -> str:
    return value.isoformat() if value else ""


def worklist(
    *,
    today: date,
    pages: Mapping[str, Any] | None = None,
    per_page: int | None = None,
) -> Worklist:
    """The coordinator's worklist from the stored schedule, a page of each section.

    Overdue is judged from the stored window against `today` rather than from the stored
    status, so a window that closed since the last background run is already shown.
    `pages` gives the page number wanted per section (overdue, in_window, due); four
    queries (the counts, then a page of each section), whatever the number of
    participants. Each count reads at most `itp_trial.paging.COUNT_AHEAD` rows past the
    page shown: beyond, the section says "more than".
    """
    per_page = per_page or WORKLIST_PER_PAGE
    horizon = today + timedelta(days=protocol.WORKLIST_DUE_DAYS)
    visits = _open_visits()
    sections = {
        "overdue": visits.filter(window_end__lt=today),
        # A window open today started at most WINDOW_DAYS_MAX days ago: the bound keeps the
        # read to the windows opened lately, not every future visit of the study.
        "in_window": visits.filter(
            window_start__gte=today - timedelta(days=protocol.WINDOW_DAYS_MAX),
            window_start__lte=today,
            window_end__gte=today,
        ),
        # A window ends on or after its start: the bound on its end lets the index's range
        # start at today.
        "due": visits.filter(
            window_start__gt=today, window_start__lte=horizon, window_end__gt=today
        ),
    }
    wanted = pages or {}
    language = get_language()
    participant_url = row_url("subjects:detail")
    edit_url, missed_url = row_url("visits:edit"), row_url("visits:missed")
    paginators = {
        key: BoundedPaginator(queryset, per_page, number=wanted.get(key))
        for key, queryset in sections.items()
    }
    bounded_counts(paginators)  # the three counts in one query
    found, rows = {}, {}
    for key, queryset in sections.items():
        page = paginators[key].get_page(wanted.get(key))
        bottom = (page.number - 1) * per_page
        # The page chosen from the narrow rows, then read with its participants (an empty
        # section too: the page's queries do not depend on what the sections hold).
        page.object_list = rows_chosen(queryset[bottom : bottom + per_page], _ROWS)
        found[key] = page
        section_rows = []
        for visit in page.object_list:
            infusion = visit.definition.kind == protocol.KIND_INFUSION
            overdue_by = ""
            if key == "overdue":
                # The longest overdue first (ordered by the window's end), with how long.
                visit.overdue_days = (today - visit.window_end).days
                overdue_by = _days_in(language, visit.overdue_days)
            section_rows.append(
                WorklistRow(
                    visit=visit,
                    subject_id=visit.participant.subject_id,
                    name=_names_in(language).get(visit.code, visit.code),
                    participant_url=participant_url(visit.participant_id),
                    target=_day(visit.target_date),
                    window_start=_day(visit.window_start),
                    window_end=_day(visit.window_end),
                    overdue_by=overdue_by,
                    edit_url=edit_url(visit.pk),
                    missed_url="" if infusion else missed_url(visit.pk),
                    infusion=infusion,
                )
            )
        rows[key] = section_rows
    return Worklist(
        in_window=list(found["in_window"]),
        due=list(found["due"]),
        overdue=list(found["overdue"]),
        pages=found,
        rows=rows,
    )
