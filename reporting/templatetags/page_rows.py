"""The participant page's and dashboard's long tables, a row at a time in Python.

The same markup the templates wrote (tests/reporting/test_page_rows.py holds the two equal),
for a fraction of the cost: the template engine resolves every variable, filter and tag of
a row again for each of the 15 to 25 rows, and reverses each row's links. Here the labels
are translated once per table and each link is the table's one reversed URL with the row's
id in it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django import template
from django.urls import reverse
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext

from itp_trial.templatetags.dates import iso

register = template.Library()

_ID = 2_147_483_647  # a sentinel id, reversed once: no row has it in its link


def url_for(name: str) -> Callable[[Any], str]:
    """The URL of `name` for any id, reversing it once (its only argument an integer id)."""
    before, after = reverse(name, args=[_ID]).split(str(_ID))
    return lambda pk: f"{before}{int(pk)}{after}"


def _text(value: Any, default: str = "") -> str:
    """A cell's text as the template wrote it: escaped, `default` for None."""
    return default if value is None else escape(value)


def _join(rows: Iterable[str]) -> SafeString:
    return mark_safe("\n".join(rows))  # noqa: S308  (every part is escaped or format_html)


def _rows_or(out: list[str], empty: str, columns: int = 7) -> SafeString:
    """The rows, or one row that says the table is empty."""
    if not out:
        out.append(
            format_html('<tr><td colspan="{}" class="text-muted">{}</td></tr>', columns, empty)
        )
    return _join(out)


@register.simple_tag
def schedule_rows(rows: list[Any], *, participant: Any, can_change_visit: bool) -> SafeString:
    """The participant page's schedule (reporting.selectors.participant.ScheduleRow)."""
    edit, missed_url = url_for("visits:edit"), url_for("visits:missed")
    label = {  # literal msgids: makemessages reads them here
        "missed": gettext("missed"),
        "Record infusion": gettext("Record infusion"),
        "Edit": gettext("Edit"),
        "Enter": gettext("Enter"),
        "Missed reason": gettext("Missed reason"),
        "Mark missed": gettext("Mark missed"),
    }
    out = []
    for row in rows:
        s = row.scheduled
        target = (
            format_html(
                '<span class="{}">{}</span>', "provisional" if s.provisional else "", iso(s.target)
            )
            if s.target
            else "—"
        )
        window = (
            format_html(
                '<span data-field="window_start">{}</span> – '
                '<span data-field="window_end">{}</span>',
                iso(s.window_start),
                iso(s.window_end),
            )
            if s.window_start
            else "—"
        )
        actual = iso(s.actual_date) or "—"
        if s.missed:
            actual = format_html(
                '{} <span title="{}">({})</span>', actual, row.visit.missed_reason, label["missed"]
            )
        actions = ""
        if can_change_visit and s.status != "not_expected":
            if row.is_infusion:
                if not s.actual_date and not s.provisional and not participant.withdrawal_date:
                    actions = format_html(
                        '<a class="btn btn-sm btn-outline-primary" href="{}" '
                        'data-action="infusion">{}</a>',
                        edit(row.visit.pk),
                        label["Record infusion"],
                    )
            else:
                actions = format_html(
                    '<a class="btn btn-sm btn-outline-primary" href="{}" '
                    'data-action="enter">{}</a>',
                    edit(row.visit.pk),
                    label["Edit"] if s.actual_date else label["Enter"],
                )
                if not s.actual_date:
                    actions += format_html(
                        '\n<a class="btn btn-sm btn-outline-secondary" href="{}" '
                        'data-action="missed">{}</a>',
                        missed_url(row.visit.pk),
                        label["Missed reason"] if s.missed else label["Mark missed"],
                    )
        out.append(
            format_html(
                '<tr class="status-{status}" data-visit="{code}" data-status="{status}">'
                "<td><strong>{code}</strong> {name}</td>"
                '<td data-field="target">{target}</td>'
                '<td data-field="window">{window}</td>'
                '<td data-field="actual">{actual}</td>'
                '<td data-field="status"><span class="d-inline-block px-2 rounded '
                'status-{status}">{status_label}</span></td>'
                '<td class="text-end" data-field="study_day">{study_day}</td>'
                '<td class="text-nowrap">{actions}</td></tr>',
                status=s.status,
                code=s.code,
                name=row.name,
                target=target,
                window=window,
                actual=actual,
                status_label=row.status_label,
                study_day=_text(s.study_day),
                actions=actions,
            )
        )
    return _join(out)


@register.simple_tag
def participant_platelet_rows(rows: Iterable[Any], *, action: str) -> SafeString:
    """The participant page's platelet counts (reporting.selectors.participant.PlateletRow):
    `action` names each row's link (Correct, or History without the permission)."""
    edit = url_for("visits:platelet_edit")
    out = []
    for row in rows:
        count, day = row.count, iso(row.count.sample_date)
        out.append(
            format_html(
                '<tr data-sample="{day}"><td>{day}</td>'
                '<td class="text-end">{study_day}</td><td>{visit}</td>'
                '<td class="text-end">{platelets}</td>'
                '<td class="text-end">{grade}</td>'
                '<td data-field="category">{category}</td>'
                '<td class="text-end"><a href="{url}" data-testid="platelet-edit">{action}'
                '<span class="visually-hidden"> {day}</span></a></td></tr>',
                day=day,
                study_day=_text(row.study_day),
                visit=row.visit_code,
                platelets=count.platelets,
                grade=_text(count.who_bleeding_grade, "—"),
                category=row.category or "—",
                url=edit(count.pk),
                action=action,
            )
        )
    return _rows_or(out, gettext("No platelet count yet."))


