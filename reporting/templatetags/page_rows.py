"""The participant page's and dashboard's long tables, a row at a time in Python.

The same markup the templates wrote (tests/reporting/test_page_rows.py holds the two equal),
for a fraction of the cost: the template engine resolves every variable, filter and tag of
a row again for each of the 15 to 25 rows, and reverses each row's links. Here the labels
are translated once per table and each link is the table's one reversed URL with the row's
id in it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from html import escape as html_escape
from typing import Any

from django import template
from django.conf import settings
from django.contrib.humanize.templatetags.humanize import intcomma
from django.template.defaultfilters import date as date_filter
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.formats import localize
from django.utils.safestring import SafeString, mark_safe
from django.utils.timezone import template_localtime
from django.utils.translation import gettext

from itp_trial.templatetags.dates import iso

register = template.Library()

_ID = 2_147_483_647  # a sentinel id, reversed once: no row has it in its link


def url_for(name: str, *args: Any) -> Callable[[Any], str]:
    """The URL of `name` for any id, as written into markup (escaped), reversing it once (its
    last argument an integer id, after `args`)."""
    before, after = (_e(part) for part in reverse(name, args=[*args, _ID]).split(str(_ID)))
    return lambda pk: f"{before}{int(pk)}{after}"


# url_for of each URL name, by script prefix and URLconf: reversed once per process, not on
# every page.
_LINKS: dict[tuple[str, str, Any], Callable[[Any], str]] = {}


@register.simple_tag
def link(name: str, pk: Any) -> SafeString:
    """`{% url name pk %}` for a URL whose one argument is an integer id (a participant's
    pages and actions), its pattern reversed once per process: the page header's dozen
    links cost a reversal each otherwise."""
    key = (name, get_script_prefix(), get_urlconf() or settings.ROOT_URLCONF)
    url = _LINKS.get(key)
    if url is None:
        url = _LINKS[key] = url_for(name)
    return mark_safe(url(pk))  # noqa: S308  (url_for escapes its parts; the id is an int)


def _e(value: Any) -> str:
    """A value as format_html writes it into markup: its own markup when it is safe (has
    `__html__`), else escaped. The standard library's escape, as django.utils.html.escape
    calls it, without the lazy-string checks around that a cell pays thousands of times a
    page."""
    if hasattr(value, "__html__"):
        return value.__html__()
    return html_escape(str(value))


def _text(value: Any, default: str = "") -> str:
    """A cell's text as the template wrote it: escaped, `default` for None."""
    return default if value is None else _e(value)


def _join(rows: Iterable[str]) -> SafeString:
    return mark_safe("\n".join(rows))  # noqa: S308  (every part is escaped by _e)


def _rows_or(out: list[str], empty: str, columns: int = 7) -> SafeString:
    """The rows, or one row that says the table is empty."""
    if not out:
        out.append(f'<tr><td colspan="{columns}" class="text-muted">{_e(empty)}</td></tr>')
    return _join(out)


