"""The review pages: read views of every record, queries from a field, correction from the
query, verification, and the counts on the navigation, worklist, participant page and
dashboard."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from safety.models import DataQuery, Verification
from safety.targets import TARGETS
from tests.safety.review_records import QUERIED_FIELD, trial_records

pytestmark = pytest.mark.django_db


@pytest.fixture
def records(coordinator):
    return trial_records(coordinator)


def read_url(kind, record) -> str:
    return reverse("safety:record", args=[kind, record.pk])


@pytest.mark.parametrize("kind", sorted(TARGETS))
@pytest.mark.parametrize("role", ["monitor", "data_manager", "coordinator", "investigator"])
def test_every_role_reads_every_kind_of_record_with_its_history(
    client, request, records, kind, role
):
    client.force_login(request.getfixturevalue(role))

    response = client.get(read_url(kind, records[kind]))

    assert response.status_code == 200
    body = response.content.decode()
    assert 'data-testid="history"' in body and 'data-testid="fields"' in body
    assert f'data-field="{QUERIED_FIELD[kind]}"' in body
    assert response.context["history"], "the record's creation is in its history"


@pytest.mark.parametrize("kind", sorted(TARGETS))
def test_a_monitor_raises_a_query_from_a_field_and_the_field_carries_a_marker(
    client, monitor, records, kind
):
    record = records[kind]
    client.force_login(monitor)
    field = QUERIED_FIELD[kind]
    form = client.get(reverse("safety:record_query", args=[kind, record.pk]), {"field": field})
    assert form.status_code == 200 and form.context["form"].initial["field_name"] == field

    response = client.post(
        reverse("safety:record_query", args=[kind, record.pk]) + f"?field={field}",
        {"field_name": field, "question": "Source says otherwise?", "due_date": "2099-01-01"},
    )

    assert response.status_code == 302
    query = DataQuery.objects.get()
    assert (query.target_kind, query.object_id, query.field_name) == (kind, record.pk, field)
    page = client.get(read_url(kind, record))
    row = page.context["page"].rows
    assert [r.name for r in row if r.open_queries] == [field]
    assert 'data-testid="field-query-marker"' in page.content.decode()


@pytest.mark.parametrize(
    "name,kwargs",
    [
        ("visits:edit", lambda r: {"visit_id": r["visit"].pk}),
        ("subjects:edit", lambda r: {"participant_id": r["participant"].pk}),
        ("safety:ae_edit", lambda r: {"ae_id": r["adverse_event"].pk}),
        ("safety:conmed_edit", lambda r: {"conmed_id": r["conmed"].pk}),
        ("infusions:record", lambda r: {"participant_id": r["participant"].pk, "number": 1}),
    ],
)
@pytest.mark.parametrize("role", ["monitor", "data_manager"])
def test_an_edit_page_sends_a_reviewer_to_the_read_view(
    client, request, records, name, kwargs, role
):
    client.force_login(request.getfixturevalue(role))

    response = client.get(reverse(name, kwargs=kwargs(records)))

    assert response.status_code == 302
    assert response["Location"].startswith("/safety/records/")
    assert client.get(response["Location"]).status_code == 200
    assert client.post(reverse(name, kwargs=kwargs(records)), {}).status_code == 403


def test_the_site_answers_and_corrects_from_the_query_and_the_monitor_closes_it_in_one_step(
    client, monitor, coordinator, records
):
    visit = records["visit"]
    client.force_login(monitor)
    client.post(
        reverse("safety:record_query", args=["visit", visit.pk]),
        {"field_name": "weight_kg", "question": "Weight 61 kg?", "due_date": "2099-01-01"},
    )
    query = DataQuery.objects.get()
    client.force_login(coordinator)
    detail = reverse("safety:query_detail", args=[query.pk])
    assert client.get(detail).context["can_correct"] is True

    correct = client.get(reverse("safety:query_correct", args=[query.pk]))
    assert correct["Location"] == reverse("visits:edit", args=[visit.pk])
    saved = client.post(
        correct["Location"],
        {
            "actual_date": visit.actual_date.isoformat(),
            "weight_kg": "62.0",
            "platelets": "45",
            "who_bleeding_grade": "0",
            "reason": "Transcription error",
            "version": visit.version,
            "platelet_version": records["platelet"].version,
        },
    )
    assert saved.status_code == 302, saved.context["form"].errors if saved.context else ""
    assert saved["Location"] == detail
    visit.refresh_from_db()
    assert visit.weight_kg == Decimal("62.0")
    answered = client.post(
        detail, {"action": "answer", "answer": "Corrected to 62.0", "version": query.version}
    )
    assert answered.status_code == 302
    query.refresh_from_db()
    assert query.state == "answered"

    client.force_login(monitor)
    page = client.get(detail)
    assert page.context["corrected"] is True
    closed = client.post(detail, {"action": "close", "comment": "", "version": query.version})

    assert closed.status_code == 302
    query.refresh_from_db()
    assert query.state == "closed" and query.closed_by == monitor
    assert [m.kind for m in query.messages.all()] == ["question", "answer", "close"]


def test_the_query_page_refuses_the_wrong_side(client, monitor, coordinator, records):
    client.force_login(monitor)
    client.post(
        reverse("safety:record_query", args=["visit", records["visit"].pk]),
        {"field_name": "weight_kg", "question": "?", "due_date": "2099-01-01"},
    )
    query = DataQuery.objects.get()
    detail = reverse("safety:query_detail", args=[query.pk])

    assert client.post(detail, {"action": "answer", "answer": "x", "version": 1}).status_code == 403
    client.force_login(coordinator)
    assert client.post(detail, {"action": "close", "version": 1}).status_code == 403
    query.refresh_from_db()
    assert query.state == "open" and query.version == 1


def test_a_monitor_verifies_a_form_from_its_read_view_and_a_change_unverifies_it(
    client, monitor, coordinator, records
):
    conmed = records["conmed"]
    client.force_login(monitor)

    response = client.post(
        reverse("safety:record_verify", args=["conmed", conmed.pk]), {"version": conmed.version}
    )

    assert response.status_code == 302
    assert Verification.objects.get().verified_version == conmed.version
    assert client.get(read_url("conmed", conmed)).context["sdv_state"] == "verified"
    todo = client.get(reverse("safety:sdv_todo"))
    assert ("conmed", conmed.pk) not in [(r["r_kind"], r["pk"]) for r in todo.context["page"]]

    from safety.services import conmed_record

    conmed_record(
        participant=records["participant"],
        user=coordinator,
        conmed=conmed,
        data={"dose": "1 g"},
        reason="Dose misread",
        version=conmed.version,
    )

    conmed.refresh_from_db()
    assert conmed.version == Verification.objects.get().verified_version + 1
    assert client.get(read_url("conmed", conmed)).context["sdv_state"] == "changed"
    todo = client.get(reverse("safety:sdv_todo"))
    assert ("conmed", conmed.pk) in [(r["r_kind"], r["pk"]) for r in todo.context["page"]]


def test_only_monitors_verify(client, coordinator, data_manager, records):
    for user in (coordinator, data_manager):
        client.force_login(user)
        url = reverse("safety:record_verify", args=["visit", records["visit"].pk])
        assert client.post(url, {"version": records["visit"].version}).status_code == 403
    assert not Verification.objects.exists()


def test_open_query_counts_show_in_the_navigation_worklist_participant_page_and_dashboard(
    client, monitor, coordinator, records
):
    from safety import dataqueries

    participant = records["participant"]
    for kind in ("visit", "infusion"):
        dataqueries.query_raise(
            user=monitor, kind=kind, object_id=records[kind].pk, question="Check?"
        )
    client.force_login(coordinator)

    worklist = client.get(reverse("visits:worklist"))
    assert worklist.context["nav_query_counts"]["open"] == 2
    assert 'data-testid="nav-open-queries"' in worklist.content.decode()
    assert worklist.context["worklist_queries_count"] == 2
    detail = client.get(reverse("subjects:detail", args=[participant.pk]))
    assert detail.context["review_queries"]["open"] == 2
    assert {f["r_kind"]: f["open_queries"] for f in detail.context["review_forms"]}["visit"] == 1
    dashboard = client.get(reverse("subjects:dashboard", args=[participant.pk]))
    assert dashboard.context["review_queries"]["open"] == 2
    assert 'data-testid="review-counts"' in dashboard.content.decode()
    overview = client.get(reverse("subjects:overview"))
    assert overview.context["review_queries"]["open"] == 2
    assert overview.context["review_progress"].total > 0
