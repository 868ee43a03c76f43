"""The import's files read streamed, and the new participants' rows held on disk.

A file is given as its bytes, its text, or its path (the command's: read from the disk as
it goes, never held whole). It is checked first (UTF-8, no NUL byte), then read record by
record. The rows of participants new to the database are not kept in memory: each record
is written, unparsed, to a temporary file of its chunk of participants (`Spool`) and parsed
when that chunk is judged, so that the memory an import needs does not grow with its rows.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import pickle
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from typing import IO, Any

from django.utils.translation import gettext as _

from .. import datasets
from .parse import (
    NUL,
    CellError,
    Header,
    Issue,
    ParsedRow,
    duplicate_issue,
    duplicates,
    header_read,
    nul_issues,
    parse_cell,
    parse_row,
    records,
)

Content = bytes | str | os.PathLike
BLOCK = 1 << 20  # bytes read at a time
BOM = codecs.BOM_UTF8


@contextmanager
def _binary(content: bytes | os.PathLike) -> Iterator[IO[bytes]]:
    if isinstance(content, bytes):
        yield io.BytesIO(content)
    else:
        with open(content, "rb") as stream:
            yield stream


def text_issues(file: str, content: Content) -> list[Issue]:
    """The refusals of a file that cannot be read as text: not UTF-8 (at which byte, the
    byte order mark not counted), or a NUL byte on some lines (one refusal per line)."""
    if isinstance(content, str):
        return nul_issues(file, content.split("\n")) if NUL in content else []
    with _binary(content) as stream:
        decoder = codecs.getincrementaldecoder("utf-8")()
        at, nul, first = 0, False, True
        while block := stream.read(BLOCK):
            if first:
                block, first = block.removeprefix(BOM), False
            pending = len(decoder.getstate()[0])
            try:
                decoder.decode(block)
            except UnicodeDecodeError as error:
                return [_not_utf8(file, at - pending + error.start)]
            at += len(block)
            nul = nul or b"\x00" in block
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as error:
            return [_not_utf8(file, at - len(decoder.getstate()[0]) + error.start)]
        if not nul:
            return []
        stream.seek(0)
        return nul_issues(file, (line.decode("utf-8-sig") for line in stream))


def _not_utf8(file: str, at: int) -> Issue:
    return Issue(file, None, None, "", _("The file is not UTF-8 (byte %(at)s).") % {"at": at})


@contextmanager
def csv_reader(content: Content) -> Iterator[Any]:
    """A csv.reader over the file's text (checked by `text_issues` first)."""
    if isinstance(content, str):
        yield csv.reader(io.StringIO(content.removeprefix("\ufeff"), newline=""))
        return
    with _binary(content) as stream:
        text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
        try:
            yield csv.reader(text)
        finally:
            text.detach()


# One record held on disk: (dataset's place in the import order, row, line, its cells).
Record = tuple[int, int, int, list[str]]


class Spool:
    """The records of the new participants, by chunk, in temporary files: each chunk's read
    back in the order written. Only a few records per chunk are held in memory, before
    they are written."""

    BUFFER = 64

    def __init__(self) -> None:
        self._files: dict[int, IO[bytes]] = {}
        self._pending: dict[int, list[Record]] = {}

    def add(self, chunk: int, record: Record) -> None:
        pending = self._pending.setdefault(chunk, [])
        pending.append(record)
        if len(pending) >= self.BUFFER:
            self._flush(chunk)

    def _flush(self, chunk: int) -> None:
        pending = self._pending.pop(chunk, None)
        if not pending:
            return
        if chunk not in self._files:
            self._files[chunk] = tempfile.TemporaryFile()
        pickle.dump(pending, self._files[chunk], protocol=pickle.HIGHEST_PROTOCOL)

    def read(self, chunk: int) -> Iterator[Record]:
        """The chunk's records, in the order added; its file closed (removed) after."""
        self._flush(chunk)
        stream = self._files.pop(chunk, None)
        if stream is None:
            return
        with stream:
            stream.seek(0)
            while True:
                try:
                    batch = pickle.load(stream)
                except EOFError:
                    return
                yield from batch

    def close(self) -> None:
        for stream in self._files.values():
            stream.close()
        self._files.clear()
        self._pending.clear()


