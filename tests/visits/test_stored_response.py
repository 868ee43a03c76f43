"""The stored IWG response (a row per participant, a category per count) is what the rule
gives: `visits.response.response_summarise`, recomputed from the stored inputs, after every
kind of write; and its sync reads and writes with the same queries for 5 or 200
participants, without writing history."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from infusions.models import Infusion
from itp_trial.audit import audit_seal, audit_verify
from subjects.models import Participant
from tests.reporting.dashboard_data import (
    TODAY,
    bulk_participants,
    count_add,
    infusions_give,
    rescue_add,
    treated,
    visit_enter,
)
from visits import response
from visits.models import VISIT_RESPONSE_FIELDS, ParticipantResponse, PlateletCount, Visit
from visits.selectors import participant_response, participants_with_outcomes
from visits.services import responses_sync

pytestmark = pytest.mark.django_db

FIRST = date(2026, 1, 5)


def recomputed() -> dict[int, tuple]:
    """Every participant's response and count categories, from the rule, now."""
    found = {}
    for p in participants_with_outcomes(Participant.objects.all()):
        summary = participant_response(p)
        categories = {a.sample.sample_date: a.category for a in summary.assessments}
        found[p.pk] = (
            (
                summary.baseline,
                summary.best_response,
                summary.time_to_response_days,
                summary.response_start,
                summary.response_lost_on,
                summary.response_duration_days,
            ),
            [(c.pk, categories.get(c.sample_date, "")) for c in p.platelet_counts.all()],
        )
    return found


def visit_counts_recomputed(found: dict[int, tuple]) -> dict[int, dict[str, int]]:
    """Each visit's counts by category, from the categories the rule gave its counts."""
    category = {pk: c for _response, counts in found.values() for pk, c in counts}
    at_visits = {
        v: {c: 0 for c in response.CATEGORIES} for v in Visit.objects.values_list("pk", flat=True)
    }
    for pk, visit_id in PlateletCount.objects.filter(visit__isnull=False).values_list(
        "pk", "visit_id"
    ):
        if category[pk]:
            at_visits[visit_id][category[pk]] += 1
    return at_visits


def visit_counts_stored() -> dict[int, dict[str, int]]:
    fields = [VISIT_RESPONSE_FIELDS[c] for c in response.CATEGORIES]
    return {
        pk: dict(zip(response.CATEGORIES, values, strict=True))
        for pk, *values in Visit.objects.values_list("pk", *fields)
    }


def stored() -> dict[int, tuple]:
    rows = {r.participant_id: r for r in ParticipantResponse.objects.all()}
    counts: dict[int, list] = {}
    for c in PlateletCount.objects.order_by("participant_id", "sample_date"):
        counts.setdefault(c.participant_id, []).append((c.pk, c.response_category))
    return {
        pk: (
            (
                rows[pk].baseline_platelets,
                rows[pk].best_response,
                rows[pk].time_to_response_days,
                rows[pk].response_start,
                rows[pk].response_lost_on,
                rows[pk].response_duration_days,
            )
            if pk in rows
            else None,
            counts.get(pk, []),
        )
        for pk in Participant.objects.values_list("pk", flat=True)
    }


def assert_in_step() -> dict[int, tuple]:
    expected = recomputed()
    assert stored() == expected
    assert visit_counts_stored() == visit_counts_recomputed(expected)
    return expected


def test_the_demo_trial_stores_what_the_rule_gives(db):
    call_command("seed_demo", stdout=io.StringIO())
    expected = assert_in_step()
    # A varied data set: every best response and every category, and counts before infusion 1.
    assert {v[0][1] for v in expected.values()} >= {response.CR, response.R, response.NR}
    categories = {c for v in expected.values() for _pk, c in v[1]}
    assert categories == {"", *response.CATEGORIES}
    assert Visit.objects.filter(response_cr__gt=0).exists()
    assert Visit.objects.filter(response_ne__gt=0).exists()


