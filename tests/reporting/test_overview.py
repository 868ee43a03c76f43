from __future__ import annotations

import json
import re
from datetime import date, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from infusions.dosing import planned_cells
from infusions.models import Infusion
from reporting.figures import figures_sync
from reporting.selectors import trial_overview
from subjects.services import eligibility_record, participant_withdraw
from tests.factories import all_criteria_met, enrolled, screened

from .dashboard_data import (
    TODAY,
    WEIGHT,
    ae_add,
    at,
    bulk_participants,
    infusion_dates,
    rescue_add,
    treated,
    visit_enter,
    visit_missed,
)

pytestmark = pytest.mark.django_db

FIRST = date(2026, 1, 5)  # infusion 1 of the two participants in follow-up
INF5 = infusion_dates(FIRST)[4]  # 2026-02-23: follow-up hangs on it


@pytest.fixture
def trial(coordinator):
    """Seven participants, one per situation, with known visits, counts, events and doses."""
    user = coordinator
    people = {}
    people["screening"] = screened(user, today=TODAY, consent_date=date(2026, 5, 1))
    failed = screened(user, today=TODAY, consent_date=date(2026, 5, 2))
    eligibility_record(
        participant=failed, user=user, answers={**all_criteria_met(), "E1": True}, today=TODAY
    )
    people["failed"] = failed
    people["enrolled"] = enrolled(
        user, planned=TODAY + timedelta(days=10), today=TODAY, consent_date=date(2026, 5, 20)
    )
    planned = planned_cells(weight_kg=WEIGHT)
    people["treating"] = treated(
        user,
        first=date(2026, 5, 11),
        consent=date(2026, 4, 20),
        infusions=2,
        actual_cells={2: planned * 110 // 100},  # exactly 10 % over: not a deviation
    )

    # Follow-up A: V4 late, V5-D14 missed, V5-M1 in window, V5-M2 early, V5-M3 overdue.
    a = treated(
        user, first=FIRST, consent=date(2025, 12, 20), actual_cells={3: planned * 112 // 100}
    )
    visit_enter(a, user, "V2", FIRST - timedelta(days=1), platelets=20, grade=0)  # baseline
    # NR, but V4 is not a follow-up visit.
    visit_enter(a, user, "V4", date(2026, 3, 1), platelets=25, grade=0)
    visit_missed(a, user, "V5-D14")
    visit_enter(a, user, "V5-M1", date(2026, 3, 25), platelets=150, grade=0)  # CR
    visit_enter(a, user, "V5-M2", date(2026, 4, 15), platelets=45, grade=0)  # R: twice 20
    ae_add(a, user, term="Fever", ctcae_grade=2, onset_date=FIRST + timedelta(days=1))
    ae_add(
        a,
        user,
        term="Fall",
        ctcae_grade=3,
        serious=True,
        serious_criteria="hospitalisation",
        onset_date=date(2026, 1, 1),  # before infusion 1: not treatment-emergent
        reported_at=at(date(2026, 1, 1), 12),
    )
    people["follow_a"] = a

    # Follow-up B: V4, V5-D14 and V5-M3 overdue; a rescue before V5-M2.
    b = treated(user, first=FIRST, consent=date(2025, 12, 20))
    visit_enter(b, user, "V2", FIRST - timedelta(days=1), platelets=20, grade=0)
    visit_enter(b, user, "V5-M1", date(2026, 3, 25), platelets=10, grade=0)  # NR
    rescue_add(b, user, date(2026, 4, 10))
    visit_enter(b, user, "V5-M2", date(2026, 4, 15), platelets=200, grade=0)  # NE: rescue
    ae_add(b, user, term="Rash", ctcae_grade=1, onset_date=date(2026, 2, 1))
    people["follow_b"] = b

    withdrawn = enrolled(
        user, planned=date(2026, 5, 20), today=date(2026, 5, 5), consent_date=date(2026, 5, 1)
    )
    participant_withdraw(
        participant=withdrawn,
        user=user,
        on=date(2026, 5, 15),
        withdrawal_reason="withdrew_consent",
        today=TODAY,
    )
    people["withdrawn"] = withdrawn
    return people


def test_it_counts_participants_by_status_against_the_target(trial):
    o = trial_overview(today=TODAY)
    assert (o.screened, o.enrolled, o.enrolment_cap) == (7, 5, 40)
    assert o.enrolled_share == pytest.approx(12.5)
    assert {row.key: row.count for row in o.by_status} == {
        "screening": 1,
        "screen_failed": 1,
        "enrolled": 1,
        "on_treatment": 1,
        "follow_up": 2,
        "completed": 0,
        "withdrawn": 1,
    }
    assert {row.key: row.share for row in o.by_status}["follow_up"] == pytest.approx(200 / 7)


def test_it_counts_visit_compliance(trial):
    o = trial_overview(today=TODAY)
    rows = {row.code: row.counts for row in o.compliance}
    # The other five participants: three have these visits ahead (pending), the screen
    # failure and the participant withdrawn before infusion 1 will not have them.
    ahead = {"pending": 3, "not_expected": 2}
    assert rows["V4"] == {"late": 1, "overdue": 1, **ahead}
    assert rows["V5-D14"] == {"missed": 1, "overdue": 1, **ahead}
    assert rows["V5-M1"] == {"in_window": 2, **ahead}
    assert rows["V5-M2"] == {"early": 2, **ahead}
    assert rows["V5-M3"] == {"overdue": 2, **ahead}
    assert rows["V5-M6"] == {"pending": 5, "not_expected": 2}
    m1 = next(row for row in o.compliance if row.code == "V5-M1")
    assert (m1.due, m1.in_window_share) == (2, 100)
    total = o.compliance_total
    assert total.counts == sum((row.counts for row in o.compliance), type(total.counts)())
    assert total.due == sum(row.due for row in o.compliance)


def test_it_counts_the_response_at_each_follow_up_visit(trial):
    o = trial_overview(today=TODAY)
    rows = {row.code: row for row in o.response_at_visits}
    assert list(rows) == ["V5-D14", "V5-M1", "V5-M2", "V5-M3", "V5-M6", "V5-M9", "V5-M12"]
    assert rows["V5-M1"].counts == {"CR": 1, "NR": 1}
    assert rows["V5-M1"].cells() == [(1, 50), (0, 0), (1, 50), (0, 0)]
    assert rows["V5-M2"].counts == {"R": 1, "NE": 1}
    assert rows["V5-D14"].total == 0
    # Best overall response per treated participant: A confirms R (150 then 45, 21 days
    # apart), B has only an NR evaluable, the one on treatment has no assessment yet.
    assert o.treated == 3
    assert o.best_response.counts == {"R": 1, "NR": 1, "NE": 1}
    assert o.chart["counts"]["CR"][1] == 1


def test_it_counts_adverse_events_by_worst_grade(trial):
    o = trial_overview(today=TODAY)
    rows = {row.key: (row.all_count, row.te_count) for row in o.safety}
    assert rows == {
        "any": (2, 2),
        "grade1": (1, 1),  # B
        "grade2": (0, 1),  # A's worst treatment-emergent event
        "grade3": (1, 0),  # A's worst event, before infusion 1
        "grade4": (0, 0),
        "grade5": (0, 0),
        "serious": (1, 0),
        "events": (3, 2),
        "serious_events": (1, 0),
    }
    any_row = o.safety[0]
    assert any_row.all_share == pytest.approx(200 / 7)  # of the screened
    assert any_row.te_share == pytest.approx(200 / 3)  # of the treated


def test_it_counts_dose_deviations(trial):
    o = trial_overview(today=TODAY)
    assert o.infusions_given == 12
    assert [(d.participant, d.infusion.number) for d in o.deviations] == [(trial["follow_a"], 3)]
    assert str(o.deviations[0].dose.deviation_pct) == "12.00"
    assert o.deviation_participants == 1
    assert o.deviation_participant_share == pytest.approx(100 / 3)


def test_it_shows_the_numbers_on_the_page(client, trial, personas):
    for user in personas.values():
        with time_machine.travel(at(TODAY, 12), tick=False):
            client.force_login(user)
            response = client.get(reverse("subjects:overview"))
        assert response.status_code == 200
    html = response.content.decode()
    assert "5 of 40 participants enrolled" in html
    assert re.search(r'<tr data-status="follow_up">.*?data-testid="count">2<', html, re.S)
    assert re.search(r'<tr data-row="grade3">.*?data-testid="all">1<', html, re.S)
    assert re.search(r'<tr data-row="participants">.*?data-testid="count">1<', html, re.S)
    match = re.search(r'id="response-chart-data" type="application/json">(.*?)</script>', html)
    assert json.loads(match.group(1))["counts"]["NE"][2] == 1
    assert str(trial["follow_a"].subject_id) in html  # the deviating infusion's participant


def test_it_refuses_a_user_without_a_role(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("nobody", password="x"))
    assert client.get(reverse("subjects:overview")).status_code == 403


def test_it_keeps_the_number_of_queries_with_5_or_200_participants(client, monitor):
    client.force_login(monitor)
    bulk_participants(5)
    client.get(reverse("subjects:overview"))  # warm the caches (content types, permissions)
    counts = []
    for more in (0, 195):
        bulk_participants(more)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse("subjects:overview"))
        assert response.status_code == 200
        counts.append(len(queries))
    assert response.context["o"].screened == 200
    assert counts[0] == counts[1]


def test_it_lists_each_responder_with_the_loss_and_duration_of_response(
    client, coordinator, monitor
):
    from .test_dashboard import lost_cr_participant

    p, first = lost_cr_participant(coordinator)
    with time_machine.travel(at(TODAY, 12), tick=False):
        overview = trial_overview(today=TODAY)
        client.force_login(monitor)
        html = client.get(reverse("subjects:overview")).content.decode()

    (row,) = overview.responders
    assert row.participant == p
    assert (row.summary.best_response, row.summary.response_duration_days) == ("CR", 20)
    lost_on = (first + timedelta(days=40)).isoformat()
    assert re.search(
        rf'<tr data-subject="{p.subject_id}">.*?data-testid="lost-on">{lost_on}<.*?'
        r'data-testid="duration">20 days<',
        html,
        re.S,
    )


def _new_as_reference(o) -> dict:
    return {
        "screened": o.screened,
        "enrolled": o.enrolled,
        "by_status": o.by_status,
        "compliance": {r.code: dict(r.counts) for r in o.compliance},
        "compliance_total": dict(o.compliance_total.counts),
        "treated": o.treated,
        "response_at_visits": {r.code: dict(r.counts) for r in o.response_at_visits},
        "best_response": dict(o.best_response.counts),
        "responders": [
            (
                r.participant.pk,
                r.summary.best_response,
                r.summary.time_to_response_days,
                r.summary.response_start,
                r.summary.response_lost_on,
                r.summary.response_duration_days,
            )
            for r in o.responders
        ],
        "safety": o.safety,
        "infusions_given": o.infusions_given,
        "deviations": [(d.participant.pk, d.infusion.pk, d.dose) for d in o.deviations],
        "deviation_participants": o.deviation_participants,
        "chart": o.chart,
    }


def test_it_gives_the_numbers_of_the_per_participant_computation_on_the_demo_trial(db):
    """The SQL aggregates over stored values against the computation they replaced (every
    participant loaded, the rules run per participant), on the demo's varied trial."""
    import io

    from django.core.management import call_command
    from django.utils import timezone

    from tests.reporting.overview_reference import reference_overview

    call_command("seed_demo", stdout=io.StringIO())
    today = timezone.localdate()
    new = _new_as_reference(trial_overview(today=today))
    old = reference_overview(today=today)
    assert len(old["responders"]) <= 50 and len(old["deviations"]) <= 50  # one page each
    assert old["responders"] and old["deviations"] and old["safety"][0].te_count
    for key in old:
        assert new[key] == old[key], key


def test_its_treatment_emergent_is_the_rule_on_every_adverse_event(trial, coordinator):
    from safety.models import AdverseEvent
    from safety.rules import is_treatment_emergent

    # On the day of infusion 1 (emergent), and before any infusion (never emergent).
    ae_add(trial["follow_b"], coordinator, term="Nausea", onset_date=FIRST)
    ae_add(trial["enrolled"], coordinator, term="Cough", onset_date=date(2026, 5, 25))
    firsts = dict(Infusion.objects.filter(number=1).values_list("participant_id", "infusion_date"))
    events = list(AdverseEvent.objects.all())
    rule = [e for e in events if is_treatment_emergent(e.onset_date, firsts.get(e.participant_id))]
    assert (len(events), len(rule)) == (5, 3)
    rows = {row.key: row for row in trial_overview(today=TODAY).safety}
    assert (rows["events"].all_count, rows["events"].te_count) == (5, 3)
    emergent_participants = {e.participant_id for e in rule}
    assert rows["any"].te_count == len(emergent_participants) == 2


def test_it_pages_the_lists_of_responders_and_deviations(client, monitor):
    from reporting.selectors.trial import LIST_PAGE_SIZE

    client.force_login(monitor)
    people = bulk_participants(LIST_PAGE_SIZE + 3)
    Infusion.objects.filter(participant__in=people, number=2).update(dose_deviation=True)
    figures_sync(participant_ids=[p.pk for p in people])  # the UPDATE went round the services
    first = trial_overview(today=TODAY)
    assert first.deviation_count == LIST_PAGE_SIZE + 3
    assert len(first.deviations) == LIST_PAGE_SIZE
    second = trial_overview(today=TODAY, deviations_page=2)
    assert len(second.deviations) == 3
    assert {d.infusion.pk for d in first.deviations}.isdisjoint(
        d.infusion.pk for d in second.deviations
    )
    html = client.get(reverse("subjects:overview"), {"deviations": 2}).content.decode()
    assert "?deviations=1" in html
