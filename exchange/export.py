"""Writing the datasets as CSV: streamed, counted and hashed; one file, a zip or a directory.

A file is produced a row at a time (csv.writer into a buffer emptied at every block) and
sent on in blocks of about 64 KB, so memory does not grow with the table. Every export
is recorded as a `DataExport` (who, when, which datasets, and each file's rows and
sha256): that record is the export's audit trail entry, and the audit_trail dataset lists it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import tempfile
import zipfile
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import partial
from itertools import islice
from pathlib import Path
from typing import IO, Any

from django.db import connection, transaction
from django.utils import timezone

from itp_trial import protocol
from itp_trial.audit import audit_head

from . import audit_trail, csv_sql, datasets
from .audit_trail_sql import copied_blocks
from .cells import ColumnFormat, cell, column_format, format_value, formatted
from .models import DataExport
from .rows import ROWS, none_in

BLOCK_SIZE = 64 * 1024
BATCH_ROWS = 500  # rows formatted together, a column at a time


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
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    stats: FileStats,
    formats: Sequence[ColumnFormat] | None = None,
) -> Iterator[bytes]:
    """UTF-8 CSV blocks of a header and rows, counting and hashing what is produced.

    Each value is written as `cells.cell` writes it: rows are taken a batch at a time and
    formatted a column at a time (`cells.formatted`), with `formats` (one per column,
    `cells.column_format`) where the columns' types are known.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    if formats is None:
        formats = [ColumnFormat(cell)] * len(header)
    rows = iter(rows)
    while batch := list(islice(rows, BATCH_ROWS)):
        writer.writerows(formatted(batch, formats))
        stats.rows += len(batch)
        if buffer.tell() >= BLOCK_SIZE:
            yield _block(buffer, stats)
    if buffer.tell():
        yield _block(buffer, stats)


def _block(buffer: io.StringIO, stats: FileStats) -> bytes:
    """What the buffer holds, encoded and hashed; the buffer is emptied."""
    block = buffer.getvalue().encode()
    buffer.seek(0)
    buffer.truncate()
    stats.digest.update(block)
    return block


def dataset_bytes(
    name: str,
    *,
    stats: FileStats,
    today: date | None = None,
    in_database: bool | None = None,
) -> Iterator[bytes]:
    """One dataset of the contract as CSV blocks.

    On PostgreSQL the clinical datasets are written by the database (`csv_sql`, the same
    bytes); elsewhere, and with `in_database=False`, by Python from `rows.ROWS`.
    """
    dataset = datasets.DATASETS_BY_NAME[name]
    today = today or timezone.localdate()
    if in_database is None:
        in_database = connection.vendor == "postgresql" and name in csv_sql.SELECTS
    if in_database and none_in(csv_sql.SOURCES[name]):  # one query, not a COPY's setting up
        return csv_bytes(dataset.header, iter(()), stats=stats)
    if in_database:
        return copied_bytes(
            dataset.header,
            partial(csv_sql.copy_statement, name),
            csv_sql.copy_params(today=today),
            stats=stats,
            session=csv_sql.SESSION,
        )
    formats = [column_format(c.type) for c in dataset.columns]
    if name == datasets.AUDIT_TRAIL.name and audit_trail.audit_trail_in_sql():
        return audit_trail.audit_trail_bytes(header=dataset.header, formats=formats, stats=stats)
    rows = ROWS[name](today=today)
    return csv_bytes(dataset.header, rows, stats=stats, formats=formats)


def copied_bytes(
    header: Sequence[str],
    statement: Callable[..., str],
    params: dict[str, Any],
    *,
    stats: FileStats,
    session: str = "",
) -> Iterator[bytes]:
    """The header, then what a `COPY ... TO STDOUT (FORMAT csv)` writes, in blocks of about
    BLOCK_SIZE, counted and hashed as `csv_bytes` does.

    PostgreSQL hands over one row at a time, each ending with LF; the csv module ends a row
    with CRLF (`audit_trail_sql.copied_blocks`).

    The COPY, `statement(params=, cursor=)`, runs in a transaction (a savepoint inside
    one) after `session`, a statement with the same parameters that sets what the COPY
    needs for that transaction only; the transaction is rolled back at the end, a read
    having nothing to keep, and the settings go with it.
    """
    buffer = io.StringIO()
    csv.writer(buffer).writerow(header)
    yield _block(buffer, stats)
    with transaction.atomic(), connection.cursor() as wrapper:
        if session:
            wrapper.execute(session, params)
        copy_sql = statement(params=params, cursor=wrapper)
        with wrapper.cursor.copy(copy_sql, params) as copy:
            for block, rows in copied_blocks(copy, size=BLOCK_SIZE):
                stats.rows += rows
                stats.digest.update(block)
                yield block
        transaction.set_rollback(True)


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
    steps = _study_steps(opener, user=user, today=today)
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value


def _study_steps(
    opener: Opener, *, user: Any, today: date | None = None
) -> Generator[None, None, DataExport]:
    """study_write a block at a time: it pauses after each block written (so that a
    streamed zip can send what is ready), and returns the export record."""
    names = [d.name for d in datasets.DATASETS] + ["data_dictionary"]
    with _snapshot():
        export = export_record(user=user, names=names)
        all_stats = []
        for dataset in datasets.DATASETS:
            stats = FileStats(dataset.filename)
            with opener(dataset.filename) as out:
                yield  # the member is open: its header can leave before its first row
                for block in dataset_bytes(dataset.name, stats=stats, today=today):
                    out.write(block)
                    yield
            all_stats.append(stats)
        stats = FileStats(datasets.DICTIONARY_FILENAME)
        with opener(datasets.DICTIONARY_FILENAME) as out:
            for block in dictionary_bytes(stats=stats):
                out.write(block)
                yield
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


class _Pipe(io.RawIOBase):
    """An unseekable sink whose bytes are taken as soon as written (zipfile then writes
    each member with a data descriptor instead of seeking back)."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.chunks.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data, self.chunks = b"".join(self.chunks), []
        return data


ZIP_CHUNK = 64 * 1024


def study_zip_stream(*, user: Any, today: date | None = None) -> Iterator[bytes]:
    """The whole study as a zip, sent as it is written: the first bytes leave once the
    first rows are read, whatever the size of the study; memory stays flat."""
    pipe = _Pipe()
    archive = zipfile.ZipFile(pipe, "w", compression=zipfile.ZIP_DEFLATED)
    first = True
    for _ in _study_steps(
        lambda name: archive.open(name, "w", force_zip64=True), user=user, today=today
    ):
        # The first member's header goes at once, so the download starts before anything
        # is compressed; then a chunk whenever one is ready.
        if first or sum(len(c) for c in pipe.chunks) >= ZIP_CHUNK:
            first = False
            yield pipe.take()
    archive.close()
    yield pipe.take()


def study_zip(*, user: Any, today: date | None = None) -> tuple[IO[bytes], DataExport]:
    """The whole study as a zip in a temporary file (deleted when closed), rewound: for
    callers that need the file whole; the web download streams (study_zip_stream)."""
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
