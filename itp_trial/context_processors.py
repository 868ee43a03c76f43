from typing import Any

from django.http import HttpRequest

from . import protocol
from .navigation import navigation_for
from .roles import user_role


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    return {
        "nav_items": navigation_for(user) if user is not None else [],
        "user_role": user_role(user) if user is not None else None,
        "protocol": protocol,
    }
