"""Queries on any field of any record, and source data verification, through the services."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from safety import dataqueries, sdv
from safety.models import DataQuery, QueryMessage, Verification
from safety.targets import TARGETS
from tests.safety.review_records import QUERIED_FIELD, trial_records

pytestmark = pytest.mark.django_db


@pytest.fixture
def records(coordinator):
    return trial_records(coordinator)


@pytest.mark.parametrize("kind", sorted(TARGETS))
def test_it_raises_answers_and_closes_a_query_on_each_kind_of_record(
    kind, records, monitor, coordinator
):
    record = records[kind]
    participant = records["participant"]
    due = timezone.localdate() + timedelta(days=7)

    query = dataqueries.query_raise(
        user=monitor,
        kind=kind,
        object_id=record.pk,
        field_name=QUERIED_FIELD[kind],
        question="Please check against the source.",
        due_date=due,
    )

    assert (query.participant, query.number, query.state) == (participant, 1, "open")
    assert (query.target_kind, query.object_id, query.field_name) == (
        kind,
        record.pk,
        QUERIED_FIELD[kind],
    )
    assert query.due_date == due and query.target_version == record.version
    answered = dataqueries.query_answer(
        query_id=query.pk, user=coordinator, answer="Checked.", version=query.version
    )
    assert answered.state == "answered" and answered.answered_by == coordinator
    closed = dataqueries.query_close(query_id=query.pk, user=monitor, version=answered.version)
    assert closed.state == "closed" and closed.closed_by == monitor
    assert list(closed.messages.values_list("kind", "author")) == [
        ("question", monitor.pk),
        ("answer", coordinator.pk),
        ("close", monitor.pk),
    ]
    assert [h.state for h in closed.history.order_by("history_date", "history_id")] == [
        "open",
        "answered",
        "closed",
    ]
    assert all(h.history_user is not None for h in closed.history.all())


def test_it_numbers_queries_per_participant(records, monitor, coordinator):
    from tests.factories import enrolled

    other = enrolled(coordinator)
    numbers = [
        dataqueries.query_raise(
            user=monitor, kind="participant", object_id=p.pk, question="?"
        ).number
        for p in (records["participant"], other, records["participant"])
    ]

    assert numbers == [1, 1, 2]


def test_it_reopens_a_closed_query_with_a_reason(records, monitor):
    query = dataqueries.query_raise(
        user=monitor, kind="visit", object_id=records["visit"].pk, question="Weight?"
    )
    query = dataqueries.query_close(query_id=query.pk, user=monitor)

    with pytest.raises(ValidationError):
        dataqueries.query_reopen(query_id=query.pk, user=monitor, comment=" ")
    reopened = dataqueries.query_reopen(query_id=query.pk, user=monitor, comment="Still wrong")

    assert reopened.state == "open" and reopened.closed_at is None
    assert reopened.messages.last().kind == "reopen"


def test_it_refuses_a_stale_answer_and_writes_nothing(records, monitor, coordinator):
    query = dataqueries.query_raise(
        user=monitor, kind="visit", object_id=records["visit"].pk, question="Weight?"
    )
    loaded = query.version
    dataqueries.query_answer(query_id=query.pk, user=coordinator, answer="First", version=loaded)

    with pytest.raises(ValidationError) as refused:
        dataqueries.query_answer(
            query_id=query.pk, user=coordinator, answer="Second", version=loaded
        )

    assert refused.value.code == "stale"
    query.refresh_from_db()
    assert query.answer == "First"
    assert QueryMessage.objects.filter(query=query, kind="answer").count() == 1


@pytest.mark.parametrize("role", ["coordinator", "investigator"])
def test_it_lets_only_reviewers_raise_close_and_reopen(request, records, role):
    user = request.getfixturevalue(role)
    with pytest.raises(PermissionDenied):
        dataqueries.query_raise(user=user, kind="participant", object_id=1, question="?")
    assert not DataQuery.objects.exists()


def test_it_refuses_a_field_the_record_does_not_show_and_an_unknown_record(records, monitor):
    with pytest.raises(ValidationError):
        dataqueries.query_raise(
            user=monitor,
            kind="visit",
            object_id=records["visit"].pk,
            field_name="window_status",
            question="?",
        )
    with pytest.raises(ValidationError):
        dataqueries.query_raise(user=monitor, kind="visit", object_id=10**9, question="?")
    assert not DataQuery.objects.exists()


# --- source data verification ---------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(TARGETS))
def test_it_verifies_each_kind_of_form_at_its_version(kind, records, monitor):
    record = records[kind]

    verification = sdv.record_verify(
        kind=kind, object_id=record.pk, user=monitor, version=record.version
    )

    assert verification.verified_version == record.version
    assert verification.participant == records["participant"]
    assert sdv.sdv_state(record, verification) == sdv.VERIFIED
    assert verification.history.get().history_user == monitor


def test_a_later_change_returns_the_form_to_changed_since_verification(
    records, monitor, coordinator
):
    from tests.factories import visit_weight_corrected

    visit = records["visit"]
    sdv.record_verify(kind="visit", object_id=visit.pk, user=monitor, version=visit.version)
    before = sdv.sdv_progress(participant_ids=[visit.participant_id])[visit.participant_id]

    visit_weight_corrected(coordinator, visit)

    visit.refresh_from_db()
    verification = Verification.objects.get(target_kind="visit", object_id=visit.pk)
    assert sdv.sdv_state(visit, verification) == sdv.CHANGED
    after = sdv.sdv_progress(participant_ids=[visit.participant_id])[visit.participant_id]
    assert (after.verified, after.changed) == (before.verified - 1, before.changed + 1)
    todo = list(sdv.sdv_todo(participant_id=visit.participant_id, kind="visit"))
    assert [r["pk"] for r in todo if r["is_changed"]] == [visit.pk]
    assert visit.pk in [r["pk"] for r in todo]
    again = sdv.record_verify(kind="visit", object_id=visit.pk, user=monitor, version=visit.version)
    assert sdv.sdv_state(visit, again) == sdv.VERIFIED


def test_it_refuses_verifying_a_version_the_monitor_did_not_read(records, monitor):
    visit = records["visit"]

    with pytest.raises(ValidationError):
        sdv.record_verify(kind="visit", object_id=visit.pk, user=monitor, version=visit.version - 1)

    assert not Verification.objects.exists()


def test_it_lets_only_monitors_verify(records, coordinator, data_manager):
    for user in (coordinator, data_manager):
        with pytest.raises(PermissionDenied):
            sdv.record_verify(
                kind="participant",
                object_id=records["participant"].pk,
                user=user,
                version=records["participant"].version,
            )
    assert not Verification.objects.exists()


def test_progress_and_the_list_left_to_verify_count_every_form(records, monitor):
    pid = records["participant"].pk
    total = sdv.sdv_progress(participant_ids=[pid])[pid].total
    todo = sdv.sdv_todo(participant_id=pid)
    assert todo.count() == total

    sdv.record_verify(kind="infusion", object_id=records["infusion"].pk, user=monitor, version=1)

    progress = sdv.sdv_progress(participant_ids=[pid])[pid]
    assert (progress.total, progress.verified, progress.changed) == (total, 1, 0)
    assert sdv.sdv_todo(participant_id=pid).count() == total - 1
    assert sdv.sdv_trial_progress().verified == 1
