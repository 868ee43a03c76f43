"""The app's models: the head of the audit hash chain (itp_trial.audit), the database
lock (itp_trial.locks) and each user's preferences (the interface language,
itp_trial.language). The module also makes Django
send this app post_migrate, also after a flush, which keeps the four roles and their
permissions in place (itp_trial.apps)."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .audit import AuditChainHead
from .locks import DatabaseLock

__all__ = ["AuditChainHead", "DatabaseLock", "UserPreference"]


class UserPreference(models.Model):
    """A user's own settings, kept with the account: for now the interface language.

    Not clinical data: the user changes it at will (the language switcher), no reason asked.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="preference",
        verbose_name=_("user"),
    )
    language = models.CharField(
        _("interface language"), max_length=16, choices=settings.LANGUAGES, blank=True
    )

    class Meta:
        verbose_name = _("user preference")
        verbose_name_plural = _("user preferences")

    def __str__(self) -> str:
        return f"{self.user} · {self.language or '-'}"
