"""The audit_trail dataset: every change of every clinical record, then every export/import.

Read from the simple-history tables, one table at a time, ordered by record and time, so a
change is diffed against the record's previous version while streaming: one row per
creation or deletion, one row per changed field, with the user and the reason. Field names
and values are written as the dataset columns are (`code` is `visit_code`, a visit is its
code, a related infusion its number).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import models

from infusions.models import Infusion
from safety.models import AdverseEvent, ConcomitantMedication, DataQuery, Flag, Verification
from subjects.models import EligibilityAnswer, Participant
from visits.models import PlateletCount, Visit

from .models import DataExport, DataImport
from .rows import CHUNK_SIZE

ACTIONS = {"+": "created", "~": "changed", "-": "deleted"}


@dataclass(frozen=True)
class Audited:
    dataset: str
    model: type[models.Model]
    record: Callable[[Any], str]  # the record's natural key within its participant
    columns: dict[str, str] = field(default_factory=dict)  # model field -> dataset column


AUDITED: tuple[Audited, ...] = (
    Audited("subjects", Participant, lambda h: ""),
    Audited("eligibility", EligibilityAnswer, lambda h: h.criterion),
    Audited("visits", Visit, lambda h: h.code, {"code": "visit_code"}),
    Audited("infusions", Infusion, lambda h: f"INF{h.number}", {"number": "infusion_number"}),
    Audited(
        "platelets",
        PlateletCount,
        lambda h: h.sample_date.isoformat(),
        {"platelets": "platelets_10e9_l", "visit": "visit_code"},
    ),
    Audited("adverse_events", AdverseEvent, lambda h: f"AE{h.ae_number}"),
    Audited("conmeds", ConcomitantMedication, lambda h: f"{h.drug} {h.start_date.isoformat()}"),
    Audited("flags", Flag, lambda h: h.kind),
    Audited("queries", DataQuery, lambda h: f"Q{h.number}", {"number": "query_number"}),
    Audited("sdv", Verification, lambda h: f"{h.target_kind} {h.object_id}"),
)

# Not listed as changes: the id and owner never change, and the eligibility decision is
# derived from the answers (whose own history is listed) and stored without history, so its
# difference would surface on the next unrelated change and be attributed to it.
_SKIPPED = {"id", "participant", "eligible", "eligibility_assessed_on"}


def _lookups() -> dict[str, dict[int, Any]]:
    """Foreign keys are shown by what a reader knows them by (a visit by its code, an
    infusion by its number): small id maps, identifiers only, never a table's rows."""
    infusions = dict(Infusion.objects.values_list("pk", "number"))
    return {
        "participant": dict(Participant.objects.values_list("pk", "subject_id")),
        "visit": dict(Visit.objects.values_list("pk", "code")),
        "infusion": infusions,
        "related_infusion": infusions,
        "adverse_event": dict(AdverseEvent.objects.values_list("pk", "ae_number")),
    }


def _value(f: models.Field, record: Any, lookups: dict[str, dict[int, Any]]) -> Any:
    value = getattr(record, f.attname)
    if isinstance(f, models.ForeignKey) and value is not None:
        if f.name in lookups:
            return lookups[f.name].get(value, value)
        return value
    return value


def _history_rows(audited: Audited, lookups: dict[str, dict[int, Any]]) -> Iterator[list[Any]]:
    history = audited.model.history.model
    fields = [f for f in history.tracked_fields if f.name not in _SKIPPED]
    queryset = history.objects.select_related("history_user").order_by(
        "id", "history_date", "history_id"
    )
    previous = None
    for record in queryset.iterator(chunk_size=CHUNK_SIZE):
        if previous is not None and previous.id != record.id:
            previous = None
        subject_id = (
            record.subject_id
            if audited.model is Participant
            else lookups["participant"].get(record.participant_id, "")
        )
        common = [
            record.history_date,
            record.history_user.username if record.history_user else "",
            ACTIONS.get(record.history_type, record.history_type),
            audited.dataset,
            subject_id,
            audited.record(record),
        ]
        reason = record.history_change_reason or ""
        if record.history_type == "~" and previous is not None:
            for f in fields:
                old, new = _value(f, previous, lookups), _value(f, record, lookups)
                if old != new:
                    yield [*common, audited.columns.get(f.name, f.name), old, new, reason]
        else:
            yield [*common, "", None, None, reason]
        previous = record


def _exchange_rows() -> Iterator[list[Any]]:
    exports = DataExport.objects.select_related("exported_by").order_by("exported_at", "id")
    for e in exports.iterator(chunk_size=CHUNK_SIZE):
        files = "; ".join(f"{m.get('file')} ({m.get('rows')} rows)" for m in e.manifest)
        user = e.exported_by.username if e.exported_by else ""
        yield [e.exported_at, user, "exported", e.datasets, "", "", "", None, files, ""]
    imports = DataImport.objects.select_related("imported_by").order_by("imported_at", "id")
    for i in imports.iterator(chunk_size=CHUNK_SIZE):
        summary = "; ".join(
            f"{name}: " + ", ".join(f"{k} {v}" for k, v in counts.items())
            for name, counts in (i.summary.get("counts") or {}).items()
        )
        user = i.imported_by.username if i.imported_by else ""
        yield [i.imported_at, user, "imported", i.files, "", "", "", None, summary, i.reason]


def audit_trail_rows() -> Iterator[list[Any]]:
    lookups = _lookups()
    for audited in AUDITED:
        yield from _history_rows(audited, lookups)
    yield from _exchange_rows()
