"""Write one PDF casebook per participant into a directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from exchange.standards.casebook import casebooks_write


class Command(BaseCommand):
    help = (
        "Write each participant's casebook (every form with its values and audit trail, "
        "queries, SDV state, signatures) as PDF into DIR. Needs WeasyPrint's system "
        "libraries (pango) and, for Chinese text, the Noto CJK fonts."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", type=Path, metavar="DIR")
        parser.add_argument(
            "--subject",
            action="append",
            dest="subjects",
            metavar="SUBJECT_ID",
            help="Only this participant (repeatable).",
        )

    def handle(
        self, *args: Any, directory: Path, subjects: list[str] | None, **options: Any
    ) -> None:
        paths = casebooks_write(directory, subject_ids=subjects)
        self.stdout.write(self.style.SUCCESS(f"Wrote {len(paths)} casebooks into {directory}."))
