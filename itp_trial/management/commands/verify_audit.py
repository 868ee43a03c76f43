"""Recompute the audit hash chain; name the first entry that does not match."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from itp_trial.audit import audit_seal, audit_verify


class Command(BaseCommand):
    help = "Seal new audit entries, then recompute the whole hash chain and report the first break."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--no-seal", action="store_true", help="Only verify; leave new entries unsealed."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["no_seal"]:
            sealed = audit_seal()
            if sealed:
                self.stdout.write(f"sealed {sealed} new entries")
        result = audit_verify()
        if not result.ok:
            raise CommandError(f"audit chain broken: {result.problem}")
        self.stdout.write(
            f"audit chain intact: {result.entries} entries, head {result.head_seq} "
            f"{result.head_hash}"
        )
