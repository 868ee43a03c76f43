"""Review records as the exports and the standards name them: a record by its dataset and
its natural key within the participant (the `record` column of the audit trail)."""

from __future__ import annotations

from django.db.models import QuerySet

from .targets import TARGETS


def record_keys(referenced_by: QuerySet | None = None) -> dict[tuple[str, int], tuple[str, str]]:
    """{(kind, pk): (dataset, record key)} for every record of every reviewed kind, or only for
    those that `referenced_by` (queries or verifications: target_kind and object_id) points
    at: identifier maps only, one query per kind. A participant's own record has an empty
    key."""
    keys: dict[tuple[str, int], tuple[str, str]] = {}
    for kind, target in TARGETS.items():
        for pk, key in target.keys(_referenced(referenced_by, kind)).items():
            keys[(kind, pk)] = (target.dataset, "" if kind == "participant" else key)
    return keys


def record_versions(referenced_by: QuerySet | None = None) -> dict[tuple[str, int], int]:
    """{(kind, pk): version} for every record of every reviewed kind, or only for those that
    `referenced_by` points at (one query per kind)."""
    versions: dict[tuple[str, int], int] = {}
    for kind, target in TARGETS.items():
        rows = target.model._default_manager.order_by()
        ids = _referenced(referenced_by, kind)
        if ids is not None:
            rows = rows.filter(pk__in=ids)
        for pk, version in rows.values_list("pk", "version"):
            versions[(kind, pk)] = version
    return versions


def _referenced(referenced_by: QuerySet | None, kind: str) -> QuerySet | None:
    """The ids of the records of `kind` that the review rows point at (a subquery)."""
    if referenced_by is None:
        return None
    return referenced_by.filter(target_kind=kind).order_by().values("object_id")
