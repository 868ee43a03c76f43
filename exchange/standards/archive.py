"""The sealed archive of protocol section 8: everything the study holds, with a manifest.

`archive_write(dir)` writes, under one database snapshot:

    csv/          every dataset (the audit trail among them), the data dictionary and the
                  CSV export's own manifest, exactly as the Exports page gives them
    odm/          the study as CDISC ODM 1.3.2 XML (metadata, data, audit, signatures)
    sdtm/         the SDTM domains as .xpt and .csv, with define.xml
    casebooks/    one PDF casebook per participant
    manifest.csv  path, bytes and sha256 of every other file

`archive_verify(dir)` re-hashes the files against manifest.csv and names each one that
changed, is missing or is not listed.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from ..export import _snapshot, study_directory
from .casebook import casebooks_write
from .odm import odm_write
from .sdtm.build import study_domains
from .sdtm.write import sdtm_write

MANIFEST = "manifest.csv"
MANIFEST_HEADER = ("path", "bytes", "sha256")
ODM_FILE = "odm/study_odm.xml"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


def _files(directory: Path) -> list[str]:
    return sorted(
        p.relative_to(directory).as_posix()
        for p in directory.rglob("*")
        if p.is_file() and p.relative_to(directory).as_posix() != MANIFEST
    )


def archive_write(directory: Path, *, user: Any = None) -> Path:
    """Write the archive into `directory` (new or empty); returns the manifest's path."""
    directory = Path(directory)
    if directory.exists() and any(directory.iterdir()):
        raise ValidationError(
            _("%(dir)s is not empty; an archive is written into a new folder.") % {"dir": directory}
        )
    directory.mkdir(parents=True, exist_ok=True)
    with _snapshot():
        study_directory(directory / "csv", user=user)
        odm = directory / ODM_FILE
        odm.parent.mkdir()
        with open(odm, "wb") as out:
            odm_write(out)
        sdtm_write(directory / "sdtm", study_domains())
        casebooks_write(directory / "casebooks")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(MANIFEST_HEADER)
    for name in _files(directory):
        path = directory / name
        writer.writerow([name, path.stat().st_size, file_sha256(path)])
    manifest = directory / MANIFEST
    manifest.write_text(buffer.getvalue(), encoding="utf-8")
    return manifest


@dataclass(frozen=True)
class Problem:
    path: str
    kind: str  # changed, missing or unlisted

    def __str__(self) -> str:
        messages = {
            "changed": _("%(path)s: changed since the archive was sealed (sha256 differs)"),
            "missing": _("%(path)s: missing"),
            "unlisted": _("%(path)s: not in the manifest"),
            "no_manifest": _("%(path)s: no manifest; this is not a sealed archive"),
        }
        return messages[self.kind] % {"path": self.path}


def archive_verify(directory: Path) -> list[Problem]:
    """Every file that does not match the manifest; empty when the archive is intact."""
    directory = Path(directory)
    manifest = directory / MANIFEST
    if not manifest.is_file():
        return [Problem(MANIFEST, "no_manifest")]
    with open(manifest, encoding="utf-8", newline="") as f:
        listed = {row["path"]: row["sha256"] for row in csv.DictReader(f)}
    problems = []
    for name, sha256 in listed.items():
        path = directory / name
        if not path.is_file():
            problems.append(Problem(name, "missing"))
        elif file_sha256(path) != sha256:
            problems.append(Problem(name, "changed"))
    problems += [Problem(name, "unlisted") for name in _files(directory) if name not in listed]
    return problems