@register.simple_tag
def schedule_rows(rows: list[Any], *, participant: Any, can_change_visit: bool) -> SafeString:
    """The participant page's schedule (reporting.selectors.participant.ScheduleRow)."""
    edit, missed_url = url_for("visits:edit"), url_for("visits:missed")
    label = {  # literal msgids: makemessages reads them here
        "missed": _e(gettext("missed")),
        "Record infusion": _e(gettext("Record infusion")),
        "Edit": _e(gettext("Edit")),
        "Enter": _e(gettext("Enter")),
        "Missed reason": _e(gettext("Missed reason")),
        "Mark missed": _e(gettext("Mark missed")),
    }
    out = []
    for row in rows:
        s = row.scheduled
        if s.target:
            target = (
                f'<span class="{"provisional" if s.provisional else ""}">{iso(s.target)}</span>'
            )
        else:
            target = "—"
        if s.window_start:
            window = (
                f'<span data-field="window_start">{iso(s.window_start)}</span> – '
                f'<span data-field="window_end">{iso(s.window_end)}</span>'
            )
        else:
            window = "—"
        actual = iso(s.actual_date) or "—"
        if s.missed:
            actual = (
                f'{actual} <span title="{_e(row.visit.missed_reason)}">({label["missed"]})</span>'
            )
        actions = ""
        if can_change_visit and s.status != "not_expected":
            if row.is_infusion:
                if not s.actual_date and not s.provisional and not participant.withdrawal_date:
                    actions = (
                        f'<a class="btn btn-sm btn-outline-primary" href="{edit(row.visit.pk)}" '
                        f'data-action="infusion">{label["Record infusion"]}</a>'
                    )
            else:
                actions = (
                    f'<a class="btn btn-sm btn-outline-primary" href="{edit(row.visit.pk)}" '
                    f'data-action="enter">{label["Edit"] if s.actual_date else label["Enter"]}</a>'
                )
                if not s.actual_date:
                    actions += (
                        '\n<a class="btn btn-sm btn-outline-secondary" '
                        f'href="{missed_url(row.visit.pk)}" data-action="missed">'
                        f"{label['Missed reason'] if s.missed else label['Mark missed']}</a>"
                    )
        status, code = _e(s.status), _e(s.code)
        out.append(
            f'<tr class="status-{status}" data-visit="{code}" data-status="{status}">'
            f"<td><strong>{code}</strong> {_e(row.name)}</td>"
            f'<td data-field="target">{target}</td>'
            f'<td data-field="window">{window}</td>'
            f'<td data-field="actual">{actual}</td>'
            '<td data-field="status"><span class="d-inline-block px-2 rounded '
            f'status-{status}">{_e(row.status_label)}</span></td>'
            f'<td class="text-end" data-field="study_day">{_text(s.study_day)}</td>'
            f'<td class="text-nowrap">{actions}</td></tr>'
        )
    return _join(out)


@register.simple_tag
def participant_platelet_rows(rows: Iterable[Any], *, action: str) -> SafeString:
    """The participant page's platelet counts (reporting.selectors.participant.PlateletRow):
    `action` names each row's link (Correct, or History without the permission)."""
    edit = url_for("visits:platelet_edit")
    action = _e(action)
    out = []
    for row in rows:
        count, day = row.count, iso(row.count.sample_date)
        out.append(
            f'<tr data-sample="{day}"><td>{day}</td>'
            f'<td class="text-end">{_text(row.study_day)}</td><td>{_e(row.visit_code)}</td>'
            f'<td class="text-end">{_e(count.platelets)}</td>'
            f'<td class="text-end">{_text(count.who_bleeding_grade, "—")}</td>'
            f'<td data-field="category">{_e(row.category or "—")}</td>'
            f'<td class="text-end"><a href="{edit(count.pk)}" data-testid="platelet-edit">{action}'
            f'<span class="visually-hidden"> {day}</span></a></td></tr>'
        )
    return _rows_or(out, gettext("No platelet count yet."))


@register.simple_tag
def review_rows(forms: Iterable[dict[str, Any]]) -> SafeString:
    """The review panel's forms (safety.review.participant_review): each state's badge is
    safety/_sdv_state.html, rendered once per state rather than once per row."""
    badge = template.loader.get_template("safety/_sdv_state.html")
    badges: dict[str, str] = {}
    urls: dict[str, Callable[[Any], str]] = {}
    read = _e(gettext("Read"))
    out = []
    for f in forms:
        kind, state = f["r_kind"], f["state"]
        if state not in badges:
            badges[state] = badge.render({"state": state})
        if kind not in urls:
            urls[kind] = url_for("safety:record", kind)
        queries = (
            f'<span class="badge text-bg-warning">⚑ {_e(f["open_queries"])}</span>'
            if f["open_queries"]
            else "—"
        )
        kind_text, label = _e(kind), _e(f["r_label"])
        out.append(
            f'<tr data-form="{kind_text} {label}"><td>{_e(f["kind_label"])}</td><td>{label}</td>'
            f"<td>{queries}</td><td>{badges[state]}</td>"
            f'<td><a class="btn btn-sm btn-outline-secondary" href="{urls[kind](f["pk"])}" '
            f'data-testid="read">{read}</a></td></tr>'
        )
    return _join(out)


