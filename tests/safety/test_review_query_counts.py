"""The review pages, and the counts in the navigation, take the same number of database
queries with 5 participants as with 200."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from safety.models import DataQuery, QueryState, Verification
from tests.factories import schedules_bulk
from tests.safety.review_records import trial_records

pytestmark = pytest.mark.django_db


def _bulk_review(ids: list[int], monitor) -> None:
    """Per participant: two done visits, a query in each state, a verified visit."""
    from visits.models import Visit

    visits = {(v.participant_id, v.code): v for v in Visit.objects.filter(participant_id__in=ids)}
    states = (QueryState.OPEN, QueryState.ANSWERED, QueryState.CLOSED)
    DataQuery.objects.bulk_create(
        DataQuery(
            participant_id=pid,
            number=n + 1,
            target_kind="visit",
            object_id=visits[(pid, "V2")].pk,
            visit=visits[(pid, "V2")],
            field_name="weight_kg",
            state=state,
            question="Weight?",
            raised_by=monitor,
            due_date=timezone.localdate(),
        )
        for pid in ids
        for n, state in enumerate(states)
    )
    Verification.objects.bulk_create(
        Verification(
            participant_id=pid,
            target_kind="visit",
            object_id=visits[(pid, "V1")].pk,
            verified_version=1,
            verified_by=monitor,
            verified_at=timezone.now(),
        )
        for pid in ids
    )


@pytest.fixture
def grow(monitor):
    """Add participants with review records; returns how many there are now."""
    made = {"n": 0}

    def add(count: int) -> None:
        ids = schedules_bulk(
            participants=count,
            visits={"V1": ("in_window", -40), "V2": ("in_window", -30)},
            today=timezone.localdate(),
            prefix=f"Q{made['n']}",
        )
        _bulk_review(ids, monitor)
        made["n"] += 1

    return add


def _count(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(ctx.captured_queries)


PAGES = [
    ("monitor", lambda r: reverse("safety:record", args=["visit", r["visit"].pk])),
    ("monitor", lambda r: reverse("safety:queries")),
    ("monitor", lambda r: reverse("safety:queries") + "?state=all"),
    ("monitor", lambda r: reverse("safety:sdv_todo")),
    ("monitor", lambda r: reverse("subjects:overview")),
    ("monitor", lambda r: reverse("subjects:list")),
    ("coordinator", lambda r: reverse("visits:worklist")),
    ("coordinator", lambda r: reverse("subjects:detail", args=[r["participant"].pk])),
    ("investigator", lambda r: reverse("subjects:dashboard", args=[r["participant"].pk])),
]


@pytest.mark.parametrize("role,url", PAGES)
def test_the_review_pages_take_a_constant_number_of_queries(
    client, request, coordinator, monitor, grow, role, url
):
    from safety import dataqueries

    records = trial_records(coordinator)
    dataqueries.query_raise(user=monitor, kind="visit", object_id=records["visit"].pk, question="?")
    client.force_login(request.getfixturevalue(role))
    address = url(records)
    grow(5)
    client.get(address)  # warm caches (content types, sessions)
    few = _count(client, address)

    grow(195)

    assert _count(client, address) == few


def test_the_query_page_and_the_navigation_counts_stay_constant(client, coordinator, monitor, grow):
    from safety import dataqueries

    records = trial_records(coordinator)
    query = dataqueries.query_raise(
        user=monitor, kind="visit", object_id=records["visit"].pk, question="?"
    )
    client.force_login(coordinator)
    detail = reverse("safety:query_detail", args=[query.pk])
    grow(5)
    client.get(detail)
    few = _count(client, detail)
    counts_few = client.get(detail).context["nav_query_counts"]["open"]

    grow(195)

    assert _count(client, detail) == few
    assert client.get(detail).context["nav_query_counts"]["open"] == counts_few + 195
