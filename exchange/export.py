"""Writing the datasets as CSV: streamed, counted and hashed; one file, a zip or a directory.

A file is produced a row at a time (csv.writer over a buffer that hands each line back)
and sent on in blocks of about 64 KB, so memory does not grow with the table. Every export
is recorded as a `DataExport` (who, when, which datasets, and each file's rows and
sha256): that record is the export's audit trail entry, and the audit_trail dataset lists it.
"""

from __future__ import annotations

import csv
import hashlib
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

from django.db import connection, transaction
from django.utils import timezone

from itp_trial import protocol
from itp_trial.audit import audit_head

from . import datasets
from .cells import cell, format_value
from .models import DataExport
from .rows import ROWS

BLOCK_SIZE = 64 * 1024


class Echo:
    """A file-like object whose write() hands the line back instead of storing it."""

    def write(self, value: str) -> str:
        return value


@dataclass
class FileStats:
    """What the manifest says of one file: its data rows (header excluded) and sha256."""

    file: str
    rows: int = 0
    digest: Any = field(default_factory=hashlib.sha256)

    @property
    def sha256(self) -> str:
        return self.digest.hexdigest()

    def manifest(self, export: DataExport, head: tuple[int, str] | None = None) -> dict[str, Any]:
        seq, chain_head = head or audit_head()
        return {
            "file": self.file,
            "rows": self.rows,
            "sha256": self.sha256,
            "exported_at": format_value(export.exported_at),
            "exported_by": export.exported_by.username if export.exported_by else "",
            "audit_chain_seq": seq,
            "audit_chain_head": chain_head,
        }


def csv_bytes(
    header: Sequence[str], rows: Iterable[Sequence[Any]], *, stats: FileStats
) -> Iterator[bytes]:
    """UTF-8 CSV blocks of a header and rows, counting and hashing what is produced."""
    writer = csv.writer(Echo())
    pending = [writer.writerow(header)]
    size = len(pending[0])
    for row in rows:
        line = writer.writerow([cell(value) for value in row])
        pending.append(line)
        size += len(line)
        stats.rows += 1
        if size >= BLOCK_SIZE:
            block = "".join(pending).encode()
            stats.digest.update(block)
            yield block
            pending, size = [], 0
    if pending:
        block = "".join(pending).encode()
        stats.digest.update(block)
        yield block


def dataset_bytes(name: str, *, stats: FileStats, today: date | None = None) -> Iterator[bytes]:
    """One dataset of the contract as CSV blocks."""
    dataset = datasets.DATASETS_BY_NAME[name]
    rows = ROWS[name](today=today or timezone.localdate())
    return csv_bytes(dataset.header, rows, stats=stats)


def dictionary_bytes(*, stats: FileStats) -> Iterator[bytes]:
    return csv_bytes(datasets.DICTIONARY_HEADER, datasets.dictionary_rows(), stats=stats)


def export_record(*, user: Any, names: Sequence[str]) -> DataExport:
    """Record that `user` is taking these datasets now; the manifest follows when done."""
    exported_by = user if getattr(user, "is_authenticated", False) else None
    return DataExport.objects.create(exported_by=exported_by, datasets=",".join(names))


def dataset_stream(name: str, *, export: DataExport, today: date | None = None) -> Iterator[bytes]:
    """Stream one file for download; once it is sent whole, its manifest is recorded."""
    filename = (
        datasets.DICTIONARY_FILENAME
        if name == "data_dictionary"
        else datasets.DATASETS_BY_NAME[name].filename
    )
    stats = FileStats(filename)
    if name == "data_dictionary":
        yield from dictionary_bytes(stats=stats)
    else:
        yield from dataset_bytes(name, stats=stats, today=today)
    export.manifest = [stats.manifest(export)]
    export.save(update_fields=["manifest"])


@contextmanager
def _snapshot() -> Iterator[None]:
    """One transaction for the whole study; on PostgreSQL one snapshot, so files agree."""
    repeatable = connection.vendor == "postgresql" and not connection.in_atomic_block
    with transaction.atomic():
        if repeatable:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        yield


Opener = Callable[[str], IO[bytes]]


def study_write(opener: Opener, *, user: Any, today: date | None = None) -> DataExport:
    """Every dataset, the data dictionary and the manifest, each into `opener(filename)`."""
    names = [d.name for d in datasets.DATASETS] + ["data_dictionary"]
    with _snapshot():
        export = export_record(user=user, names=names)
        all_stats = []
        for dataset in datasets.DATASETS:
            stats = FileStats(dataset.filename)
            with opener(dataset.filename) as out:
                for block in dataset_bytes(dataset.name, stats=stats, today=today):
                    out.write(block)
            all_stats.append(stats)
        stats = FileStats(datasets.DICTIONARY_FILENAME)
        with opener(datasets.DICTIONARY_FILENAME) as out:
            for block in dictionary_bytes(stats=stats):
                out.write(block)
        all_stats.append(stats)
        head = audit_head()  # in the export's snapshot: the chain the audit trail file shows
        export.manifest = [s.manifest(export, head) for s in all_stats]
        manifest_rows = [[m[k] for k in datasets.MANIFEST_HEADER] for m in export.manifest]
        with opener(datasets.MANIFEST_FILENAME) as out:
            for block in csv_bytes(
                datasets.MANIFEST_HEADER,
                manifest_rows,
                stats=FileStats(datasets.MANIFEST_FILENAME),
            ):
                out.write(block)
        export.save(update_fields=["manifest"])
    return export


def study_zip(*, user: Any, today: date | None = None) -> tuple[IO[bytes], DataExport]:
    """The whole study as a zip in a temporary file (deleted when closed), rewound."""
    spool = tempfile.TemporaryFile()
    with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        export = study_write(
            lambda name: archive.open(name, "w", force_zip64=True), user=user, today=today
        )
    spool.seek(0)
    return spool, export


def study_directory(directory: Path, *, user: Any, today: date | None = None) -> DataExport:
    """The whole study as <dataset>.csv files, the dictionary and the manifest in a directory."""
    directory.mkdir(parents=True, exist_ok=True)
    return study_write(lambda name: open(directory / name, "wb"), user=user, today=today)


def zip_filename(at: datetime) -> str:
    return f"{protocol.REGISTRY_ID}_{timezone.localtime(at):%Y%m%d_%H%M%S}.zip"
