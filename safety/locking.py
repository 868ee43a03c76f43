"""Locking a participant's casebook and the whole database (protocol section 8).

A data manager locks a casebook once it is signed (a current signature), its queries are
closed and its forms verified; the lock page says what is missing. Unlocking needs a reason
and makes the signature stale. Locking the database asks the exchange layer for the sealed
archive (the task `exchange.archive_build`, found by name). The guard that refuses writes
to a locked record is in the base layer (itp_trial.locks).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, F, Q, TextField, Value
from django.utils import timezone
from django.utils.translation import gettext as _

from itp_trial.audit import audited_save, history_insert_select, history_recorded_ids
from itp_trial.locks import DatabaseLock, database_lock_current, database_locked
from itp_trial.tasks import task_enqueue_on_commit
from subjects.models import CasebookLock, Participant, Signature

from .casebook import SignatureState, signature_states
from .checks import signature_flags_sync
from .models import DataQuery
from .sdv import sdv_progress

LOCK_CASEBOOK_PERMISSION = "subjects.lock_casebook"  # data managers
LOCK_DATABASE_PERMISSION = "itp_trial.lock_database"  # data managers
ARCHIVE_BUILD = "exchange.archive_build"  # registered by the exchange layer
UNLOCK_STALE_REASON = "Casebook unlocked: %(reason)s"
DATABASE_UNLOCK_STALE_REASON = "Database unlocked: %(reason)s"


@dataclass
class Readiness:
    """What a casebook still lacks before it can be locked."""

    signature: SignatureState
    open_queries: list[DataQuery] = field(default_factory=list)
    unverified_forms: int = 0

    @property
    def missing(self) -> list[str]:
        found = []
        if not self.signature.current:
            found.append(
                _("a current investigator signature (now: %(state)s)")
                % {"state": self.signature.label}
            )
        if self.open_queries:
            found.append(_("queries closed (%(n)s not closed)") % {"n": len(self.open_queries)})
        if self.unverified_forms:
            found.append(_("forms verified (%(n)s not verified)") % {"n": self.unverified_forms})
        return found

    @property
    def ready(self) -> bool:
        return not self.missing


def queries_not_closed(participant_ids: Iterable[int]) -> dict[int, list[DataQuery]]:
    """Each participant's queries that are not closed (open or answered): one query."""
    ids = list(participant_ids)
    found: dict[int, list[DataQuery]] = {pk: [] for pk in ids}
    queries = (
        DataQuery.objects.filter(participant_id__in=ids, closed_at__isnull=True)
        .select_related("visit", "raised_by")
        .order_by("participant_id", "raised_at", "pk")
    )
    for query in queries:
        found[query.participant_id].append(query)
    return found


def unverified_form_counts(participant_ids: Iterable[int]) -> dict[int, int]:
    """Forms not verified at their current version (never, or changed since), per
    participant: one query per kind of record (safety.sdv)."""
    ids = list(participant_ids)
    progress = sdv_progress(participant_ids=ids)
    return {pk: progress[pk].left if pk in progress else 0 for pk in ids}


def casebook_readiness(participant_ids: Iterable[int]) -> dict[int, Readiness]:
    """What each casebook lacks before locking: a fixed number of queries."""
    ids = sorted(set(participant_ids))
    states = signature_states(ids)
    queries = queries_not_closed(ids)
    unverified = unverified_form_counts(ids)
    return {
        pk: Readiness(
            signature=states[pk],
            open_queries=queries[pk],
            unverified_forms=unverified[pk],
        )
        for pk in ids
    }


def _check(user: Any, permission: str) -> None:
    if not user.has_perm(permission):
        raise PermissionDenied(_("Only a data manager can lock or unlock."))


@transaction.atomic
def casebook_lock(*, participant_id: int, user: Any, now: datetime | None = None) -> CasebookLock:
    """Lock the participant's casebook: refused while anything is missing (the readiness)."""
    _check(user, LOCK_CASEBOOK_PERMISSION)
    participant = Participant.objects.select_for_update().get(pk=participant_id)
    if database_locked():
        raise ValidationError(_("The database is locked: every casebook is locked with it."))
    if participant.locked_at is not None:
        raise ValidationError(_("This casebook is already locked."))
    readiness = casebook_readiness([participant.pk])[participant.pk]
    if not readiness.ready:
        raise ValidationError(
            _("The casebook cannot be locked yet. Missing: %(missing)s.")
            % {"missing": "; ".join(readiness.missing)}
        )
    now = now or timezone.now()
    lock = CasebookLock(participant=participant, locked_at=now, locked_by=user)
    audited_save(lock, user=user)
    Participant.objects.filter(pk=participant.pk).update(locked_at=now)
    return lock


