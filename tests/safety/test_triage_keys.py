"""The triage key stored on each flag is the one `safety.triage.triage_key` reads from the
records, on every path that writes them, so that the stored order is the triage order."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from exchange.export import study_directory
from exchange.importer import IMPORT_ORDER, import_files
from safety.checks import checks_run
from safety.models import FLAG_OPEN, AdverseEvent, Flag, FlagKind
from safety.selectors import open_flags_summary
from safety.services import adverse_event_record
from safety.triage import triage_key, triage_keys_sync, triage_order
from tests.browser.triage_data import morning
from tests.exchange.study import build_study
from tests.factories import user_with_role
from visits.models import Visit

pytestmark = pytest.mark.django_db

FAR = datetime.max.replace(tzinfo=UTC)


def stored(flag: Flag) -> tuple:
    """The stored key, with triage_key's stand-ins for an absent time or date."""
    return (
        flag.triage_rank,
        flag.triage_aware_at or FAR,
        flag.triage_window_end or date.max,
        flag.raised_at,
        flag.pk,
    )


def all_flags() -> list[Flag]:
    return list(Flag.objects.select_related("adverse_event", "visit"))


def assert_in_step() -> None:
    flags = all_flags()
    assert flags
    assert {f.pk: stored(f) for f in flags} == {f.pk: triage_key(f) for f in flags}
    open_flags = [f for f in flags if f.resolved_at is None and f.acknowledged_at is None]
    in_order = list(triage_order(Flag.objects.filter(FLAG_OPEN)).values_list("pk", flat=True))
    assert in_order == [f.pk for f in sorted(open_flags, key=triage_key)]


def test_the_checks_store_the_key_the_triage_reads(coordinator):
    morning(coordinator)
    kinds = set(Flag.objects.values_list("kind", flat=True))
    assert {FlagKind.SAE_REPORT_OVERDUE, FlagKind.OVERDUE, FlagKind.MISSED_VISIT} <= kinds
    assert_in_step()
    first = open_flags_summary()["open_flags"]
    assert first[0].kind == FlagKind.SAE_REPORT_OVERDUE
    assert [f.pk for f in first] == [f.pk for f in sorted(first, key=triage_key)]


def test_a_second_run_changes_no_key_and_writes_nothing(coordinator):
    morning(coordinator)
    assert triage_keys_sync(flags=Flag.objects.all()) == 0


def test_the_key_follows_an_event_whose_awareness_is_corrected(
    coordinator, django_capture_on_commit_callbacks
):
    running, overdue = morning(coordinator)
    event = AdverseEvent.objects.get(participant=overdue)
    earlier = event.awareness_at - timedelta(hours=5)
    data = {
        f: getattr(event, f)
        for f in (
            "term",
            "onset_date",
            "ctcae_grade",
            "serious",
            "serious_criteria",
            "relationship",
            "action_taken",
            "outcome",
            "ongoing",
        )
    }
    # The service queues the participant's checks on commit; they run here.
    with django_capture_on_commit_callbacks(execute=True):
        adverse_event_record(
            participant=overdue,
            user=coordinator,
            ae_number=event.ae_number,
            data={**data, "awareness_at": earlier},
            reason="Site learned of it earlier",
            version=event.version,
        )
    flag = Flag.objects.get(adverse_event=event)
    assert flag.triage_aware_at == earlier
    assert_in_step()


def test_the_key_follows_a_visit_whose_window_moved(coordinator):
    running, _overdue = morning(coordinator)
    visit = Visit.objects.get(participant=running, code="V5-D14")
    flag = Flag.objects.get(visit=visit, kind=FlagKind.OVERDUE)
    # The window moves with a write to the participant (its anchors); every such write is
    # followed by the participant's checks run.
    moved = visit.window_end - timedelta(days=3)
    Visit.objects.filter(pk=visit.pk).update(window_end=moved)
    checks_run(participant_ids=[running.pk])
    flag.refresh_from_db()
    assert flag.triage_window_end == moved
    assert_in_step()


def test_the_full_pass_and_the_migration_fill_set_every_key(coordinator):
    morning(coordinator)
    # As the migration finds them: the keys not filled yet.
    Flag.objects.update(triage_rank=9, triage_aware_at=None, triage_window_end=None)
    checks_run(full=True)
    assert_in_step()
    Flag.objects.update(triage_rank=9, triage_aware_at=None, triage_window_end=None)
    with CaptureQueriesContext(connection) as captured:
        updated = triage_keys_sync(flags=Flag.objects.all())
    assert updated == Flag.objects.exclude(kind=FlagKind.SIGNATURE_STALE).count()
    assert len(captured) == 1
    assert_in_step()


def test_the_bulk_import_keeps_the_keys_in_step(
    coordinator, investigator, monitor, tmp_path: Path, django_capture_on_commit_callbacks
):
    from itp_trial.roles import DATA_MANAGER, INVESTIGATOR

    build_study(coordinator=coordinator, investigator=investigator)
    study_directory(tmp_path, user=monitor)
    files = {
        name: re.sub(
            r"\b(ITP|SCR)-0(\d\d)\b",
            r"\g<1>-7\g<2>",
            (tmp_path / f"{name}.csv").read_text(encoding="utf-8-sig"),
        )
        for name in IMPORT_ORDER
    }
    user = user_with_role(DATA_MANAGER, username="dm-triage")
    user.groups.add(*user_with_role(INVESTIGATOR, username="inv-triage").groups.all())
    before = set(Flag.objects.values_list("pk", flat=True))
    # The import queues the checks of its participants once, on commit; they run here.
    with django_capture_on_commit_callbacks(execute=True):
        import_files(files=files, user=user, reason="R", bulk=True)
    new = Flag.objects.exclude(pk__in=before).filter(participant__subject_id__startswith="ITP-7")
    assert new.exists()
    assert_in_step()


def test_the_worklist_lists_the_open_flags_in_triage_order(client, coordinator):
    # The browser test (tests/browser/test_triage.py) without a browser: the same morning,
    # the lines of the open-flags panel in the order the page gives them.
    morning(coordinator)
    client.force_login(coordinator)

    html = client.get(reverse("visits:worklist")).content.decode()

    panel = html[html.index('data-testid="open-flags"') :]
    lines = re.findall(r'<span class="flag-line" data-kind="(\w+)" data-severity="(\w+)">', panel)
    open_flags = sorted(Flag.objects.filter(FLAG_OPEN).select_related(), key=triage_key)
    assert [kind for kind, _severity in lines] == [f.kind for f in open_flags]
    assert lines[0] == (FlagKind.SAE_REPORT_OVERDUE, "critical")
    overdue = re.findall(r'data-testid="overdue-by">([^<]+)<', panel)
    assert overdue[0].startswith("SAE report overdue by 6 h")
    # Each participant's visit overdue by 20 days, then each one's by 2 days.
    assert overdue[1:5] == ["overdue by 20 days"] * 2 + ["overdue by 2 days"] * 2