def test_each_kind_of_write_keeps_the_stored_response_in_step(coordinator):
    user = coordinator
    p = treated(user, first=FIRST, consent=date(2025, 12, 20), infusions=1)
    assert_in_step()
    visit_enter(p, user, "V2", FIRST - timedelta(days=1), platelets=20, grade=0)  # baseline
    count_add(p, user, FIRST + timedelta(days=20), 150, 0)
    count_add(p, user, FIRST + timedelta(days=45), 160, 0)
    expected = assert_in_step()
    assert expected[p.pk][0][1] == response.CR
    # A correction of a count (with a reason): CR no longer confirmed.
    from visits.services import platelet_record

    platelet_record(
        participant=p,
        user=user,
        sample_date=FIRST + timedelta(days=45),
        platelets=40,
        who_bleeding_grade=0,
        reason="Lab correction",
        today=TODAY,
    )
    expected = assert_in_step()
    assert expected[p.pk][0][1] == response.R
    # A rescue therapy: the later counts are not evaluable.
    rescue_add(p, user, FIRST + timedelta(days=19))
    expected = assert_in_step()
    assert response.NE in {c for _pk, c in expected[p.pk][1]}
    # An infusion edit: moving infusion 1 moves the baseline and the assessments.
    from infusions.services import infusion_record

    infusion = Infusion.objects.get(participant=p, number=1)
    infusion_record(
        participant=p,
        user=user,
        number=1,
        data={
            "infusion_date": FIRST - timedelta(days=2),
            "dosing_weight_kg": infusion.dosing_weight_kg,
            "actual_cells": infusion.actual_cells,
            "lot_number": infusion.lot_number,
            "reaction": False,
        },
        reason="Date misread",
        today=TODAY,
    )
    expected = assert_in_step()
    assert expected[p.pk][0][0] is None  # no count on or before the new infusion 1 date
    # A second participant's infusions given later: the first is left as it is.
    other = treated(user, first=FIRST + timedelta(days=7), consent=date(2025, 12, 21), infusions=0)
    infusions_give(other, user, [FIRST + timedelta(days=7)])
    assert_in_step()


def test_the_full_check_pass_repairs_what_a_write_behind_the_services_left(coordinator):
    p = treated(coordinator, first=FIRST, consent=date(2025, 12, 20), infusions=1)
    count_add(p, coordinator, FIRST + timedelta(days=20), 150, 0)
    PlateletCount.objects.filter(participant=p).update(response_category="NR")
    ParticipantResponse.objects.filter(participant=p).delete()
    from safety.checks import checks_run

    checks_run(full=True)
    assert_in_step()


def test_the_sync_writes_no_history_and_the_audit_chain_still_verifies(coordinator):
    p = treated(coordinator, first=FIRST, consent=date(2025, 12, 20), infusions=1)
    count_add(p, coordinator, FIRST + timedelta(days=20), 150, 0)
    assert audit_seal() > 0
    history = PlateletCount.history.count()
    PlateletCount.objects.filter(participant=p).update(response_category="")
    assert responses_sync([p.pk]) == 0  # the row was right; the category is rewritten
    assert PlateletCount.objects.get(participant=p).response_category == response.CR
    assert PlateletCount.history.count() == history
    assert "response_category" not in {
        f.name for f in PlateletCount.history.model._meta.get_fields()
    }
    audit_seal()
    result = audit_verify()
    assert result.ok, result.problem


def _sync_queries(ids: list[int]) -> int:
    PlateletCount.objects.filter(participant_id__in=ids).update(response_category="X")
    Visit.objects.filter(participant_id__in=ids).update(response_nr=9)
    ParticipantResponse.objects.filter(participant_id__in=ids).delete()
    with CaptureQueriesContext(connection) as captured:
        responses_sync(ids)
    return len(captured)


def test_the_sync_takes_the_same_queries_for_5_or_200_participants(db):
    few = [p.pk for p in bulk_participants(5, platelets_each=6)]
    many = few + [p.pk for p in bulk_participants(195, platelets_each=6)]
    assert _sync_queries(few) == _sync_queries(many)
    assert_in_step()
    assert ParticipantResponse.objects.count() == 200
