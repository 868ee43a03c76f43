"""The navigation bar: each entry is shown to the users whose permissions allow the page."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class NavItem:
    label: Any
    url_name: str
    permission: str


NAV_ITEMS: tuple[NavItem, ...] = (
    NavItem(_("Worklist"), "visits:worklist", "visits.change_visit"),
    NavItem(_("Participants"), "subjects:list", "subjects.view_participant"),
    NavItem(_("Screen a participant"), "subjects:screen", "subjects.add_participant"),
    NavItem(_("Trial overview"), "subjects:overview", "subjects.view_participant"),
    NavItem(_("Flags"), "safety:flags", "safety.view_flag"),
    NavItem(_("Queries"), "safety:queries", "safety.view_dataquery"),
    NavItem(_("Left to verify"), "safety:sdv_todo", "safety.add_verification"),
    NavItem(_("Exports"), "exchange:exports", "exchange.export_data"),
    NavItem(_("Import lab results"), "exchange:import_platelets", "exchange.import_data"),
)


@lru_cache(maxsize=16)
def _urls(prefix: str, urlconf: Any) -> dict[str, str]:
    # Reversed once per URL configuration, not on every page.
    return {name: reverse(name) for name in [i.url_name for i in NAV_ITEMS] + ["admin:index"]}


def navigation_for(user: Any) -> list[dict[str, str]]:
    if not getattr(user, "is_authenticated", False):
        return []
    urls = _urls(get_script_prefix(), get_urlconf())
    items = [
        {"label": item.label, "url": urls[item.url_name], "url_name": item.url_name}
        for item in NAV_ITEMS
        if user.has_perm(item.permission)
    ]
    if getattr(user, "is_staff", False):
        # Administrators manage accounts and roles there; clinical data are never written there.
        items.append(
            {"label": _("Administration"), "url": urls["admin:index"], "url_name": "admin:index"}
        )
    return items
