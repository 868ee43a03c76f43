from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from itp_trial import protocol
from reporting.selectors import participant_dashboard, participants_for_pages
from subjects.models import Signature
from visits.models import PlateletCount, WindowStatus
from visits.schedule import study_day
from visits.selectors import participant_response, participant_schedule

from .dashboard_data import TODAY, ae_add, at, count_add, dashboard_participant, treated

pytestmark = pytest.mark.django_db


def url(participant) -> str:
    return reverse("subjects:dashboard", args=[participant.pk])


def chart_data(response) -> dict:
    match = re.search(
        r'<script id="platelet-chart-data" type="application/json">(.*?)</script>',
        response.content.decode(),
        re.S,
    )
    assert match, "the chart's data are passed with json_script"
    return json.loads(match.group(1))


@pytest.fixture
def participant(coordinator):
    return dashboard_participant(coordinator)


@pytest.fixture
def at_today():
    with time_machine.travel(at(TODAY, 12), tick=False):
        yield


def test_it_shows_the_dashboard_to_every_role(client, personas, participant, at_today):
    for role, user in personas.items():
        client.force_login(user)
        response = client.get(url(participant))
        assert response.status_code == 200, role
        assert response.context["d"].participant == participant
        assert participant.subject_id in response.content.decode()


def test_it_refuses_a_user_without_a_role(client, participant, django_user_model):
    client.force_login(django_user_model.objects.create_user("nobody", password="x"))
    assert client.get(url(participant)).status_code == 403


def test_it_answers_404_for_an_unknown_participant(client, investigator):
    client.force_login(investigator)
    assert client.get(reverse("subjects:dashboard", args=[999999])).status_code == 404


def test_it_shows_the_header_from_the_response_rules(client, investigator, participant, at_today):
    client.force_login(investigator)
    response = client.get(url(participant))
    summary = participant_response(participants_for_pages(type(participant).objects).get())
    d = response.context["d"]
    assert d.summary == summary
    # 110 then 130 more than a week apart; the response began with 75, 45 days after
    # infusion 1 (the 60 on day 35 falls in the rescue span).
    assert (summary.best_response, summary.time_to_response_days) == ("CR", 45)
    html = response.content.decode()
    assert f'data-testid="best-response">{summary.best_response}<' in html
    assert f"{summary.time_to_response_days} days" in html
    assert 'data-status="follow_up"' in html
    assert d.first_infusion.isoformat() in html
    assert d.last_infusion.isoformat() in html


def test_it_shows_each_visit_status_in_the_timeline(client, investigator, participant, at_today):
    client.force_login(investigator)
    html = client.get(url(participant)).content.decode()
    schedule = participant_schedule(participants_for_pages(type(participant).objects).get())
    assert len(schedule) == len(protocol.VISITS)
    statuses = {s.code: s.status for s in schedule}
    assert statuses["V4"] == WindowStatus.LATE
    assert statuses["V5-D14"] == WindowStatus.MISSED
    assert statuses["V5-M1"] == WindowStatus.IN_WINDOW
    for s in schedule:
        assert f'<tr data-visit="{s.code}" data-status="{s.status}">' in html
    assert html.count('data-testid="visit-status"') == len(protocol.VISITS)
    assert str(WindowStatus.LATE.label) in html


def test_it_passes_the_platelet_points_on_study_days(client, investigator, participant, at_today):
    client.force_login(investigator)
    response = client.get(url(participant))
    data = chart_data(response)
    first = participant.infusions.get(number=1).infusion_date
    rows = PlateletCount.objects.filter(participant=participant).order_by("sample_date")
    assert [(p["x"], p["y"]) for p in data["points"]] == [
        (study_day(r.sample_date, first), r.platelets) for r in rows
    ]
    assert [p["bleeding"] for p in data["points"]] == [r.who_bleeding_grade for r in rows]
    assert data["baseline"] == 18
    assert data["thresholds"] == {"r": protocol.R_PLATELETS, "cr": protocol.CR_PLATELETS}
    assert [i["x"] for i in data["infusions"]] == [1, 8, 22, 36, 50]
    rescue_start = participant.conmeds.get().start_date
    assert data["rescue"] == [
        {
            "drug": "IVIg",
            "from": study_day(rescue_start, first),
            "to": study_day(rescue_start, first) + protocol.RESCUE_NOT_EVALUABLE_DAYS,
            "start": rescue_start.isoformat(),
            "until": (
                rescue_start + timedelta(days=protocol.RESCUE_NOT_EVALUABLE_DAYS)
            ).isoformat(),
        }
    ]
    # The rescue from day 11 makes the counts 14 and 35 days after infusion 1 not evaluable.
    assert [p["category"] for p in data["points"]] == ["", "", "NE", "NE", "R", "CR", "CR"]
    html = response.content.decode()
    assert 'data-testid="platelet-table"' in html
    assert html.count("<tr data-date=") == rows.count()