@transaction.atomic
def casebook_unlock(
    *, participant_id: int, user: Any, reason: str, now: datetime | None = None
) -> CasebookLock:
    """Unlock the casebook, with a reason; its signature becomes stale and is flagged."""
    _check(user, LOCK_CASEBOOK_PERMISSION)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Say why the casebook is unlocked.")})
    participant = Participant.objects.select_for_update().get(pk=participant_id)
    if database_locked():
        raise ValidationError(_("The database is locked: unlock the database first."))
    lock = CasebookLock.objects.filter(participant=participant, unlocked_at__isnull=True).first()
    if lock is None or participant.locked_at is None:
        raise ValidationError(_("This casebook is not locked."))
    now = now or timezone.now()
    lock.unlocked_at, lock.unlocked_by, lock.unlock_reason = now, user, reason
    audited_save(lock, user=user, reason=reason)
    Participant.objects.filter(pk=participant.pk).update(locked_at=None)
    signatures_stale(
        participant_ids=[participant.pk],
        reason=UNLOCK_STALE_REASON % {"reason": reason},
        user=user,
        now=now,
    )
    signature_flags_sync(participant_ids=[participant.pk], now=now)
    return lock


def signatures_stale(
    *, participant_ids: list[int] | None, reason: str, user: Any, now: datetime
) -> int:
    """Mark the current signatures of these participants (everyone for None) stale, with
    history: one INSERT ... SELECT and one UPDATE."""
    target = Signature.objects.filter(stale_at__isnull=True)
    if participant_ids is not None:
        target = target.filter(participant_id__in=participant_ids)
    values = {
        "stale_at": Value(now),
        "stale_reason": Value(reason, output_field=TextField()),
        "version": F("version") + 1,
    }
    history_insert_select(
        model=Signature,
        queryset=target,
        history_type="~",
        reason=reason,
        at=now,
        overrides=values,
        user_id=user.pk,
    )
    recorded = history_recorded_ids(model=Signature, history_type="~", reason=reason, at=now)
    return target.filter(pk__in=recorded).update(**values)


@transaction.atomic
def database_lock(*, user: Any, now: datetime | None = None) -> DatabaseLock:
    """Lock the whole database and ask the exchange layer for the sealed archive."""
    _check(user, LOCK_DATABASE_PERMISSION)
    if database_locked():
        raise ValidationError(_("The database is already locked."))
    now = now or timezone.now()
    lock = DatabaseLock(locked_at=now, locked_by=user)
    audited_save(lock, user=user)
    # The archive is built by the exchange layer, after the commit; if that task is not
    # registered, the enqueue logs it and the lock stands.
    task_enqueue_on_commit(ARCHIVE_BUILD, lock_id=lock.pk)
    return lock


@transaction.atomic
def database_unlock(*, user: Any, reason: str, now: datetime | None = None) -> DatabaseLock:
    """Unlock the database, with a reason: every current signature becomes stale."""
    _check(user, LOCK_DATABASE_PERMISSION)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Say why the database is unlocked.")})
    lock = database_lock_current()
    if lock is None:
        raise ValidationError(_("The database is not locked."))
    now = now or timezone.now()
    lock.unlocked_at, lock.unlocked_by, lock.unlock_reason = now, user, reason
    audited_save(lock, user=user, reason=reason)
    signatures_stale(
        participant_ids=None,
        reason=DATABASE_UNLOCK_STALE_REASON % {"reason": reason},
        user=user,
        now=now,
    )
    signature_flags_sync(participant_ids=None, now=now)
    return lock


def lock_summary() -> dict[str, int]:
    """Counts for the database lock page: participants, casebooks locked (one query)."""
    return Participant.objects.aggregate(
        participants=Count("pk"), locked=Count("pk", filter=Q(locked_at__isnull=False))
    )
