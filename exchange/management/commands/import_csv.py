"""Import the contract CSV files of a directory, all or nothing, through the services."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from exchange.importer import IMPORT_ORDER, import_files


class Command(BaseCommand):
    help = (
        "Import every contract file present in DIR (subjects.csv, eligibility.csv, "
        "visits.csv, infusions.csv, platelets.csv, adverse_events.csv, conmeds.csv) in "
        "dependency order, through the same services as the forms, as --user. All or "
        "nothing: any refusal and nothing is saved; every refusal is printed with its file, "
        "row (data rows numbered from 1 after the header, with the physical line) and "
        "column. Rows equal to the stored records change nothing; a changed value needs "
        "--reason, which goes into the audit trail."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", type=Path, metavar="DIR")
        parser.add_argument(
            "--user",
            metavar="USERNAME",
            help=(
                "Who imports: every change is recorded under this user, who needs the "
                "permission to import (exchange.import_data), and whose permissions apply "
                "(discontinuing treatment needs an investigator's). Required."
            ),
        )
        parser.add_argument("--reason", default="", help="The reason for any changed value.")
        parser.add_argument(
            "--dry-run", action="store_true", help="Judge everything, then roll back."
        )

    def handle(
        self,
        *args: Any,
        directory: Path,
        user: str | None,
        reason: str,
        dry_run: bool,
        **options: Any,
    ) -> None:
        if not user:
            raise CommandError("Give --user: every change in the audit trail names its user.")
        importer = get_user_model().objects.filter(username=user, is_active=True).first()
        if importer is None:
            raise CommandError(f"No active user {user!r}.")
        if not importer.has_perm("exchange.import_data"):
            raise CommandError(f"{user} does not have the permission to import data.")
        if not directory.is_dir():
            raise CommandError(f"{directory} is not a directory.")
        # Paths: each file is read streamed, never held whole.
        files = {
            name: directory / f"{name}.csv"
            for name in IMPORT_ORDER
            if (directory / f"{name}.csv").is_file()
        }
        if not files:
            raise CommandError(f"No contract file in {directory}.")
        result = import_files(
            files=files,
            user=importer,
            reason=reason,
            preview=dry_run,
            source=str(directory),
            outcomes=False,  # counts and refusals are all it shows
        )
        for name, counts in result.counts().items():
            self.stdout.write(
                f"{name:<20} {counts['new']:>6} new  {counts['changed']:>6} changed  "
                f"{counts['unchanged']:>6} unchanged"
            )
        if result.issues:
            for issue in result.issues:
                self.stderr.write(str(issue))
            raise CommandError(
                f"{len(result.issues)} refusal(s): nothing was imported.", returncode=1
            )
        if dry_run:
            self.stdout.write(self.style.SUCCESS("Dry run: everything is valid; nothing saved."))
        else:
            self.stdout.write(
                self.style.SUCCESS(f"Imported {', '.join(files)} (import #{result.record.pk}).")
            )
