from django.core import mail
from django.core.management.base import BaseCommand
from django.db import transaction
from django.test.utils import override_settings

from demo.scenario import DEMO_PASSWORD, DEMO_USERS
from demo.seed import demo_seed
from safety.checks import checks_run


class Command(BaseCommand):
    help = "Load the demo trial and one user per role. Running it twice adds nothing."

    def handle(self, *args, **options) -> None:
        # The checks' notifications are kept, not printed: a whole e-mail in the output reads
        # as an error to a newcomer. They are counted instead.
        with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
            mail.outbox = []
            with transaction.atomic():
                result = demo_seed()
            checks_run(full=True)
            notifications = len(mail.outbox)
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
