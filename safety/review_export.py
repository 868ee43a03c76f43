"""Review records as the exports and the standards name them: a record by its dataset and
its natural key within the participant (the `record` column of the audit trail)."""

from __future__ import annotations

from .targets import TARGETS


def record_keys() -> dict[tuple[str, int], tuple[str, str]]:
    """{(kind, pk): (dataset, record key)} for every record of every reviewed kind: identifier
    maps only, one query per kind. A participant's own record has an empty key."""
    keys: dict[tuple[str, int], tuple[str, str]] = {}
    for kind, target in TARGETS.items():
        for pk, key in target.keys().items():
            keys[(kind, pk)] = (target.dataset, "" if kind == "participant" else key)
    return keys


def record_versions() -> dict[tuple[str, int], int]:
    """{(kind, pk): version} for every record of every reviewed kind (one query per kind)."""
    versions: dict[tuple[str, int], int] = {}
    for kind, target in TARGETS.items():
        for pk, version in target.model._default_manager.order_by().values_list("pk", "version"):
            versions[(kind, pk)] = version
    return versions
