"""The overview's stored figures (reporting.figures) stay equal to a fresh computation from
the records after every write path: the per-record services, source data verification,
the bulk import, the lab upload, the check pass (quick and full), and the migration's fill.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import pytest
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from exchange.importer import import_files
from reporting import figures as f
from reporting.models import FigureDelta, ParticipantFigures
from reporting.selectors import trial_overview
from safety import sdv
from safety.checks import checks_run
from subjects.services import participant_withdraw
from tests.exchange.test_bulk import (  # noqa: F401  (study_files: a fixture)
    _importer,
    _lab_rows,
    _people_files,
    _renumbered,
    study_files,
)
from tests.factories import visit_weight_corrected
from tests.safety.review_records import trial_records
from visits.models import Visit, WindowStatus

from .dashboard_data import (
    TODAY,
    ae_add,
    at,
    bulk_participants,
    dashboard_participant,
    treated,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def today():
    return timezone.localdate()


def assert_in_step() -> Counter:
    """The ledger's sums, the participants' stored rows summed, and the figures computed
    now from the records are one and the same; returns them."""
    totals = f.figures_totals()
    stored: Counter = Counter()
    for text in ParticipantFigures.objects.values_list("figures", flat=True):
        stored.update(f.figures_decode(text))
    fresh = f.figures_fresh()
    assert +totals == +stored == +fresh
    return fresh


def test_the_services_keep_the_figures_in_step(coordinator):
    p = dashboard_participant(coordinator)
    figures = assert_in_step()
    assert figures[f.status_key(p.status)] == 1
    assert figures[f.TREATED] == 1 and figures[f.INFUSIONS] == 5
    assert figures[f.visit_key("V4", WindowStatus.LATE)] == 1
    assert figures[f.visit_key("V5-D14", WindowStatus.MISSED)] == 1
    assert sum(figures[f.response_key("V5-M1", c)] for c in ("CR", "R", "NR", "NE")) == 1
    assert (figures[f.AE_EVENTS], figures[f.AE_SAE_TE]) == (2, 1)

    other = treated(coordinator, first=date(2026, 3, 2), consent=date(2026, 2, 20), infusions=1)
    ae_add(other, coordinator, term="Rash", ctcae_grade=4, onset_date=date(2026, 2, 25))
    participant_withdraw(
        participant=other,
        user=coordinator,
        on=date(2026, 3, 10),
        withdrawal_reason="withdrew_consent",
        today=TODAY,
    )
    figures = assert_in_step()
    assert figures[f.status_key("withdrawn")] == 1
    # Before infusion 1: counted among all events, not among the treatment-emergent.
    assert figures[f.worst_key(4, emergent=False)] == 1
    assert figures[f.worst_key(4, emergent=True)] == 0


def test_verifying_a_form_and_changing_it_keep_the_sdv_figures_in_step(coordinator, monitor):
    records = trial_records(coordinator)
    forms = assert_in_step()[f.SDV_FORMS]
    assert forms > 0
    visit = records["visit"]
    sdv.record_verify(kind="visit", object_id=visit.pk, user=monitor, version=visit.version)
    figures = assert_in_step()
    assert (figures[f.SDV_FORMS], figures[f.SDV_VERIFIED], figures[f.SDV_CHANGED]) == (
        forms,
        1,
        0,
    )
    visit.refresh_from_db()
    visit_weight_corrected(coordinator, visit)
    figures = assert_in_step()
    assert (figures[f.SDV_VERIFIED], figures[f.SDV_CHANGED]) == (0, 1)
    assert trial_overview().sdv.changed == 1


def test_the_bulk_import_keeps_the_figures_in_step(study_files, today):  # noqa: F811
    before = assert_in_step()
    result = import_files(files=_renumbered(study_files, 7), user=_importer(), bulk=True)
    assert result.issues == [] and result.applied
    after = assert_in_step()
    assert after[f.INFUSIONS] == 2 * before[f.INFUSIONS]
    assert after[f.AE_EVENTS] == 2 * before[f.AE_EVENTS] > 0

    result = import_files(files=_people_files(3, today), user=_importer(), bulk=True)
    assert result.issues == [] and result.applied
    assert assert_in_step()[f.TREATED] == after[f.TREATED] + 3


def test_the_lab_upload_keeps_the_figures_in_step(study_files, today):  # noqa: F811
    before = assert_in_step()
    files = {"platelets": _lab_rows(study_files, today)}
    result = import_files(files=files, user=_importer(), bulk=True, reason="Lab re-run")
    assert result.issues == [] and result.applied
    after = assert_in_step()
    assert after[f.SDV_FORMS] == before[f.SDV_FORMS] + 6  # the six new counts


def test_the_check_pass_turning_visits_overdue_keeps_the_figures_in_step():
    bulk_participants(3, today=TODAY)
    pending = Visit.objects.filter(window_status=WindowStatus.PENDING)
    soon = pending.order_by("window_end").values_list("window_end", flat=True).first()
    before = assert_in_step()

    checks_run(now=at(soon + timedelta(days=1), 10))

    after = assert_in_step()
    overdue = sum(n for k, n in after.items() if k.endswith(f" {WindowStatus.OVERDUE}"))
    was = sum(n for k, n in before.items() if k.endswith(f" {WindowStatus.OVERDUE}"))
    assert overdue > was


def test_the_full_pass_brings_stale_figures_back_in_step():
    people = bulk_participants(3, today=TODAY)
    # A schedule gone stale (as only a bug or a restore could leave it), figures synced
    # with it: the full pass recomputes the schedule, then the figures.
    Visit.objects.filter(participant=people[0]).update(window_status=WindowStatus.PENDING)
    f.figures_sync(participant_ids=[people[0].pk])

    checks_run(now=at(TODAY, 10), full=True)

    figures = assert_in_step()
    assert figures[f.status_key(people[0].status)] == 3


def test_the_migration_fill_and_the_compaction_keep_the_sums():
    bulk_participants(4, today=TODAY)
    expected = assert_in_step()
    ParticipantFigures.objects.all().delete()
    FigureDelta.objects.all().delete()

    f.figures_fill(apps)

    assert assert_in_step() == expected
    assert FigureDelta.objects.count() == len(+expected)  # one row per key after the fill


def test_a_sync_folds_the_ledger_once_it_passes_its_limit(monkeypatch):
    monkeypatch.setattr(f, "COMPACT_AT", 5)
    bulk_participants(2, today=TODAY)  # a sync appends a row per key it moves...
    bulk_participants(2, today=TODAY)  # ...and so does the second, on the same keys
    assert FigureDelta.objects.count() == len(+assert_in_step())


def test_the_sync_queries_do_not_grow_with_the_participants():
    counts = []
    for n in (2, 20):
        people = bulk_participants(n, today=TODAY)
        # A stored status moved round the services: each participant's figures move.
        Visit.objects.filter(participant__in=people, code="V5-M12").update(
            window_status=WindowStatus.MISSED
        )
        with CaptureQueriesContext(connection) as queries:
            moved = f.figures_sync(participant_ids=[p.pk for p in people])
        assert moved == n
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
    assert_in_step()
