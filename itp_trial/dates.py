"""The one rule that a clinical date, or date and time, cannot be in the future.

Every service, the CSV import and the checks call these, so that the comparison and the
message are the same on every path.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.utils.translation import gettext as _


def date_future_error(value: Any, *, today: date) -> str | None:
    """The refusal of a date after `today` (the site's date), else None; not a date: None."""
    if isinstance(value, datetime) or not isinstance(value, date):
        return None
    return _("The date cannot be in the future.") if value > today else None


def moment_future_error(value: Any, *, now: datetime) -> str | None:
    """The refusal of a date and time after `now`, else None; not a datetime: None."""
    if not isinstance(value, datetime):
        return None
    return _("The date and time cannot be in the future.") if value > now else None


def date_future_add(
    errors: dict[str, list[Any]], field: str, value: Any, *, today: date
) -> bool:
    """Add the refusal of a future date to `errors[field]`; True when it was added."""
    message = date_future_error(value, today=today)
    if message:
        errors.setdefault(field, []).append(message)
    return message is not None
