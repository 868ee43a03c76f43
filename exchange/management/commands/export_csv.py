"""Write every dataset, the data dictionary and the manifest into a directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from exchange.export import study_directory


class Command(BaseCommand):
    help = (
        "Export the whole study into DIR as <dataset>.csv files, data_dictionary.csv and "
        "manifest.csv (rows and sha256 of each file). The export is recorded in the audit "
        "trail, under --user when given."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", type=Path, metavar="DIR")
        parser.add_argument(
            "--user", metavar="USERNAME", help="Who takes the export (recorded with it)."
        )

    def handle(self, *args: Any, directory: Path, user: str | None, **options: Any) -> None:
        exporter = None
        if user:
            exporter = get_user_model().objects.filter(username=user).first()
            if exporter is None:
                raise CommandError(f"No user {user!r}.")
        export = study_directory(directory, user=exporter)
        for entry in export.manifest:
            self.stdout.write(f"{entry['file']:<24} {entry['rows']:>9} rows  {entry['sha256']}")
        self.stdout.write(self.style.SUCCESS(f"Exported into {directory} (export #{export.pk})."))
