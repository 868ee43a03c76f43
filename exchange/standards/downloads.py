"""The standards files as downloads: ODM XML and the SDTM zip, spooled then streamed.

Each download is recorded as a `DataExport` with the file's sha256, like the CSV exports,
so the audit trail lists who took the standards files and when.
"""

from __future__ import annotations

import hashlib
import tempfile
import zipfile
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from django.utils import timezone

from itp_trial import protocol

from ..cells import format_value
from ..export import export_record
from ..models import DataExport
from .odm import odm_write
from .sdtm.build import study_domains
from .sdtm.write import sdtm_write

ODM_NAME = "odm"
SDTM_NAME = "sdtm"


def _sha256(spool: IO[bytes]) -> str:
    spool.seek(0)
    digest = hashlib.sha256()
    for block in iter(lambda: spool.read(64 * 1024), b""):
        digest.update(block)
    spool.seek(0)
    return digest.hexdigest()


def _stamp(at: datetime) -> str:
    return f"{timezone.localtime(at):%Y%m%d_%H%M%S}"


def _recorded(export: DataExport, filename: str, spool: IO[bytes], rows: int) -> None:
    export.manifest = [
        {
            "file": filename,
            "rows": rows,
            "sha256": _sha256(spool),
            "exported_at": format_value(export.exported_at),
            "exported_by": export.exported_by.username if export.exported_by else "",
        }
    ]
    export.save(update_fields=["manifest"])


def odm_download(*, user: Any) -> tuple[IO[bytes], str]:
    """The ODM document in a temporary file (deleted when closed), rewound; its file name."""
    export = export_record(user=user, names=[ODM_NAME])
    filename = f"{protocol.REGISTRY_ID}_odm_{_stamp(export.exported_at)}.xml"
    spool = tempfile.TemporaryFile()
    participants = odm_write(spool)
    _recorded(export, filename, spool, participants)
    return spool, filename


def sdtm_download(*, user: Any) -> tuple[IO[bytes], str]:
    """The SDTM datasets (.xpt, .csv) and define.xml as a zip in a temporary file, rewound."""
    export = export_record(user=user, names=[SDTM_NAME])
    filename = f"{protocol.REGISTRY_ID}_sdtm_{_stamp(export.exported_at)}.zip"
    tables = study_domains()
    spool = tempfile.TemporaryFile()
    with (
        tempfile.TemporaryDirectory() as work,
        zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_DEFLATED) as archive,
    ):
        for path in sdtm_write(Path(work), tables):
            archive.write(path, arcname=path.name)
    _recorded(export, filename, spool, sum(len(rows) for rows in tables.values()))
    return spool, filename
