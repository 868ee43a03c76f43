"""Read a record's audit trail as rows for its page."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import stored_text
from .compiled import CompiledRead

ACTIONS = {"+": _("Created"), "~": _("Changed"), "-": _("Deleted")}


def _shown(value: Any) -> Any:
    """Dates as ISO 8601 (date-times in the site's zone), as everywhere else; booleans yes/no."""
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, datetime):
        return timezone.localtime(value).isoformat(sep=" ", timespec="minutes")
    if isinstance(value, date):
        return value.isoformat()
    return value


# The history read of each kind of record (and limit), compiled once: every record page reads
# one (itp_trial.compiled).
_READS: dict[tuple[type[models.Model], int], CompiledRead] = {}


def _history_read(model: type[models.Model], limit: int) -> CompiledRead:
    read = _READS.get((model, limit))
    if read is None:
        # The filter of the history manager of one record (simple_history's get_queryset).
        key = model._meta.pk.attname
        read = _READS[(model, limit)] = CompiledRead(
            lambda pk: (
                model.history.filter(**{key: pk})
                .select_related("history_user")
                .order_by("-history_date")[: limit + 1]
            )
        )
    return read


def history_rows(instance: models.Model, *, limit: int = 200) -> list[dict[str, Any]]:
    """The record's history, newest first, each with the fields it changed and the reason."""
    records = _history_read(type(instance), limit).rows(instance.pk)
    return _rows(records, limit=limit)


def history_rows_of_set(
    history: models.QuerySet, *, record: Any, limit: int = 500
) -> list[dict[str, Any]]:
    """The history of a set of records (e.g. a participant's eligibility answers) in one
    query, newest first; each row names its record with `record(historical_row)`."""
    records = list(history.select_related("history_user").order_by("-history_date", "-history_id"))
    previous_of: dict[int, Any] = {}
    by_record: dict[Any, list[Any]] = {}
    for row in records:
        by_record.setdefault(row.id, []).append(row)
    for rows in by_record.values():
        for newer, older in zip(rows, rows[1:], strict=False):
            previous_of[newer.history_id] = older
    result = []
    for row in records[:limit]:
        (entry,) = _rows(
            [row, previous_of[row.history_id]] if row.history_id in previous_of else [row], limit=1
        )
        entry["record"] = record(row)
        result.append(entry)
    return result


def _rows(records: list[Any], *, limit: int) -> list[dict[str, Any]]:
    rows = []
    for i, record in enumerate(records[:limit]):
        previous = records[i + 1] if i + 1 < len(records) else None
        changes = []
        if previous is not None:
            delta = record.diff_against(previous)
            changes = [
                {
                    "field": str(record.instance_type._meta.get_field(c.field).verbose_name),
                    "old": _shown(c.old),
                    "new": _shown(c.new),
                }
                for c in delta.changes
            ]
        rows.append(
            {
                "at": record.history_date,
                "user": record.history_user,
                "action": ACTIONS.get(record.history_type, record.history_type),
                "changes": changes,
                # A system reason is stored in English and read in the user's language.
                "reason": stored_text.display(record.history_change_reason),
            }
        )
    return rows
