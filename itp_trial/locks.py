"""Locks (protocol section 8): a locked record refuses every write, from every path.

Two locks exist: the database lock (a row of `DatabaseLock` here, at the bottom, so any app
can see it) and a participant's casebook lock (`subjects.Participant.locked_at`, kept by the
lock services with its own history in `subjects.CasebookLock`). The guard lives here, in the
base layer, so that every writer checks it without importing upwards:

- `audited_save` calls `lock_write_check` for every record it writes, so every service,
  and with them the forms, the CSV import, the lab upload and the commands, refuses a
  write to a locked casebook or to anything once the database is locked.
- Set-based writers (the schedule resync, the checks) leave locked participants out with
  `unlocked_participants`.

A model opts in by naming where its participant is (`lock_participant = "participant_id"`,
or `"pk"` for the participant itself); the lock records themselves do not, so that a data
manager can unlock. Flags are not casebook data: the checks may still raise and resolve
them on a locked casebook (an overdue SAE report must still be seen).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .audit import AuditedHistory, VersionedModel, write_guard_register

CASEBOOK_LOCKED = _(
    "This participant's casebook is locked, so nothing was saved. A data manager must unlock "
    "it, with a reason, before any change."
)
DATABASE_LOCKED = _(
    "The database is locked, so nothing was saved. A data manager must unlock it, with a "
    "reason, before any change."
)


class RecordLockedError(ValidationError):
    """A write to a locked record: nothing was written."""


class LockPeriod(VersionedModel):
    """A period of being locked, by whom, and its unlocking with a reason: open while
    `unlocked_at` is empty. The fields of both locks; each keeps its own table and history."""

    locked_at = models.DateTimeField(_("locked at"))
    locked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    unlocked_at = models.DateTimeField(_("unlocked at"), null=True, blank=True)
    unlocked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    unlock_reason = models.TextField(_("reason for unlocking"), blank=True)

    class Meta:
        abstract = True

    @staticmethod
    def one_open(field: str, *, name: str) -> models.UniqueConstraint:
        """At most one open period for each value of `field`."""
        return models.UniqueConstraint(
            fields=[field], condition=models.Q(unlocked_at__isnull=True), name=name
        )


class DatabaseLock(LockPeriod):
    """One period of the whole database being locked; open while `unlocked_at` is empty."""

    history = AuditedHistory()

    class Meta:
        app_label = "itp_trial"
        ordering = ["-locked_at", "-id"]
        verbose_name = _("database lock")
        permissions = [("lock_database", "Can lock and unlock the database")]
        # One open lock: every open row has the same (empty) `unlocked_at`.
        constraints = [LockPeriod.one_open("unlocked_at", name="database_lock_one_open")]

    def __str__(self) -> str:
        return f"database lock {self.locked_at:%Y-%m-%d %H:%M}"


def database_lock_current() -> DatabaseLock | None:
    return DatabaseLock.objects.filter(unlocked_at__isnull=True).first()


def database_locked() -> bool:
    return DatabaseLock.objects.filter(unlocked_at__isnull=True).exists()


def _participant_model(instance: models.Model) -> tuple[type[models.Model], Any] | None:
    """The participant model and id of a lockable record, found through the record's own
    key (no import of the app that defines it)."""
    where = getattr(type(instance), "lock_participant", None)
    if where is None:
        return None
    if where == "pk":
        return type(instance), instance.pk
    field = instance._meta.get_field(where.removesuffix("_id"))
    return field.related_model, getattr(instance, where)


def lock_write_check(instance: models.Model, *, stored: models.Model | None = None) -> None:
    """Refuse writing `instance` when the database or its participant's casebook is locked."""
    found = _participant_model(instance)
    if found is None:
        return
    if database_locked():
        raise RecordLockedError(gettext(DATABASE_LOCKED), code="locked")
    model, participant_id = found
    if participant_id is None:
        return
    if stored is not None and model is type(instance):
        locked = getattr(stored, "locked_at", None) is not None
    else:
        locked = model._default_manager.filter(
            pk=participant_id, locked_at__isnull=False
        ).exists()
    if locked:
        raise RecordLockedError(gettext(CASEBOOK_LOCKED), code="locked")


def participants_write_check(*, participant_model: type[models.Model], ids: Iterable[int]) -> None:
    """The same guard for a write about several participants at once (set-based writers)."""
    if database_locked():
        raise RecordLockedError(gettext(DATABASE_LOCKED), code="locked")
    if participant_model._default_manager.filter(
        pk__in=list(ids), locked_at__isnull=False
    ).exists():
        raise RecordLockedError(gettext(CASEBOOK_LOCKED), code="locked")


def unlocked_participants(
    queryset: models.QuerySet, *, field: str = "participant"
) -> models.QuerySet:
    """`queryset` without the rows of locked casebooks, and empty under a database lock.

    `field` is the path to the participant ("" for a queryset of participants)."""
    if database_locked():
        return queryset.none()
    prefix = f"{field}__" if field else ""
    return queryset.filter(**{f"{prefix}locked_at__isnull": True})


# Every audited_save asks this guard first (the registry keeps audit.py free of this module).
write_guard_register(lock_write_check)
