"""Check an archive against its manifest; exits non-zero naming each file that differs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from exchange.standards.archive import archive_verify


class Command(BaseCommand):
    help = (
        "Verify the archive in DIR against its manifest.csv: every listed file present with "
        "the same sha256, and no file unlisted. Exits 1 and names each file otherwise."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", type=Path, metavar="DIR")

    def handle(self, *args: Any, directory: Path, **options: Any) -> None:
        problems = archive_verify(directory)
        if problems:
            for problem in problems:
                self.stderr.write(str(problem))
            raise CommandError(f"The archive in {directory} does not match its manifest.")
        self.stdout.write(self.style.SUCCESS(f"The archive in {directory} matches its manifest."))