def test_it_shows_infusions_events_and_flags(client, investigator, participant, at_today):
    client.force_login(investigator)
    response = client.get(url(participant))
    d = response.context["d"]
    assert [row.infusion.number for row in d.infusions] == [1, 2, 3, 4, 5]
    assert d.infusions[0].dose.planned_cells == 6_000_000_000
    assert d.infusions[0].dose.deviation is False
    serious = d.adverse_events[1]
    assert serious.event.serious and serious.clock.reported and serious.clock.reported_late
    assert serious.treatment_emergent
    # Raised by the checks: V4 late, V5-D14 missed, V5-M2 and V5-M3 overdue on TODAY.
    assert sorted(
        (f.kind, f.visit.code if f.visit else f.infusion.visit_code) for f in d.open_flags
    ) == [
        ("missed_visit", "V5-D14"),
        ("out_of_window", "V4"),
        ("overdue", "V5-M2"),
        ("overdue", "V5-M3"),
    ]
    html = response.content.decode()
    assert 'data-kind="missed_visit"' in html
    assert "Epistaxis requiring admission" in html
    assert "Reported after the 24-hour deadline" in html
    assert "LOT-" in html


def test_it_counts_down_an_unreported_serious_event(client, investigator, participant):
    ae_add(
        participant,
        investigator,
        now=at(TODAY, 9),
        term="Sepsis",
        ctcae_grade=4,
        serious=True,
        serious_criteria="hospitalisation",
        onset_date=TODAY,
        awareness_at=at(TODAY, 8),
        ongoing=True,
        outcome="recovering",
    )
    with time_machine.travel(at(TODAY, 12), tick=False):
        client.force_login(investigator)
        html = client.get(url(participant)).content.decode()
    assert "SAE report due in 20 h 0 min" in html
    with time_machine.travel(at(TODAY + timedelta(days=1), 11), tick=False):
        client.force_login(investigator)  # sessions end after 30 idle minutes
        html = client.get(url(participant)).content.decode()
    assert "SAE report overdue by 3 h 0 min" in html


def test_it_leaves_the_category_empty_before_infusion_1(coordinator):
    p = treated(
        coordinator,
        first=TODAY - timedelta(days=3),
        consent=TODAY - timedelta(days=20),
        infusions=1,
    )
    count_add(p, coordinator, TODAY - timedelta(days=4), 20)
    d = participant_dashboard(participant_id=p.pk, today=TODAY)
    assert d.platelets[0].assessment is None
    assert d.platelets[0].study_day == -1


def test_it_places_counts_against_the_planned_date_before_infusion_1(coordinator):
    from tests.factories import enrolled

    p = enrolled(coordinator, planned=TODAY + timedelta(days=5), today=TODAY)
    count_add(p, coordinator, TODAY, 22, 0)
    d = participant_dashboard(participant_id=p.pk, today=TODAY)
    assert d.first_infusion is None
    assert d.chart["points"][0]["x"] == -5
    assert d.chart["reference"] == (TODAY + timedelta(days=5)).isoformat()
    assert d.summary.best_response == "NE"


def test_it_shows_the_signature_state_and_links_to_signing(client, personas, participant):
    from itp_trial import roles

    for role, user in personas.items():
        client.force_login(user)
        html = client.get(url(participant)).content.decode()
        assert 'data-testid="signature-state" data-status="unsigned"' in html
        assert ('data-testid="sign-link"' in html) == (role == roles.INVESTIGATOR), role
        assert ('data-testid="lock-link"' in html) == (role == roles.DATA_MANAGER), role


