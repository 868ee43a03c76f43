"""Write the sealed archive (datasets, ODM, SDTM with Define-XML, casebooks, manifest)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from exchange.standards.archive import archive_write


class Command(BaseCommand):
    help = (
        "Write the archive into DIR (new or empty): every dataset with the audit trail, "
        "ODM, SDTM with define.xml, the PDF casebooks and manifest.csv with each file's sha256."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", type=Path, metavar="DIR")

    def handle(self, *args: Any, directory: Path, **options: Any) -> None:
        try:
            manifest = archive_write(directory)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        files = len(manifest.read_text(encoding="utf-8").splitlines()) - 1
        self.stdout.write(
            self.style.SUCCESS(f"Wrote the archive into {directory} ({files} files).")
        )
