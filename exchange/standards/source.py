"""The CSV export's rows, read once for the standards: one snapshot of the whole study.

ODM, SDTM and the casebooks are documents of the whole study (40 participants), built from
the same row generators as the CSV files (`exchange.rows.ROWS`), with the same Python
values; only the formatting differs. Nothing here derives a value of its own.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.utils import timezone

from .. import datasets
from ..rows import ROWS

Record = dict[str, Any]

# The datasets that hold a participant's data, as the CSV export writes them; the audit
# trail is read apart (`audit`), flags are the system's findings, review records
# (queries, SDV) are read by `review`; signatures and locks too: the ODM carries
# signatures as its own Signature elements.
NOT_CLINICAL = {
    datasets.AUDIT_TRAIL.name,
    datasets.SIGNATURES.name,
    datasets.LOCKS.name,
    *datasets.REVIEW_DATASET_NAMES,
}
CLINICAL = tuple(
    d for d in datasets.DATASETS if d.name not in NOT_CLINICAL and "subject_id" in d.header
)


def records(name: str, *, today: date) -> Iterator[Record]:
    """One dataset's rows as dicts of column name to Python value, in export order."""
    header = datasets.DATASETS_BY_NAME[name].header
    for row in ROWS[name](today=today):
        yield dict(zip(header, row, strict=True))


@dataclass
class Study:
    """Every clinical dataset's records, by dataset and by participant."""

    today: date
    exported_at: datetime
    by_dataset: dict[str, list[Record]] = field(default_factory=dict)

    def subjects(self) -> list[str]:
        return [r["subject_id"] for r in self.by_dataset[datasets.SUBJECTS.name]]

    def of(self, name: str, subject_id: str) -> list[Record]:
        return self._by_subject[name].get(subject_id, [])

    def __post_init__(self) -> None:
        self._by_subject: dict[str, dict[str, list[Record]]] = {}

    def index(self) -> None:
        for name, rows in self.by_dataset.items():
            grouped: dict[str, list[Record]] = defaultdict(list)
            for r in rows:
                grouped[r.get("subject_id", "")].append(r)
            self._by_subject[name] = grouped


def study_records(*, today: date | None = None, subject_ids: list[str] | None = None) -> Study:
    """The whole study as the CSV export sees it today (optionally a few participants)."""
    today = today or timezone.localdate()
    study = Study(today=today, exported_at=timezone.now())
    wanted = set(subject_ids) if subject_ids is not None else None
    for dataset in CLINICAL:
        rows = records(dataset.name, today=today)
        study.by_dataset[dataset.name] = [
            r for r in rows if wanted is None or r["subject_id"] in wanted
        ]
    study.index()
    return study


def audit_records(*, subject_ids: list[str] | None = None) -> list[Record]:
    """The audit_trail dataset's rows (every change of every record), as dicts."""
    wanted = set(subject_ids) if subject_ids is not None else None
    rows = records(datasets.AUDIT_TRAIL.name, today=timezone.localdate())
    return [r for r in rows if wanted is None or r["subject_id"] in wanted]


def audit_key(dataset: str, record: Record) -> str | None:
    """The `record` column the audit trail gives this row (see exchange.audit_trail)."""
    keys = {
        "subjects": lambda r: "",
        "eligibility": lambda r: r["criterion"],
        "visits": lambda r: r["visit_code"],
        "infusions": lambda r: f"INF{r['infusion_number']}",
        "platelets": lambda r: r["sample_date"].isoformat(),
        "adverse_events": lambda r: f"AE{r['ae_number']}",
        "conmeds": lambda r: f"{r['drug']} {r['start_date'].isoformat()}",
        "flags": lambda r: r["kind"],
    }
    key = keys.get(dataset)
    return key(record) if key else None
