"""The audit trail: every clinical record keeps full history, with the user and a reason.

Creating a record needs no reason; every later change does. Clinical records are never
hard-deleted: the model and its querysets refuse it.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

REASON_REQUIRED = _("A reason for change is required to change a saved record.")


class ClinicalRecordDeletionError(Exception):
    """Raised on any attempt to hard-delete a clinical record."""


class ClinicalQuerySet(models.QuerySet):
    def delete(self) -> Any:
        raise ClinicalRecordDeletionError("Clinical records are never deleted.")


class ClinicalModel(models.Model):
    """Base of every clinical record: no hard delete, history on each concrete model."""

    objects = ClinicalQuerySet.as_manager()

    class Meta:
        abstract = True

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise ClinicalRecordDeletionError("Clinical records are never deleted.")


def changed_fields(instance: models.Model) -> dict[str, tuple[Any, Any]]:
    """The concrete fields whose value differs from the stored row: {name: (old, new)}."""
    if instance._state.adding or instance.pk is None:
        return {}
    stored = type(instance)._default_manager.filter(pk=instance.pk).first()
    if stored is None:
        return {}
    changes = {}
    for field in instance._meta.concrete_fields:
        old, new = field.value_from_object(stored), field.value_from_object(instance)
        if old != new:
            changes[field.name] = (old, new)
    return changes


def audited_save(instance: models.Model, *, user: Any, reason: str = "") -> bool:
    """Validate and save `instance`, recording `user` and `reason` in its history.

    A new record needs no reason; a change to a stored one does, and is refused without one
    (nothing is written). An unchanged record is not saved again. Returns whether it wrote.
    """
    reason = (reason or "").strip()
    adding = instance._state.adding
    if not adding:
        if not changed_fields(instance):
            return False
        if not reason:
            raise ValidationError({"reason": REASON_REQUIRED})
    instance.full_clean()
    instance._history_user = user if getattr(user, "is_authenticated", False) else None
    instance._change_reason = reason
    instance.save()
    return True
