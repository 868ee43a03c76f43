"""Data queries: a monitor raises and closes them, the site answers."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from safety.models import DataQuery
from tests.factories import enrolled
from visits.models import Visit

pytestmark = pytest.mark.django_db

QUERIES_URL = reverse("safety:queries")


@pytest.fixture
def participant(coordinator):
    return enrolled(coordinator)


def create_url(participant) -> str:
    return reverse("safety:query_create", args=[participant.pk])


def raised(client, monitor, participant, question="Platelets at V2 look transposed?", **data):
    client.force_login(monitor)
    client.post(create_url(participant), {"question": question, **data})
    return DataQuery.objects.latest("pk")


def test_it_lets_a_monitor_raise_a_query_about_a_visit(client, monitor, participant):
    v2 = Visit.objects.get(participant=participant, code="V2")
    client.force_login(monitor)

    response = client.post(
        create_url(participant), {"question": " Weight 6.2 kg at V2? ", "visit": v2.pk}
    )

    assert response.status_code == 302
    query = DataQuery.objects.get()
    assert (query.participant, query.visit, query.raised_by) == (participant, v2, monitor)
    assert query.question == "Weight 6.2 kg at V2?"
    assert query.closed_at is None and query.answered_at is None
    assert query.history.first().history_user == monitor


# Protocol section 8: a monitor or a data manager raises a query; the site does not.
@pytest.mark.parametrize("role", ["coordinator", "investigator"])
def test_it_lets_only_reviewers_raise_queries(client, request, participant, role):
    client.force_login(request.getfixturevalue(role))

    response = client.post(create_url(participant), {"question": "Why?"})

    assert response.status_code == 403
    assert not DataQuery.objects.exists()


def test_it_refuses_an_empty_question_or_another_participants_visit(
    client, monitor, participant, coordinator
):
    other = enrolled(coordinator)
    elsewhere = Visit.objects.get(participant=other, code="V2")
    client.force_login(monitor)

    empty = client.post(create_url(participant), {"question": "  "})
    wrong_visit = client.post(create_url(participant), {"question": "Why?", "visit": elsewhere.pk})

    assert empty.status_code == 200 and empty.context["form"].errors
    assert wrong_visit.status_code == 200 and wrong_visit.context["form"].errors
    assert not DataQuery.objects.exists()


@pytest.mark.parametrize("role", ["coordinator", "investigator"])
def test_it_lets_the_site_answer(client, request, monitor, participant, role):
    query = raised(client, monitor, participant)
    user = request.getfixturevalue(role)
    client.force_login(user)

    response = client.post(
        reverse("safety:query_answer", args=[query.pk]), {"answer": "Corrected to 62.0 kg."}
    )

    assert response.status_code == 302
    query.refresh_from_db()
    assert (query.answer, query.answered_by) == ("Corrected to 62.0 kg.", user)
    assert query.answered_at is not None and query.closed_at is None


@pytest.mark.parametrize("role", ["monitor", "data_manager"])
def test_it_refuses_answers_from_outside_the_site(client, request, monitor, participant, role):
    query = raised(client, monitor, participant)
    client.force_login(request.getfixturevalue(role))

    response = client.post(reverse("safety:query_answer", args=[query.pk]), {"answer": "Fine"})

    assert response.status_code == 403
    query.refresh_from_db()
    assert query.answer == "" and query.answered_at is None


def test_it_lets_the_monitor_close_and_then_refuses_answers(
    client, monitor, coordinator, participant
):
    query = raised(client, monitor, participant)

    response = client.post(reverse("safety:query_close", args=[query.pk]))

    assert response.status_code == 302
    query.refresh_from_db()
    closed_at = query.closed_at
    assert closed_at is not None
    client.force_login(coordinator)
    late = client.post(reverse("safety:query_answer", args=[query.pk]), {"answer": "Late"})
    assert late.status_code == 200 and "closed" in late.content.decode()
    query.refresh_from_db()
    assert query.answer == "" and query.closed_at == closed_at


def test_it_refuses_closing_to_the_site_and_by_get(client, monitor, coordinator, participant):
    query = raised(client, monitor, participant)
    url = reverse("safety:query_close", args=[query.pk])

    assert client.get(url).status_code == 405
    client.force_login(coordinator)
    assert client.post(url).status_code == 403
    query.refresh_from_db()
    assert query.closed_at is None


def test_it_lists_open_queries_by_default_and_filters(client, monitor, coordinator, participant):
    other = enrolled(coordinator)
    first = raised(client, monitor, participant, question="First?")
    second = raised(client, monitor, other, question="Second?")
    client.post(reverse("safety:query_close", args=[first.pk]))

    default = client.get(QUERIES_URL)
    closed = client.get(QUERIES_URL, {"state": "closed"})
    everything = client.get(
        QUERIES_URL, {"state": "all", "participant": participant.subject_id.removeprefix("ITP-")}
    )

    assert [q.pk for q in default.context["page"]] == [second.pk]
    assert [q.pk for q in closed.context["page"]] == [first.pk]
    assert [q.pk for q in everything.context["page"]] == [first.pk]
    assert "Second?" in default.content.decode()


def test_it_takes_the_same_number_of_queries_for_few_and_many(client, monitor, participant):
    client.force_login(monitor)
    for n in range(2):
        raised(client, monitor, participant, question=f"Q{n}")
    client.get(QUERIES_URL)

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            client.get(QUERIES_URL)
        return len(ctx.captured_queries)

    few = count()
    for n in range(20):
        raised(client, monitor, participant, question=f"More {n}")
    assert count() == few


def test_its_filters_offer_a_new_query_for_the_participant_filtered(client, monitor, participant):
    client.force_login(monitor)

    everyone = client.get(QUERIES_URL).content.decode()
    one = client.get(QUERIES_URL, {"participant": participant.subject_id}).content.decode()

    raise_url = reverse("safety:query_create", args=[participant.pk])
    assert raise_url not in everyone and 'href="?"' not in everyone
    assert f'href="{raise_url}"' in one
    assert f"Raise a query for {participant.subject_id}" in one
    assert 'data-testid="query-filters"' in one and ">Reset<" not in one
