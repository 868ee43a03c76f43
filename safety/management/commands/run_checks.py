"""Run the background checks of protocol section 6 once, synchronously."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from safety.checks import RAISED, REOPENED, RESOLVED, checks_run
from safety.models import FlagKind


class Command(BaseCommand):
    help = (
        "Raise and resolve the flags of protocol section 6 now, as the hourly task does, "
        "and print the counts. --full also recomputes every participant's schedule first, "
        "as the nightly pass does."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--full",
            action="store_true",
            help="Recompute the stored schedule of every participant before the checks.",
        )
        parser.add_argument(
            "--participant",
            type=int,
            action="append",
            dest="participant_ids",
            metavar="ID",
            help="Restrict the run to this participant (database id); may be repeated.",
        )

    def handle(self, *args: Any, full: bool, participant_ids: list[int] | None, **options: Any):
        counts = checks_run(participant_ids=participant_ids, full=full)
        width = max(len(k) for k in FlagKind.values)
        self.stdout.write(f"{'flag':<{width}}  raised  resolved  reopened")
        for kind in FlagKind.values:
            c = counts[kind]
            self.stdout.write(
                f"{kind:<{width}}  {c[RAISED]:>6}  {c[RESOLVED]:>8}  {c[REOPENED]:>8}"
            )
        total = sum(c[RAISED] for c in counts.values())
        self.stdout.write(
            self.style.SUCCESS(
                f"Checks done ({'full pass' if full else 'hourly'}): {total} raised."
            )
        )
