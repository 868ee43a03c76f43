"""Writes on visits: the stored schedule (sync), the site's data entry (entry) and what
it may enter (fields)."""

from .entry import (
    platelet_record,
    visit_mark_missed,
    visit_record,
    visit_validate,
    visit_window_status,
)
from .fields import (
    PLATELET_FIELDS,
    UNITS,
    VISIT_FIELDS_BY_KIND,
    VITAL_FIELDS,
    range_error,
    value_ranges,
)
from .sync import (
    SCHEDULE_FIELDS,
    participant_changed,
    responses_sync,
    schedule_create,
    schedule_sync,
)

__all__ = [
    "PLATELET_FIELDS",
    "SCHEDULE_FIELDS",
    "UNITS",
    "VISIT_FIELDS_BY_KIND",
    "VITAL_FIELDS",
    "participant_changed",
    "platelet_record",
    "range_error",
    "responses_sync",
    "schedule_create",
    "schedule_sync",
    "value_ranges",
    "visit_mark_missed",
    "visit_record",
    "visit_validate",
    "visit_window_status",
]
