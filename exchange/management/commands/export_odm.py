"""Write the study as one CDISC ODM 1.3.2 XML file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from exchange.standards.odm import odm_write


class Command(BaseCommand):
    help = (
        "Export the study's metadata and every participant's data, with audit records and "
        "signatures, as CDISC ODM 1.3.2 XML into FILE."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, metavar="FILE")

    def handle(self, *args: Any, file: Path, **options: Any) -> None:
        file.parent.mkdir(parents=True, exist_ok=True)
        with open(file, "wb") as out:
            count = odm_write(out)
        self.stdout.write(self.style.SUCCESS(f"Wrote {file} ({count} participants)."))
