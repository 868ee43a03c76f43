from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class ItpTrialConfig(AppConfig):
    name = "itp_trial"
    verbose_name = _("ITP trial")

    def ready(self) -> None:
        from .roles import roles_sync_after_migrate

        # Keeps the four groups' permissions in step with roles.py after every migrate.
        post_migrate.connect(roles_sync_after_migrate, dispatch_uid="itp_trial.roles_sync")