class Files:
    """The import's files read: the rows of participants not new to the database (stored,
    unknown, or refused) parsed and held, by dataset; the new participants' held on disk
    by chunk of `chunk` participants (in subjects.csv's order), parsed by `chunks`. Every
    refusal of a cell, a record, a header or a duplicate key goes into `issues`."""

    def __init__(
        self,
        files: dict[str, Content],
        *,
        order: Sequence[str],
        today: date,
        issues: list[Issue],
        chunk: int,
    ) -> None:
        self.files = files
        self.order = [name for name in order if name in files]
        self.today = today
        self.issues = issues
        self.chunk = chunk
        self.others: dict[str, list[ParsedRow]] = {name: [] for name in order}
        self.refused_subjects: dict[str, ParsedRow] = {}
        self.headers: dict[str, Header] = {}
        self.chunk_of: dict[str, int] = {}  # a new participant's chunk
        self.numbers: set[str] = set()  # the screening numbers subjects.csv gives
        self.chunks = 0
        self.spool = Spool()
        self.spooled: Counter[str] = Counter()  # the new participants' rows, by dataset

    def read(self, new_of: Callable[[Iterable[str]], set[str]]) -> None:
        """Read every file once (subjects.csv twice); `new_of`: which of these subject ids
        are new to the database (with bulk, the set-based path's; without, none)."""
        if "subjects" in self.files:
            self._subjects(new_of)
        for name in self.order:
            if name != "subjects":
                self._file(name)

    def _subjects(self, new_of: Callable[[Iterable[str]], set[str]]) -> None:
        dataset = datasets.DATASETS_BY_NAME["subjects"]
        good: dict[str, int] = {}  # each participant's row, when it is not refused
        seen: dict[str, int] = {}
        with csv_reader(self.files["subjects"]) as reader:
            header, found = header_read(dataset, reader)
            self.issues.extend(found)
            if header is None:
                return
            self.headers["subjects"] = header
            for number, line, record in records(dataset.filename, reader, self.issues):
                row = parse_row(header, number, line, record, today=self.today)
                subject_id = row.values.get("subject_id")
                if subject_id:
                    if subject_id in seen:
                        self.issues.append(duplicate_issue(row, seen[subject_id]))
                    else:
                        seen[subject_id] = number
                self.issues.extend(row.issues)
                if not row.ok:
                    if subject_id is not None:
                        self.refused_subjects[subject_id] = row
                    continue
                good[subject_id] = number
                if row.values.get("screening_number"):
                    self.numbers.add(row.values["screening_number"])
        del seen
        new = new_of(good)
        place = 0
        for subject_id in good:
            if subject_id in new:
                self.chunk_of[subject_id] = place // self.chunk
                place += 1
        self.chunks = -(-place // self.chunk)
        with csv_reader(self.files["subjects"]) as reader:
            next(reader)
            for number, line, record in records(dataset.filename, reader, []):
                subject_id = self._subject_id(header, record)
                if good.get(subject_id) != number:
                    continue  # refused: reported above
                if subject_id in self.chunk_of:
                    self.spool.add(self.chunk_of[subject_id], (0, number, line, record))
                    self.spooled["subjects"] += 1
                else:
                    self.others["subjects"].append(
                        parse_row(header, number, line, record, today=self.today)
                    )

    def _subject_id(self, header: Header, record: list[str]) -> str | None:
        """The record's participant, as its row would parse it (None: it does not)."""
        at = header.index.get("subject_id")
        if at is None or len(record) != header.width:
            return None
        cell = record[at]
        if cell in self.chunk_of:
            return cell
        try:
            return parse_cell(header.dataset.column("subject_id"), cell, today=self.today)
        except CellError:
            return None

    def _file(self, name: str) -> None:
        dataset = datasets.DATASETS_BY_NAME[name]
        position = self.order.index(name)
        held: list[ParsedRow] = []
        unreadable: list[Issue] = []
        with csv_reader(self.files[name]) as reader:
            header, found = header_read(dataset, reader)
            self.issues.extend(found)
            if header is None:
                return
            self.headers[name] = header
            for number, line, record in records(dataset.filename, reader, unreadable):
                chunk = self.chunk_of.get(self._subject_id(header, record))
                if chunk is not None:
                    self.spool.add(chunk, (position, number, line, record))
                    self.spooled[name] += 1
                else:
                    held.append(parse_row(header, number, line, record, today=self.today))
        self.issues.extend(unreadable)
        self._keep(name, held)

    def _keep(self, name: str, rows: list[ParsedRow]) -> None:
        """The rows' refusals reported (a duplicate key's first), the good ones kept."""
        self.issues.extend(duplicates(rows))
        for row in rows:
            self.issues.extend(row.issues)
        self.others[name].extend(row for row in rows if row.ok)

    def new_rows(self) -> Iterator[dict[str, list[ParsedRow]]]:
        """Each chunk's rows of the new participants, parsed, by dataset in file order;
        their refusals reported, the good rows given."""
        for chunk in range(self.chunks):
            rows: dict[str, list[ParsedRow]] = {}
            for position, number, line, record in self.spool.read(chunk):
                name = self.order[position]
                row = parse_row(self.headers[name], number, line, record, today=self.today)
                rows.setdefault(name, []).append(row)
            good: dict[str, list[ParsedRow]] = {}
            for name, given in rows.items():
                self.issues.extend(duplicates(given))
                for row in given:
                    self.issues.extend(row.issues)
                good[name] = [row for row in given if row.ok]
            del rows
            yield good

    def __enter__(self) -> Files:
        return self

    def __exit__(self, *exc: object) -> None:
        self.spool.close()
