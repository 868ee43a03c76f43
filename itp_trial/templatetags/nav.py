"""`{% nav_links %}`: the navigation bar's entries (itp_trial.navigation), written here.

Every page of a role shows nine entries; as a template loop with a test and an include
each, they cost a list page about a tenth of its time (issue 15)."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext

register = template.Library()

QUERIES = "safety:queries"


def _query_badge(counts: Any) -> str:
    """The open and answered queries beside the Queries entry (counts: query_totals)."""
    badge = ""
    if counts.get("open"):
        title = conditional_escape(gettext("Open queries, awaiting the site"))
        badge += (
            ' <span class="badge text-bg-warning" data-testid="nav-open-queries" '
            f'title="{title}">{conditional_escape(counts["open"])}</span>'
        )
    if counts.get("answered"):
        title = conditional_escape(gettext("Answered queries, awaiting review"))
        badge += (
            ' <span class="badge text-bg-info" data-testid="nav-answered-queries" '
            f'title="{title}">{conditional_escape(counts["answered"])}</span>'
        )
    return badge


@register.simple_tag(takes_context=True)
def nav_links(context: template.Context) -> SafeString:
    """One <li> per entry of `nav_items`, the current page's marked active; the Queries
    entry with `nav_query_counts` when the context has them."""
    request = context.get("request")
    match = getattr(request, "resolver_match", None)
    current = match.view_name if match is not None else None
    counts = context.get("nav_query_counts")
    items = []
    for item in context.get("nav_items") or ():
        name = item["url_name"]
        badge = _query_badge(counts) if name == QUERIES and counts else ""
        active = " active" if name == current else ""
        items.append(
            f'<li class="nav-item"><a class="nav-link{active}" '
            f'href="{conditional_escape(item["url"])}">{conditional_escape(item["label"])}'
            f"{badge}</a></li>"
        )
    return mark_safe("\n".join(items))  # every value is escaped
