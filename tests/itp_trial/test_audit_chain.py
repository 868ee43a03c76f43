from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from itp_trial.audit import audit_seal, audit_verify
from tests.factories import platelet_counted
from visits.models import PlateletCount


@pytest.mark.django_db
def test_it_finds_a_history_row_changed_behind_the_applications_back(coordinator):
    _participant, count = platelet_counted(coordinator)
    assert audit_seal() > 0
    out = StringIO()
    call_command("verify_audit", stdout=out)
    assert "audit chain intact" in out.getvalue()

    record = count.history.latest()
    table = PlateletCount.history.model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET platelets = 7 WHERE history_id = %s", [record.history_id]
        )

    result = audit_verify()
    assert not result.ok
    assert f"visits.historicalplateletcount #{record.history_id}" in result.problem
    with pytest.raises(CommandError, match="historicalplateletcount"):
        call_command("verify_audit", "--no-seal", stdout=StringIO())


def _verified_intact() -> str:
    """What an operator runs: seal what is new, then recompute the whole chain."""
    out = StringIO()
    call_command("verify_audit", stdout=out)
    result = audit_verify()
    assert result.ok, result.problem
    assert result.unsealed == 0
    assert result.entries == result.head_seq > 0
    return out.getvalue()


@pytest.mark.django_db
def test_it_is_intact_after_the_demo_trial(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", stdout=StringIO())

    assert "audit chain intact" in _verified_intact()


@pytest.mark.django_db
def test_it_is_intact_after_the_test_data_set(
    coordinator, investigator, django_capture_on_commit_callbacks
):
    from tests.exchange.study import build_study

    with django_capture_on_commit_callbacks(execute=True):
        build_study(coordinator=coordinator, investigator=investigator)

    assert "audit chain intact" in _verified_intact()
