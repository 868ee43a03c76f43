"""The coordinator's worklist: every participant's visits that are open, due soon or overdue."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from django.core.paginator import Page
from django.db.models import OuterRef, QuerySet, Subquery, Value
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _

from itp_trial import protocol
from itp_trial.paging import BoundedPaginator, bounded_counts, compiled_once, row_url
from subjects.models import Participant
from visits.models import Visit, WindowStatus

# Up to three sections a page, each worked from the top: 25 rows each, as the participant
# list (the rows, not the queries, were most of the page's time).
WORKLIST_PER_PAGE = 25
SECTIONS = ("overdue", "in_window", "due")


@dataclass(frozen=True, slots=True)
class WorklistVisit:
    """A visit as the worklist reads it: the columns its row shows, and no model object (a
    visit has forty columns, vital signs and notes, the worklist never reads)."""

    pk: int
    participant_id: int
    code: str
    target_date: date | None
    provisional: bool
    window_start: date | None
    window_end: date | None
    subject_id: str
    overdue_days: int | None = None  # in the overdue section: days since its window closed

    @property
    def definition(self) -> protocol.VisitDefinition:
        return protocol.VISITS_BY_CODE[self.code]


@dataclass(frozen=True)
class WorklistRow:
    """A visit as its row shows it, built here rather than by the template (a hundred and
    fifty rows of template tags cost more than the rest of the page)."""

    visit: WorklistVisit
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
    html: SafeString  # the row: <tr>…</tr>


@dataclass(frozen=True)
class Worklist:
    in_window: list[WorklistVisit]  # open now (the page shown)
    due: list[WorklistVisit]  # opening within WORKLIST_DUE_DAYS
    overdue: list[WorklistVisit]  # window closed, not done, not missed
    pages: dict[str, Page] = field(default_factory=dict)  # per section: its page, its count
    rows: dict[str, list[WorklistRow]] = field(default_factory=dict)  # per section


# The worklist's order, that of the index of the open visits (visits.Visit.Meta), so that a
# page is read from its first entries.
_ORDER = ("window_end", "participant_id", "id")


def _open_visits() -> QuerySet[Visit]:
    # Not done, not missed, not `not_expected`: an infusion visit is done when its
    # infusion is recorded, which only the stored status tells.
    return Visit.objects.filter(
        window_status__in=(WindowStatus.PENDING, WindowStatus.OVERDUE)
    ).order_by(*_ORDER)


# What a row shows, and no more; the participant's subject ID as a scalar subquery (one
# index lookup per row, no join for the planner to weigh).
_COLUMNS = (
    "id",
    "participant_id",
    "code",
    "target_date",
    "provisional",
    "window_start",
    "window_end",
)


def _sections_read(
    chosen: dict[str, QuerySet[Visit]], *, key: Hashable
) -> dict[str, list[WorklistVisit]]:
    """The visits each sliced list of `chosen` picks, by section, in the worklist's order:
    one query (a UNION ALL of the sections), whatever the sections hold; compiled once per
    `key` (the values the sections are built from)."""

    def union() -> QuerySet:
        subject_id = Subquery(
            Participant.objects.filter(pk=OuterRef("participant_id")).values("subject_id")
        )
        parts = [
            Visit.objects.filter(pk__in=picked.values("pk"))
            .annotate(w_section=Value(section), w_subject_id=subject_id)
            .order_by()
            .values_list(*_COLUMNS, "w_section", "w_subject_id")
            for section, picked in chosen.items()
        ]
        return parts[0].union(*parts[1:], all=True).order_by(*_ORDER)

    found: dict[str, list[WorklistVisit]] = {section: [] for section in chosen}
    for *columns, section, subject in compiled_once(("worklist", key), union):
        found[section].append(WorklistVisit(*columns, subject_id=subject))
    return found


@lru_cache(maxsize=1024)
def _days_in(language: str | None, days: int) -> str:
    return ngettext("%(days)s day", "%(days)s days", days) % {"days": days}


@lru_cache(maxsize=64)
def _names_in(language: str | None) -> dict[str, str]:
    return {definition.code: str(definition.name) for definition in protocol.VISITS}


@lru_cache(maxsize=64)
def _labels_in(language: str | None) -> dict[str, str]:
    return {"record": _("Record infusion"), "enter": _("Enter"), "missed": _("Mark missed")}


def _row_html(row: dict[str, Any], key: str, labels: dict[str, str]) -> SafeString:
    """One row of a section (templates/reporting/_worklist_table.html's columns)."""
    overdue = key == "overdue"
    missed = (
        format_html(
            '\n<a class="btn btn-sm btn-outline-secondary" href="{}">{}</a>',
            row["missed_url"],
            labels["missed"],
        )
        if row["missed_url"]
        else ""
    )
    return format_html(
        '<tr data-visit="{} {}">\n'
        '<td><span class="d-inline-block px-2 rounded status-{}"><a href="{}">{}</a></span></td>\n'
        "<td>{} {}</td>\n"
        '<td class="text-nowrap"><span class="{}">{}</span></td>\n'
        '<td><span class="text-nowrap">{}</span> – <span class="text-nowrap">{}</span></td>\n'
        "{}"
        '<td class="text-nowrap">\n'
        '<a class="btn btn-sm btn-outline-primary" href="{}">{}</a>{}\n</td>\n</tr>',
        row["subject_id"],
        row["visit"].code,
        "overdue" if overdue else "pending",
        row["participant_url"],
        row["subject_id"],
        row["visit"].code,
        row["name"],
        "provisional" if row["visit"].provisional else "",
        row["target"],
        row["window_start"],
        row["window_end"],
        format_html(
            '<td class="text-nowrap" data-testid="overdue-by"><strong>{}</strong></td>\n',
            row["overdue_by"],
        )
        if overdue
        else "",
        row["edit_url"],
        labels["record"] if row["infusion"] else labels["enter"],
        missed,
    )


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
    `pages` gives the page number wanted per section (overdue, in_window, due); two
    queries (the counts, then the page of every section), whatever the number of
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
    # Every value the sections' queries are built from: their statements are compiled once
    # for these (itp_trial.paging.compiled_once).
    shape = (today, horizon, protocol.WINDOW_DAYS_MAX, per_page)
    bounded_counts(paginators, key=("worklist", shape))  # the three counts in one query
    found: dict[str, Page] = {}
    chosen = {}
    for key, queryset in sections.items():
        page = paginators[key].get_page(wanted.get(key))
        bottom = (page.number - 1) * per_page
        found[key] = page
        chosen[key] = queryset[bottom : bottom + per_page]
    # Every section's page is read, an empty one too: the page's queries do not depend on
    # what the sections hold.
    offsets = tuple((page.number - 1) * per_page for page in found.values())
    picked = _sections_read(chosen, key=(shape, offsets))
    labels = _labels_in(language)
    rows = {}
    for key, page in found.items():
        section_rows = []
        for visit in picked[key]:
            infusion = visit.definition.kind == protocol.KIND_INFUSION
            overdue_by = ""
            if key == "overdue":
                # The longest overdue first (ordered by the window's end), with how long.
                visit = replace(visit, overdue_days=(today - visit.window_end).days)
                overdue_by = _days_in(language, visit.overdue_days)
            row = {
                "visit": visit,
                "subject_id": visit.subject_id,
                "name": _names_in(language).get(visit.code, visit.code),
                "participant_url": participant_url(visit.participant_id),
                "target": _day(visit.target_date),
                "window_start": _day(visit.window_start),
                "window_end": _day(visit.window_end),
                "overdue_by": overdue_by,
                "edit_url": edit_url(visit.pk),
                "missed_url": "" if infusion else missed_url(visit.pk),
                "infusion": infusion,
            }
            section_rows.append(WorklistRow(**row, html=_row_html(row, key, labels)))
        page.object_list = [row.visit for row in section_rows]
        rows[key] = section_rows
    return Worklist(
        in_window=picked["in_window"],
        due=picked["due"],
        overdue=[row.visit for row in rows["overdue"]],
        pages=found,
        rows=rows,
    )