def test_it_shows_a_stale_signature_as_stale(client, investigator, participant):
    from tests.factories import signed

    signature = signed(investigator, participant)
    client.force_login(investigator)
    html = client.get(url(participant)).content.decode()
    assert 'data-status="current"' in html and signature.content_hash in html
    type(participant).objects.filter(pk=participant.pk).update(consent_version="9.9")
    html = client.get(url(participant)).content.decode()
    assert 'data-testid="signature-state" data-status="stale"' in html
    assert "Wang Fang" in html


def test_it_refuses_a_post_to_the_dashboard(client, investigator, participant):
    client.force_login(investigator)
    response = client.post(url(participant), {"statement": "I have reviewed the data"})
    assert response.status_code == 405
    assert not Signature.objects.exists()


def test_it_keeps_the_number_of_queries_with_10_or_500_counts(client, investigator, coordinator):
    first = TODAY - timedelta(days=600)
    small = treated(coordinator, first=first, consent=first - timedelta(days=20))
    large = treated(coordinator, first=first, consent=first - timedelta(days=20))
    PlateletCount.objects.bulk_create(
        PlateletCount(participant=p, sample_date=first + timedelta(days=k), platelets=20 + k)
        for p, n in ((small, 10), (large, 500))
        for k in range(n)
    )
    client.force_login(investigator)
    client.get(url(small))  # warm the caches (content types, permissions)
    counts = []
    for p in (small, large):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url(p))
        assert response.status_code == 200
        counts.append(len(queries))
    assert len(response.context["d"].platelets) == 500
    assert counts[0] == counts[1]


def test_it_shows_a_participant_still_in_screening(client, coordinator):
    from tests.factories import screened

    p = screened(coordinator, today=TODAY)
    client.force_login(coordinator)
    response = client.get(url(p))
    assert response.status_code == 200
    d = response.context["d"]
    assert d.first_infusion is None and d.chart["points"] == []
    html = response.content.decode()
    assert 'id="platelet-chart"' not in html  # nothing to draw: the table says so
    assert "No platelet count yet." in html
    assert html.count('data-testid="visit-status"') == len(protocol.VISITS)


def lost_cr_participant(user):
    """A CR from day 20 (120, 130), lost from day 40 (50, then 40 the next day)."""
    first = TODAY - timedelta(days=120)
    p = treated(user, first=first, consent=first - timedelta(days=20))
    count_add(p, user, first - timedelta(days=1), 15, 0)
    for day, count in ((20, 120), (30, 130), (40, 50), (41, 40)):
        count_add(p, user, first + timedelta(days=day), count, 0)
    return p, first


def test_it_shows_when_the_response_was_lost_and_how_long_it_lasted(
    client, coordinator, investigator, at_today
):
    p, first = lost_cr_participant(coordinator)
    client.force_login(investigator)

    html = client.get(url(p)).content.decode()

    lost_on = (first + timedelta(days=40)).isoformat()
    assert 'data-testid="best-response">CR<' in html
    assert f'data-testid="response-lost-on">{lost_on}<' in html
    assert 'data-testid="response-duration">20 days<' in html


def test_it_shows_a_response_not_lost_as_ongoing(client, investigator, participant, at_today):
    client.force_login(investigator)
    summary = participant_response(participants_for_pages(type(participant).objects).get())

    html = client.get(url(participant)).content.decode()

    assert summary.response_lost_on is None
    assert 'data-testid="response-lost-on">Not lost<' in html
    assert f"Ongoing since {summary.response_start.isoformat()}" in html


def test_it_pages_the_platelet_table_and_charts_every_count(client, investigator):
    from reporting.selectors.common import PLATELET_PAGE_SIZE

    from .dashboard_data import bulk_participants

    (p,) = bulk_participants(1, platelets_each=PLATELET_PAGE_SIZE + 5)
    client.force_login(investigator)
    for name in ("subjects:dashboard", "subjects:detail"):
        first = client.get(reverse(name, args=[p.pk])).content.decode()
        second = client.get(reverse(name, args=[p.pk]), {"counts": 2}).content.decode()
        assert first.count('<tr data-sample="') + first.count('<tr data-date="') == (
            PLATELET_PAGE_SIZE
        )
        assert second.count('<tr data-sample="') + second.count('<tr data-date="') == 5
        assert "?counts=2" in first and "?counts=1" in second
    d = participant_dashboard(participant_id=p.pk, today=TODAY)
    assert len(d.chart["points"]) == PLATELET_PAGE_SIZE + 5
