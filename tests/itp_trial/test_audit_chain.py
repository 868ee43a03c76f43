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
