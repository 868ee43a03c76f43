import logging

from django.conf import settings
from django.core import mail
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.test.utils import override_settings

from demo.scenario import DEMO_PASSWORD, DEMO_USERS
from demo.seed import demo_seed
from safety.checks import checks_run


class Command(BaseCommand):
    help = "Load the demo trial and one user per role. Running it twice adds nothing."

    def handle(self, *args, **options) -> None:
        if not settings.DEMO_DATA_ALLOWED:
            # The demo's accounts share a published password, and its trial is fiction.
            raise CommandError(
                "seed_demo refuses to run under production settings: it would create an "
                "'admin' superuser and one account per role with the published demo password, "
                "and a fictional trial. Nothing was written. Use the development settings "
                "(itp_trial.settings.dev) for a demo."
            )
        # The checks' notifications are kept, not printed: a whole e-mail in the output reads
        # as an error to a newcomer. They are counted instead. Tasks run in-process, so
        # kombu's "No hostname was supplied" warning says nothing here either.
        kombu = logging.getLogger("kombu.connection")
        level = kombu.level
        kombu.setLevel(logging.ERROR)
        try:
            with override_settings(
                EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"
            ):
                mail.outbox = []
                with transaction.atomic():
                    result = demo_seed()
                checks_run(full=True)
                notifications = len(mail.outbox)
        finally:
            kombu.setLevel(level)
        if notifications:
            self.stdout.write(
                f"Background checks run; {notifications} notification e-mail(s) prepared for "
                "the investigators (not sent by the demo)."
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo trial: {result['participants']} participants "
                f"({result['participants_created']} new)."
            )
        )
        self.stdout.write(f"Demo users (password for all: {DEMO_PASSWORD}):")
        for username, role, _first, _last in DEMO_USERS:
            self.stdout.write(f"  {username:<13} {role}")
        self.stdout.write("  admin         superuser (Django admin: unlock accounts, users)")
