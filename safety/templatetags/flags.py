"""`{% flag_line flag %}`: one flag as every page shows it, and the SAE report clocks.

The flag line is built here in Python (`flag_line_html`) rather than by an included
template: a list page shows fifty of them, and a template per line cost more than the rest
of the page. Pages that build their rows in Python call `flag_line_html` with the
`FlagView` they computed; templates call the tag.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from django import template
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils import timezone
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, gettext_noop

from itp_trial.paging import row_url

from ..models import FlagKind
from ..triage import SAE_CLOCK_ICON, FlagView, flag_view, word

register = template.Library()


@lru_cache(maxsize=64)
def _kind_labels_in(language: str | None) -> dict[str, str]:
    return {value: str(label) for value, label in FlagKind.choices}


@lru_cache(maxsize=16)
def _participant_url(prefix: str, urlconf: object) -> Callable[[int], str]:
    # Reversed once per URL configuration, not once per line (a panel shows twenty).
    return row_url("subjects:detail")


def flag_line_html(view: FlagView, *, show_participant: bool = False) -> SafeString:
    """One flag: an icon for its kind, a colour for its severity, what it is about, and how
    long it is overdue (or how long it has been open).

    Every value is escaped (`conditional_escape`) and the pieces joined once: a panel
    writes twenty lines, and a format_html per piece was most of their cost."""
    e = conditional_escape
    flag = view.flag
    language = get_language()
    severity = word(gettext_noop("severity %(severity)s")) % {"severity": view.severity_label}
    badge = (
        f'<span class="badge flag-{e(view.severity)}" data-testid="flag-badge">'
        f'<span aria-hidden="true">{e(view.icon)}</span> '
        f"{e(_kind_labels_in(language).get(flag.kind, flag.kind))}"
        f'<span class="visually-hidden"> ({e(severity)})</span></span>'
    )
    who = (
        f'<a href="{e(_participant_url(get_script_prefix(), get_urlconf())(flag.participant_id))}">'
        f"<strong>{e(flag.participant.subject_id)}</strong></a>"
        if show_participant
        else ""
    )
    if flag.visit_id:
        about = f"· {e(flag.visit.code)}"
    elif flag.infusion_id:
        about = f"· {e(flag.infusion.visit_code)}"
    elif flag.adverse_event_id:
        ae = word(gettext_noop("AE"))
        about = f"· {e(ae)} {e(flag.adverse_event.ae_number)}"
    else:
        about = ""
    if view.overdue_by:
        when = (
            '<strong class="text-danger-emphasis" data-testid="overdue-by">'
            f"{e(view.overdue_by)}</strong>"
        )
    elif view.open_for:
        raised = word(gettext_noop("raised %(at)s")) % {"at": local_minute(flag.raised_at)}
        when = (
            '<span class="text-body-secondary" data-testid="open-for" '
            f'title="{e(raised)}">{e(view.open_for)}</span>'
        )
    else:
        when = ""
    return mark_safe(  # every value above is escaped
        f'<span class="flag-line" data-kind="{e(flag.kind)}" data-severity="{e(view.severity)}">'
        f"\n{badge}\n{who}\n{about}\n{when}\n</span>"
    )


def open_flag_items_html(
    flags: list[Any], *, show_participant: bool, now: Any = None
) -> SafeString:
    """The open-flags panel's items (templates/safety/_open_flags.html): each flag's line
    and its detail."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    items = []
    for flag in flags:
        line = flag_line_html(
            flag_view(flag, now=now, today=today), show_participant=show_participant
        )
        detail = (
            f'<div class="text-body-secondary">{conditional_escape(flag.detail_display)}</div>'
            if flag.detail
            else ""
        )
        items.append(
            f'<li class="list-group-item small" data-testid="open-flag">\n{line}\n{detail}\n</li>'
        )
    return mark_safe("\n".join(items))  # built from escaped values


def flag_about_html(flag: Any) -> SafeString:
    """What the flag is about: its visit's code, or its adverse event with a link."""
    if flag.visit_id:
        return format_html("{}", flag.visit.code)
    if flag.infusion_id:
        return format_html("{}", flag.infusion.visit_code)
    if flag.adverse_event_id:
        return format_html(
            '<a href="{}">AE{}</a>',
            reverse("safety:ae_detail", args=[flag.adverse_event_id]),
            flag.adverse_event.ae_number,
        )
    return SafeString("")


def local_minute(moment: Any) -> str:
    """`moment|date:"Y-m-d H:i"` (digits only, the same in every language), cheaper."""
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def flag_status_html(flag: Any) -> SafeString:
    """The flag's status: open, resolved (when) or acknowledged (by whom, when, why)."""
    if flag.acknowledged_at:
        who = flag.acknowledged_by
        return format_html(
            '<span class="badge text-bg-success">{}</span>\n<div class="small text-muted">'
            "{}{}<br>{}</div>",
            word(gettext_noop("Acknowledged")),
            f"{who.get_full_name() or who.username}, " if who else "",
            local_minute(flag.acknowledged_at),
            flag.acknowledgement_comment,
        )
    if flag.resolved_at:
        return format_html(
            '<span class="badge text-bg-secondary">{}</span>\n<div class="small text-muted">'
            "{}</div>",
            word(gettext_noop("Resolved")),
            local_minute(flag.resolved_at),
        )
    return format_html('<span class="badge text-bg-danger">{}</span>', word(gettext_noop("Open")))


@register.simple_tag
def flag_line(flag: Any, show_participant: bool = False) -> SafeString:
    return flag_line_html(flag_view(flag), show_participant=show_participant)


@register.simple_tag
def open_flag_items(flags: list[Any], show_participant: bool = False) -> SafeString:
    return open_flag_items_html(flags, show_participant=show_participant)


@register.simple_tag
def flag_about(flag: Any) -> SafeString:
    return flag_about_html(flag)


@register.simple_tag
def flag_status(flag: Any) -> SafeString:
    return flag_status_html(flag)


@register.inclusion_tag("safety/_sae_clocks.html", takes_context=True)
def sae_clocks(context: template.Context, clocks: list, show_participant: bool = True) -> dict:
    return {
        "clocks": clocks,
        "show_participant": show_participant,
        "icon": SAE_CLOCK_ICON,
        "perms": context.get("perms"),
    }
