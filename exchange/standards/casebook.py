"""The PDF casebook of a participant: every form with its values and audit trail, the data
queries, the SDV state and the signatures, with page numbers and the export time.

Built from the same records as the CSV export (`source.study_records`, the audit_trail
dataset) and the review records read through `review`, rendered from HTML by WeasyPrint.
Chinese text needs the Noto CJK fonts installed on the machine (Debian: fonts-noto-cjk).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from django.template.loader import render_to_string
from django.utils import timezone, translation

from itp_trial import protocol

from ..cells import format_value
from . import review, source

TEMPLATE = "exchange/casebook.html"


@dataclass(frozen=True)
class Form:
    dataset: str
    label: str
    key: str
    values: list[tuple[str, str]]  # (label, value) of each filled column
    audit: list[source.Record]
    sdv: str


@dataclass
class Material:
    """What every casebook of one run reads, loaded once for all participants."""

    study: source.Study
    audit: dict[str, list[source.Record]]
    signatures: dict[str, list[review.Signature]]
    queries: dict[str, list[review.Query]]

    @property
    def exported_at(self) -> datetime:
        return self.study.exported_at


def material_load(*, subject_ids: list[str] | None = None) -> Material:
    audit: dict[str, list[source.Record]] = defaultdict(list)
    for entry in source.audit_records(subject_ids=subject_ids):
        audit[entry["subject_id"]].append(entry)
    return Material(
        study=source.study_records(subject_ids=subject_ids),
        audit=audit,
        signatures=review.signatures(subject_ids=subject_ids),
        queries=review.queries(subject_ids=subject_ids),
    )


def _forms(subject_id: str, material: Material) -> list[Form]:
    trail: dict[tuple[str, str], list[source.Record]] = defaultdict(list)
    for entry in material.audit.get(subject_id, []):
        trail[(entry["dataset"], entry["record"])].append(entry)
    forms = []
    for dataset in source.CLINICAL:
        for record in material.study.of(dataset.name, subject_id):
            key = source.audit_key(dataset.name, record)
            values = [
                (str(column.label), format_value(record[column.name]))
                for column in dataset.columns
                if format_value(record[column.name]) != ""
            ]
            forms.append(
                Form(
                    dataset=dataset.name,
                    label=str(dataset.label),
                    key=key or "",
                    values=values,
                    audit=trail.get((dataset.name, key), []) if key is not None else [],
                    sdv=review.sdv_state(subject_id, dataset.name, key),
                )
            )
    return forms


def casebook_html(subject_id: str, material: Material) -> str:
    context: dict[str, Any] = {
        "study": protocol.REGISTRY_ID,
        "subject_id": subject_id,
        "exported_at": timezone.localtime(material.exported_at),
        "forms": _forms(subject_id, material),
        "queries": material.queries.get(subject_id, []),
        "signatures": material.signatures.get(subject_id, []),
        "language": translation.get_language(),
    }
    return render_to_string(TEMPLATE, context)


def casebook_pdf(subject_id: str, material: Material | None = None) -> bytes:
    """One participant's casebook as PDF bytes."""
    from weasyprint import HTML  # heavy (pango); loaded only when a casebook is made

    material = material or material_load(subject_ids=[subject_id])
    return HTML(string=casebook_html(subject_id, material)).write_pdf()


def casebook_filename(subject_id: str) -> str:
    return f"casebook_{subject_id}.pdf"


def casebooks_write(directory: Path, *, subject_ids: Iterable[str] | None = None) -> list[Path]:
    """Every participant's casebook (or those named) into `directory`; the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    wanted = list(subject_ids) if subject_ids is not None else None
    material = material_load(subject_ids=wanted)
    written = []
    for subject_id in material.study.subjects():
        path = directory / casebook_filename(subject_id)
        path.write_bytes(casebook_pdf(subject_id, material))
        written.append(path)
    return written
