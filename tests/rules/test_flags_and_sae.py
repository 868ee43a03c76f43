"""One definition of an open flag, one SAE-overdue condition: pages, export and checks agree."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from exchange.export import FileStats, dataset_bytes
from itp_trial import protocol
from reporting.selectors import participant_dashboard
from safety.checks import checks_run
from safety.models import Flag, FlagKind, FlagStatus
from safety.selectors import flags_list, open_flags_count, open_flags_for, open_flags_summary
from tests.safety.test_checks import T0, adverse_event, noon

pytestmark = pytest.mark.django_db


@pytest.fixture
def participant(coordinator):
    from tests.factories import enrolled

    return enrolled(coordinator, today=T0, planned=T0 + timedelta(days=7))


def test_every_page_and_count_reads_the_same_open_flags(participant, investigator):
    raised = noon(T0)

    def flag(kind, **fields):
        return Flag.objects.create(kind=kind, participant=participant, raised_at=raised, **fields)

    open_flag = flag(FlagKind.OVERDUE, visit=participant.visits.get(code="V2"))
    flag(FlagKind.MISSED_VISIT, visit=participant.visits.get(code="V1"), resolved_at=raised)
    flag(
        FlagKind.OUT_OF_WINDOW,
        visit=participant.visits.get(code="V2"),
        acknowledged_at=raised,
        acknowledged_by=investigator,
    )

    ids = [participant.pk]
    dashboard = participant_dashboard(participant_id=participant.pk, now=raised)
    assert [f.pk for f in dashboard.open_flags] == [open_flag.pk]
    assert [f.pk for f in open_flags_for(participant_ids=ids)] == [open_flag.pk]
    assert [f.pk for f in open_flags_summary(participant_ids=ids)["open_flags"]] == [open_flag.pk]
    assert [f.pk for f in flags_list(status=FlagStatus.OPEN)] == [open_flag.pk]
    assert [f.pk for f in Flag.objects.all() if f.status == FlagStatus.OPEN] == [open_flag.pk]
    assert open_flags_count(participant_ids=ids) == 1


def exported_due(now) -> str:
    content = b"".join(dataset_bytes("adverse_events", stats=FileStats("adverse_events")))
    (row,) = csv.DictReader(io.StringIO(content.decode(), newline=""))
    return row["report_due_at"]


def test_the_sae_clock_the_checks_and_the_export_agree_when_the_deadline_changes(
    participant, investigator, monkeypatch
):
    aware = noon(T0)
    event = adverse_event(participant, awareness_at=aware)
    now = aware + timedelta(hours=30)

    def state():
        checks_run(now=now)
        flag = Flag.objects.filter(kind=FlagKind.SAE_REPORT_OVERDUE, adverse_event=event).first()
        (row,) = participant_dashboard(participant_id=participant.pk, now=now).adverse_events
        return row.clock, flag is not None and flag.status == FlagStatus.OPEN

    clock, flagged = state()
    assert protocol.SAE_REPORT_HOURS == 24
    assert (clock.overdue, flagged) == (True, True)
    assert clock.due_at == aware + timedelta(hours=24)
    assert exported_due(now).startswith((aware + timedelta(hours=24)).date().isoformat())

    monkeypatch.setattr(protocol, "SAE_REPORT_HOURS", 48)
    clock, flagged = state()
    assert (clock.overdue, flagged) == (False, False)
    assert clock.due_at == aware + timedelta(hours=48)
    assert exported_due(now).startswith((aware + timedelta(hours=48)).date().isoformat())
