"""Casebook and database locks (protocol section 8): what a lock needs, unlocking with a
reason, the archive asked for at the database lock."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from itp_trial.locks import DatabaseLock, database_locked
from safety import locking
from safety.casebook import STALE, signature_states
from safety.checks import checks_run
from safety.locking import (
    casebook_lock,
    casebook_readiness,
    casebook_unlock,
    database_lock,
    database_unlock,
)
from safety.models import DataQuery, Flag, FlagKind
from subjects.models import CasebookLock, Participant
from tests.factories import signed

from .review_data import casebook, locked, verified

pytestmark = pytest.mark.django_db


@pytest.fixture
def participant(coordinator):
    return casebook(coordinator)


def test_it_says_what_is_missing_and_refuses_to_lock_until_it_is_there(
    participant, investigator, monitor, data_manager
):
    query = DataQuery.objects.create(
        participant=participant, question="Please confirm the weight.", raised_by=monitor
    )
    missing = casebook_readiness([participant.pk])[participant.pk].missing
    assert len(missing) == 3
    assert "signature" in missing[0] and "1 not closed" in missing[1]
    assert "not verified" in missing[2]

    with pytest.raises(ValidationError, match="cannot be locked yet"):
        casebook_lock(participant_id=participant.pk, user=data_manager)
    signed(investigator, participant)
    with pytest.raises(ValidationError, match="1 not closed"):
        casebook_lock(participant_id=participant.pk, user=data_manager)
    assert not CasebookLock.objects.exists()
    assert Participant.objects.get(pk=participant.pk).locked_at is None

    DataQuery.objects.filter(pk=query.pk).update(answer="Confirmed", closed_at=query.raised_at)
    with pytest.raises(ValidationError, match="not verified"):
        casebook_lock(participant_id=participant.pk, user=data_manager)
    assert verified(participant, monitor=monitor) > 0
    lock = casebook_lock(participant_id=participant.pk, user=data_manager)

    assert Participant.objects.get(pk=participant.pk).locked_at == lock.locked_at
    assert lock.history.get().history_user == data_manager


@pytest.mark.parametrize("role", ["coordinator", "investigator", "monitor"])
def test_it_lets_only_a_data_manager_lock(request, participant, role):
    with pytest.raises(PermissionDenied):
        casebook_lock(participant_id=participant.pk, user=request.getfixturevalue(role))
    with pytest.raises(PermissionDenied):
        database_lock(user=request.getfixturevalue(role))
    assert not CasebookLock.objects.exists() and not DatabaseLock.objects.exists()


def test_it_needs_a_reason_to_unlock(participant, investigator, data_manager):
    locked(participant, investigator=investigator, data_manager=data_manager)

    with pytest.raises(ValidationError) as refused:
        casebook_unlock(participant_id=participant.pk, user=data_manager, reason="  ")

    assert "reason" in refused.value.message_dict
    assert Participant.objects.get(pk=participant.pk).locked_at is not None
    assert CasebookLock.objects.get().unlocked_at is None


def test_it_unlocks_with_a_reason_and_makes_the_signature_stale(
    participant, investigator, data_manager
):
    locked(participant, investigator=investigator, data_manager=data_manager)

    lock = casebook_unlock(
        participant_id=participant.pk, user=data_manager, reason="Late lab result"
    )

    assert Participant.objects.get(pk=participant.pk).locked_at is None
    assert (lock.unlocked_by, lock.unlock_reason) == (data_manager, "Late lab result")
    assert lock.history.latest().history_change_reason == "Late lab result"
    state = signature_states([participant.pk])[participant.pk]
    assert state.status == STALE
    assert state.signature.stale_reason == "Casebook unlocked: Late lab result"
    flag = Flag.objects.get(kind=FlagKind.SIGNATURE_STALE)
    assert flag.resolved_at is None and "Casebook unlocked" in flag.detail


def test_it_asks_for_the_archive_when_the_database_is_locked(
    participant, data_manager, monkeypatch, django_capture_on_commit_callbacks
):
    requested = []
    monkeypatch.setattr(
        locking, "task_enqueue_on_commit", lambda name, **kw: requested.append((name, kw))
    )

    lock = database_lock(user=data_manager)

    assert requested == [("exchange.archive_build", {"lock_id": lock.pk})]
    assert database_locked()
    with pytest.raises(ValidationError, match="already locked"):
        database_lock(user=data_manager)


def test_it_keeps_the_lock_when_the_archive_task_is_not_registered(
    participant, data_manager, django_capture_on_commit_callbacks, caplog, monkeypatch
):
    from celery import current_app

    monkeypatch.delitem(current_app.tasks, "exchange.archive_build", raising=False)
    with django_capture_on_commit_callbacks(execute=True):
        database_lock(user=data_manager)
    assert database_locked()
    assert "exchange.archive_build" in caplog.text


def test_it_unlocks_the_database_with_a_reason_making_every_signature_stale(
    coordinator, investigator, data_manager
):
    first, second = casebook(coordinator), casebook(coordinator)
    signed(investigator, first)
    signed(investigator, second)
    database_lock(user=data_manager)
    with pytest.raises(ValidationError):
        database_unlock(user=data_manager, reason="")
    assert database_locked()

    database_unlock(user=data_manager, reason="Query from the sponsor")

    assert not database_locked()
    states = signature_states([first.pk, second.pk])
    assert {s.status for s in states.values()} == {STALE}
    assert Flag.objects.filter(kind=FlagKind.SIGNATURE_STALE, resolved_at=None).count() == 2
    checks_run()
    assert Flag.objects.filter(kind=FlagKind.SIGNATURE_STALE).count() == 2
