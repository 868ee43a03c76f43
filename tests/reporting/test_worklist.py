"""The coordinator's worklist through its view (reporting/views.py)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from itp_trial import protocol
from tests.factories import enrolled, infused, screened

pytestmark = pytest.mark.django_db


def days(n: int) -> timedelta:
    return timedelta(days=n)


def today() -> date:
    return timezone.localdate()


@pytest.fixture
def as_coordinator(client, coordinator):
    client.force_login(coordinator)
    return client


def test_it_lists_visits_in_window_due_and_overdue(as_coordinator, coordinator):
    in_window = enrolled(coordinator, planned=today() + days(3))  # V2 open now
    due = enrolled(coordinator, planned=today() + days(14))  # V2 opens in a week
    overdue = enrolled(coordinator, planned=today() - days(10))  # V2 closed 10 days ago
    screened(coordinator)  # no window yet: not on the worklist

    worklist = as_coordinator.get(reverse("visits:worklist")).context["worklist"]

    def listed(visits) -> set:
        return {(v.participant_id, v.code) for v in visits}

    assert (in_window.pk, "V2") in listed(worklist.in_window)
    assert (due.pk, "V2") in listed(worklist.due)
    assert (overdue.pk, "V2") in listed(worklist.overdue)
    assert (overdue.pk, protocol.INFUSION_VISIT_CODES[1]) in listed(worklist.overdue)
    everything = listed(worklist.in_window) | listed(worklist.due) | listed(worklist.overdue)
    assert {pk for pk, _code in everything} == {in_window.pk, due.pk, overdue.pk}


def test_it_takes_a_done_infusion_off_the_worklist(as_coordinator, coordinator):
    participant = enrolled(coordinator, planned=today() - days(2))
    infused(coordinator, participant, 1)

    worklist = as_coordinator.get(reverse("visits:worklist")).context["worklist"]

    codes = {v.code for v in worklist.in_window + worklist.overdue + worklist.due}
    assert protocol.INFUSION_VISIT_CODES[1] not in codes
    assert protocol.INFUSION_VISIT_CODES[2] in codes


# Per participant: one visit overdue, one in window, one due soon (stored schedule values).
SCALE_VISITS = {"V2": ("overdue", -3), "V4": ("pending", 3), "V5-D14": ("pending", 12)}


def test_its_queries_do_not_grow_with_the_participants_and_it_pages(as_coordinator):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from reporting.selectors.worklist import WORKLIST_PER_PAGE
    from tests.factories import schedules_bulk

    counts = []
    for n, prefix in ((5, "A"), (195, "B")):
        schedules_bulk(participants=n, visits=SCALE_VISITS, today=today(), prefix=prefix)
        with CaptureQueriesContext(connection) as queries:
            response = as_coordinator.get(reverse("visits:worklist"))
        assert response.status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1] and counts[0] > 0, counts

    worklist = response.context["worklist"]
    assert worklist.pages["overdue"].paginator.count == 200
    assert len(worklist.overdue) == WORKLIST_PER_PAGE
    html = response.content.decode()
    assert "?overdue=2" in html
    pages = -(-200 // WORKLIST_PER_PAGE)
    last = as_coordinator.get(reverse("visits:worklist"), {"overdue": pages, "due": 2})
    shown = last.context["worklist"]
    assert len(shown.overdue) == 200 - (pages - 1) * WORKLIST_PER_PAGE
    assert shown.pages["due"].number == 2
    # Every overdue visit appears on exactly one page.
    seen = []
    for number in range(1, pages + 1):
        page = as_coordinator.get(reverse("visits:worklist"), {"overdue": number})
        seen += [v.pk for v in page.context["worklist"].overdue]
    assert len(seen) == len(set(seen)) == 200


def test_it_counts_a_long_section_only_so_far_and_says_so(as_coordinator, coordinator, monkeypatch):
    import importlib

    from itp_trial import paging
    from safety import selectors as flag_selectors
    from safety.checks import checks_run
    from visits.models import Visit

    # A long backlog, made small: the counts stop 3 rows past the page shown.
    monkeypatch.setattr(paging, "COUNT_AHEAD", 3)
    monkeypatch.setattr(flag_selectors, "COUNT_AHEAD", 3)
    worklist_module = importlib.import_module("reporting.selectors.worklist")
    monkeypatch.setattr(worklist_module, "WORKLIST_PER_PAGE", 2)
    from tests.factories import enrolled_in_the_past

    participant = enrolled_in_the_past(coordinator)
    checks_run(participant_ids=[participant.pk])
    expected = Visit.objects.filter(
        participant=participant, window_end__lt=today(), window_status__in=("pending", "overdue")
    ).order_by("window_end", "participant_id", "id")
    overdue = expected.count()
    assert overdue > 3 + 2

    url = reverse("visits:worklist")
    response = as_coordinator.get(url, {"overdue": 1})
    page = response.context["worklist"].pages["overdue"]
    assert (page.paginator.more, page.paginator.bound) == (True, 3)
    assert len(page.object_list) == 2 and page.has_next()
    html = response.content.decode()
    assert "Page 1 of at least 2" in html
    assert 'title="more than 3">3+</span>' in html
    assert response.context["open_flags_more"] is True
    assert "More than 3 open flags in all." in html

    # Each page counts ahead of itself: the last page is reached, and counted exactly.
    last = (overdue + 1) // 2
    response = as_coordinator.get(url, {"overdue": last})
    page = response.context["worklist"].pages["overdue"]
    assert page.number == last
    assert (page.paginator.more, page.paginator.count) == (False, overdue)
    assert not page.has_next()
    assert f"Page {last} of {last}" in response.content.decode()
    # The rows read through the pages are every overdue visit, in the worklist's order.
    seen = []
    for number in range(1, last + 1):
        seen += as_coordinator.get(url, {"overdue": number}).context["worklist"].overdue
    assert [v.pk for v in seen] == [v.pk for v in expected]


def test_it_builds_each_row_with_its_links(as_coordinator, coordinator):
    overdue = enrolled(coordinator, planned=today() - days(10))

    response = as_coordinator.get(reverse("visits:worklist"))

    rows = {r.visit.code: r for r in response.context["worklist"].rows["overdue"]}
    v2, infusion = rows["V2"], rows[protocol.INFUSION_VISIT_CODES[1]]
    assert v2.participant_url == reverse("subjects:detail", args=[overdue.pk])
    assert v2.edit_url == reverse("visits:edit", args=[v2.visit.pk])
    assert v2.missed_url == reverse("visits:missed", args=[v2.visit.pk])
    assert (infusion.infusion, infusion.missed_url) == (True, "")
    assert v2.overdue_by == f"{v2.visit.overdue_days} days"
    html = response.content.decode()
    assert f'href="{v2.missed_url}"' in html and "Record infusion" in html


def test_no_window_the_schedule_gives_is_wider_than_the_in_window_bound():
    # The in-window section reads only windows opened in the last WINDOW_DAYS_MAX days:
    # every window of every schedule (given as planned, discontinued early, nothing given)
    # must fit in it.
    from visits.schedule import ScheduleInput, schedule_compute

    planned = date(2026, 3, 2)
    given = {1: planned, 2: planned + days(7)}
    inputs = [
        ScheduleInput(planned, {}, {}),
        ScheduleInput(planned, given, {}),
        ScheduleInput(planned, given, {}, treatment_discontinued=planned + days(10)),
        ScheduleInput(planned, {}, {}, treatment_discontinued=planned + days(3)),
    ]
    widths = [
        (visit.window_end - visit.window_start).days
        for data in inputs
        for visit in schedule_compute(data, today=planned + days(400))
        if visit.window_start is not None
    ]
    assert widths and max(widths) == protocol.WINDOW_DAYS_MAX


def test_it_shows_in_window_the_widest_window_on_its_last_day(as_coordinator):
    from tests.factories import schedules_bulk
    from visits.models import Visit

    (participant_id,) = schedules_bulk(
        participants=1, visits={"V5-M6": ("pending", 0)}, today=today()
    )
    Visit.objects.filter(participant_id=participant_id, code="V5-M6").update(
        window_start=today() - days(protocol.WINDOW_DAYS_MAX)
    )

    worklist = as_coordinator.get(reverse("visits:worklist")).context["worklist"]

    assert [(v.participant_id, v.code) for v in worklist.in_window] == [(participant_id, "V5-M6")]