@register.simple_tag
def timeline_rows(rows: list[Any], *, today_left: Any, can_change_visit: bool) -> SafeString:
    """The dashboard's visit timeline (reporting.selectors.dashboard, its timeline rows)."""
    edit = url_for("visits:edit")
    provisional = _e(gettext("provisional"))
    today = (
        f'<div class="timeline-today" style="left: {_e(today_left)}%"></div>'
        if today_left is not None
        else ""
    )
    out = []
    for row in rows:
        v = row.visit
        code, status = _e(v.code), _e(v.status)
        link = (
            f'<a href="{edit(row.visit_id)}">{code}</a>'
            if can_change_visit and row.visit_id
            else code
        )
        if v.window_start:
            window = f"{iso(v.window_start)} – {iso(v.window_end)}"
            if v.provisional:
                window += f' <span class="visually-hidden">({provisional})</span>*'
        else:
            window = "—"
        band = (
            f'<div class="timeline-band status-{status}" '
            f'style="left: {_e(row.band_left)}%; width: {_e(row.band_width)}%"></div>'
            if row.band_left is not None
            else ""
        )
        mark = (
            f'<div class="timeline-mark{" done" if row.done else ""}" '
            f'style="left: {_e(row.mark_left)}%"></div>'
            if row.mark_left is not None
            else ""
        )
        out.append(
            f'<tr data-visit="{code}" data-status="{status}">'
            f'<th scope="row" class="text-nowrap">{link} <span class="small fw-normal '
            f'text-muted d-none d-lg-inline">{_e(row.name)}</span></th>'
            f'<td class="text-nowrap small{" provisional" if v.provisional else ""}">{window}</td>'
            f'<td class="text-nowrap small">{iso(v.actual_date) or "—"}</td>'
            f'<td class="small">{_text(v.study_day, "—")}</td>'
            f'<td><span class="badge text-body status-{status}" data-testid="visit-status">'
            f"{_e(row.status_label)}</span></td>"
            f'<td><div class="timeline-track" aria-hidden="true">{band}{today}{mark}</div>'
            "</td></tr>"
        )
    return _join(out)


@register.simple_tag
def dashboard_platelet_rows(rows: Iterable[Any], *, action: str) -> SafeString:
    """The dashboard's platelet table (its platelet rows, with their IWG assessment)."""
    edit = url_for("visits:platelet_edit")
    rescue, before_infusion = _e(gettext("rescue")), _e(gettext("before infusion 1"))
    action = _e(action)
    out = []
    for row in rows:
        count, day = row.count, iso(row.count.sample_date)
        if row.assessment:
            category = _e(row.assessment.category)
            if not row.assessment.evaluable:
                category += f' <span class="small text-muted">({rescue})</span>'
        else:
            category = f'<span class="text-muted">{before_infusion}</span>'
        out.append(
            f'<tr data-date="{day}"><td class="text-nowrap">{day}</td>'
            f"<td>{_text(row.study_day, '—')}</td><td>{_e(row.visit_code)}</td>"
            f'<td class="text-end">{_e(count.platelets)}</td>'
            f"<td>{_text(count.who_bleeding_grade, '—')}</td><td>{category}</td>"
            f'<td class="text-end"><a href="{edit(count.pk)}">{action}'
            f'<span class="visually-hidden"> {day}</span></a></td></tr>'
        )
    return _rows_or(out, gettext("No platelet count yet."))


def _v(value: Any) -> str:
    """A value as `{{ value }}` writes it: localized (numbers), then escaped."""
    return _e(localize(value))


