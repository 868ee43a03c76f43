"""Write the SDTM datasets (.xpt and .csv) with define.xml into a directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from exchange.standards.sdtm.build import study_domains
from exchange.standards.sdtm.write import sdtm_write


class Command(BaseCommand):
    help = (
        "Export SDTM DM, SV, EX, LB, AE, CM, DS, DV, TV and their SUPP-- datasets into DIR, "
        "each as SAS transport v5 (.xpt) and CSV, with define.xml (Define-XML 2.1)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", type=Path, metavar="DIR")

    def handle(self, *args: Any, directory: Path, **options: Any) -> None:
        tables = study_domains()
        for path in sdtm_write(directory, tables):
            self.stdout.write(str(path.name))
        counts = ", ".join(f"{name} {len(rows)}" for name, rows in tables.items())
        self.stdout.write(self.style.SUCCESS(f"Wrote SDTM into {directory}: {counts}."))
