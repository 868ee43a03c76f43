"""`{% flag_line flag %}`: one flag as every page shows it (templates/safety/_flag.html)."""

from __future__ import annotations

from typing import Any

from django import template

from ..triage import SAE_CLOCK_ICON, flag_view

register = template.Library()


@register.inclusion_tag("safety/_flag.html", takes_context=True)
def flag_line(context: template.Context, flag: Any, show_participant: bool = False) -> dict:
    return {
        "f": flag_view(flag),
        "show_participant": show_participant,
        "perms": context.get("perms"),
    }


@register.inclusion_tag("safety/_sae_clocks.html", takes_context=True)
def sae_clocks(context: template.Context, clocks: list, show_participant: bool = True) -> dict:
    return {
        "clocks": clocks,
        "show_participant": show_participant,
        "icon": SAE_CLOCK_ICON,
        "perms": context.get("perms"),
    }