@register.simple_tag
def infusion_rows(rows: Iterable[Any]) -> SafeString:
    """The dashboard's infusions (reporting.selectors.dashboard, its infusion rows)."""
    detail = url_for("infusions:detail")
    label = {  # literal msgids: makemessages reads them here
        "dose deviation": _e(gettext("dose deviation")),
        "yes": _e(gettext("yes")),
        "no": _e(gettext("no")),
        "interrupted": _e(gettext("interrupted")),
        "Record and history": _e(gettext("Record and history")),
    }
    out = []
    for row in rows:
        i, dose = row.infusion, row.dose
        number = _v(i.number)
        deviation = (
            f' <span class="badge text-bg-warning">{label["dose deviation"]}</span>'
            if dose.deviation
            else ""
        )
        reaction = (
            f'<span class="badge text-bg-danger">{label["yes"]}</span>'
            if i.reaction
            else label["no"]
        )
        if i.interrupted:
            reaction += f' <span class="badge text-bg-warning">{label["interrupted"]}</span>'
        out.append(
            f'<tr data-infusion="{number}"><th scope="row">{number}</th>'
            f'<td class="text-nowrap">{iso(i.infusion_date)}</td>'
            f"<td>{_v(row.study_day)}</td>"
            f'<td class="text-end">{_v(i.dosing_weight_kg)}</td>'
            f'<td class="text-end font-monospace">{_e(intcomma(dose.planned_cells))}</td>'
            f'<td class="text-end font-monospace">{_e(intcomma(i.actual_cells))}</td>'
            f'<td class="text-end">{_v(dose.deviation_pct)} %{deviation}</td>'
            f'<td class="text-nowrap">{_v(i.lot_number)}</td>'
            f"<td>{reaction}</td>"
            f'<td><a href="{detail(i.pk)}">{label["Record and history"]}</a></td></tr>'
        )
    return _rows_or(out, gettext("No infusion given yet."), columns=10)


@register.simple_tag
def adverse_event_rows(rows: Iterable[Any]) -> SafeString:
    """The dashboard's adverse events (reporting.selectors.dashboard, its adverse event rows):
    each one's SAE clock is safety/_sae_clock.html, as on the adverse events page."""
    detail = url_for("safety:ae_detail")
    clock_badge = template.loader.get_template("safety/_sae_clock.html")
    label = {  # literal msgids: makemessages reads them here
        "onset on or after infusion 1": _e(gettext("onset on or after infusion 1")),
        "TEAE": _e(gettext("TEAE")),
        "serious": _e(gettext("serious")),
        "no": _e(gettext("no")),
        "ongoing": _e(gettext("ongoing")),
        "due": _e(gettext("due")),
        "Record and history": _e(gettext("Record and history")),
    }
    out = []
    for row in rows:
        e, c = row.event, row.clock
        number = _v(e.ae_number)
        teae = (
            f' <span class="badge text-bg-info" title="{label["onset on or after infusion 1"]}">'
            f"{label['TEAE']}</span>"
            if row.treatment_emergent
            else ""
        )
        onset = iso(e.onset_date)
        if row.onset_study_day is not None:
            day = gettext("day %(day)s") % {"day": _v(row.onset_study_day)}
            onset += f' <span class="small text-muted">({day})</span>'
        serious = (
            f'<span class="badge text-bg-danger">{label["serious"]}</span>'
            if e.serious
            else label["no"]
        )
        outcome = _v(e.get_outcome_display())
        if e.ongoing:
            outcome += f' <span class="small text-muted">({label["ongoing"]})</span>'
        clock = clock_badge.render({"sae": row.sae})
        if c.applicable and not c.reported:
            clock += (
                f' <span class="text-body-secondary text-nowrap">({label["due"]} '
                f"{_minute(c.due_at)})</span>"
            )
        elif c.reported:
            clock += f' <span class="text-nowrap">{_minute(e.reported_at)}</span>'
        out.append(
            f'<tr data-ae="{number}"><th scope="row">{number}</th>'
            f"<td>{_v(e.term)}{teae}</td>"
            f'<td class="text-nowrap">{onset}</td>'
            f"<td>{_v(e.ctcae_grade)}</td>"
            f"<td>{serious}</td>"
            f"<td>{_v(e.get_relationship_display())}</td>"
            f"<td>{outcome}</td>"
            f'<td class="small">{clock}</td>'
            f'<td><a href="{detail(e.pk)}">{label["Record and history"]}</a></td></tr>'
        )
    return _rows_or(out, gettext("No adverse event."), columns=9)


def _minute(value: Any) -> str:
    """`{{ value|date:"Y-m-d H:i" }}`: in the site's time zone, as the template wrote it."""
    return _e(date_filter(template_localtime(value), "Y-m-d H:i"))