@register.simple_tag
def review_rows(forms: Iterable[dict[str, Any]]) -> SafeString:
    """The review panel's forms (safety.review.participant_review): each state's badge is
    safety/_sdv_state.html, rendered once per state rather than once per row."""
    badge = template.loader.get_template("safety/_sdv_state.html")
    badges: dict[str, str] = {}
    urls: dict[str, Callable[[Any], str]] = {}
    read = gettext("Read")
    out = []
    for f in forms:
        kind, state = f["r_kind"], f["state"]
        if state not in badges:
            badges[state] = badge.render({"state": state})
        if kind not in urls:
            before, after = reverse("safety:record", args=[kind, _ID]).split(str(_ID))
            urls[kind] = lambda pk, before=before, after=after: f"{before}{int(pk)}{after}"
        queries = (
            format_html('<span class="badge text-bg-warning">⚑ {}</span>', f["open_queries"])
            if f["open_queries"]
            else "—"
        )
        out.append(
            format_html(
                '<tr data-form="{kind} {label}"><td>{kind_label}</td><td>{label}</td>'
                "<td>{queries}</td><td>{badge}</td>"
                '<td><a class="btn btn-sm btn-outline-secondary" href="{url}" '
                'data-testid="read">{read}</a></td></tr>',
                kind=kind,
                label=f["r_label"],
                kind_label=f["kind_label"],
                queries=queries,
                badge=mark_safe(badges[state]),  # noqa: S308  (a template's output)
                url=urls[kind](f["pk"]),
                read=read,
            )
        )
    return _join(out)


@register.simple_tag
def timeline_rows(rows: list[Any], *, today_left: Any, can_change_visit: bool) -> SafeString:
    """The dashboard's visit timeline (reporting.selectors.dashboard, its timeline rows)."""
    edit = url_for("visits:edit")
    provisional = gettext("provisional")
    today = (
        format_html('<div class="timeline-today" style="left: {}%"></div>', str(today_left))
        if today_left is not None
        else ""
    )
    out = []
    for row in rows:
        v = row.visit
        code = (
            format_html('<a href="{}">{}</a>', edit(row.visit_id), v.code)
            if can_change_visit and row.visit_id
            else escape(v.code)
        )
        if v.window_start:
            window = format_html("{} – {}", iso(v.window_start), iso(v.window_end))
            if v.provisional:
                window += format_html(' <span class="visually-hidden">({})</span>*', provisional)
        else:
            window = "—"
        band = (
            format_html(
                '<div class="timeline-band status-{}" style="left: {}%; width: {}%"></div>',
                v.status,
                str(row.band_left),
                str(row.band_width),
            )
            if row.band_left is not None
            else ""
        )
        mark = (
            format_html(
                '<div class="timeline-mark{}" style="left: {}%"></div>',
                " done" if row.done else "",
                str(row.mark_left),
            )
            if row.mark_left is not None
            else ""
        )
        out.append(
            format_html(
                '<tr data-visit="{code}" data-status="{status}">'
                '<th scope="row" class="text-nowrap">{link} <span class="small fw-normal '
                'text-muted d-none d-lg-inline">{name}</span></th>'
                '<td class="text-nowrap small{provisional}">{window}</td>'
                '<td class="text-nowrap small">{actual}</td>'
                '<td class="small">{study_day}</td>'
                '<td><span class="badge text-body status-{status}" data-testid="visit-status">'
                "{status_label}</span></td>"
                '<td><div class="timeline-track" aria-hidden="true">{band}{today}{mark}</div>'
                "</td></tr>",
                code=v.code,
                status=v.status,
                link=code,
                name=row.name,
                provisional=" provisional" if v.provisional else "",
                window=window,
                actual=iso(v.actual_date) or "—",
                study_day=_text(v.study_day, "—"),
                status_label=row.status_label,
                band=band,
                today=today,
                mark=mark,
            )
        )
    return _join(out)


@register.simple_tag
def dashboard_platelet_rows(rows: Iterable[Any], *, action: str) -> SafeString:
    """The dashboard's platelet table (its platelet rows, with their IWG assessment)."""
    edit = url_for("visits:platelet_edit")
    rescue, before_infusion = gettext("rescue"), gettext("before infusion 1")
    out = []
    for row in rows:
        count, day = row.count, iso(row.count.sample_date)
        if row.assessment:
            category = escape(row.assessment.category)
            if not row.assessment.evaluable:
                category += format_html(' <span class="small text-muted">({})</span>', rescue)
        else:
            category = format_html('<span class="text-muted">{}</span>', before_infusion)
        out.append(
            format_html(
                '<tr data-date="{day}"><td class="text-nowrap">{day}</td>'
                "<td>{study_day}</td><td>{visit}</td>"
                '<td class="text-end">{platelets}</td><td>{grade}</td><td>{category}</td>'
                '<td class="text-end"><a href="{url}">{action}'
                '<span class="visually-hidden"> {day}</span></a></td></tr>',
                day=day,
                study_day=_text(row.study_day, "—"),
                visit=row.visit_code,
                platelets=count.platelets,
                grade=_text(count.who_bleeding_grade, "—"),
                category=category,
                url=edit(count.pk),
                action=action,
            )
        )
    return _rows_or(out, gettext("No platelet count yet."))
