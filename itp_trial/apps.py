from django.apps import AppConfig
from django.db.models.signals import post_migrate, post_save
from django.utils.translation import gettext_lazy as _


class ItpTrialConfig(AppConfig):
    name = "itp_trial"
    verbose_name = _("ITP trial")

    def ready(self) -> None:
        from . import language  # noqa: F401  (connects the login-page language choice)
        from .accounts import superuser_limit
        from .audit import history_saved
        from .roles import roles_sync_after_migrate

        # Keeps the four groups' permissions in step with roles.py after every migrate.
        post_migrate.connect(roles_sync_after_migrate, dispatch_uid="itp_trial.roles_sync")
        # Every audit entry written takes its place in the hash chain once its transaction
        # commits (set-based writers ask for it themselves: bulk inserts send no signal).
        post_save.connect(history_saved, dispatch_uid="itp_trial.audit_seal")
        # A superuser holds account management only; clinical permissions come from a role.
        superuser_limit()
