"""The nightly full pass (`checks_run(full=True)`) recomputes every stored schedule and
response set-based, a chunk of participants at a time: what it stores is what the
per-participant sync stores after a write, it raises the same flags, and its queries grow
with the chunks, never with the participants."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from safety.checks import checks_run
from safety.models import Flag
from subjects.models import Participant
from tests.reporting.dashboard_data import bulk_participants
from visits.models import VISIT_RESPONSE_FIELDS, ParticipantResponse, PlateletCount, Visit
from visits.services import SCHEDULE_FIELDS, responses_sync, schedule_sync, sync

pytestmark = pytest.mark.django_db

RESPONSE_FIELDS = [f.name for f in ParticipantResponse._meta.fields]
VISIT_FIELDS = ["pk", "participant_id", "code", *SCHEDULE_FIELDS, *VISIT_RESPONSE_FIELDS.values()]
FLAG_FIELDS = ["pk", "kind", "participant_id", "visit_id", "detail", "raised_at", "resolved_at"]


def derived() -> dict[str, list]:
    """Every stored derived value: schedules, statuses, responses, count categories."""
    return {
        "visits": list(Visit.objects.order_by("pk").values_list(*VISIT_FIELDS)),
        "status": list(Participant.objects.order_by("pk").values_list("pk", "status")),
        "responses": list(
            ParticipantResponse.objects.order_by("participant_id").values_list(*RESPONSE_FIELDS)
        ),
        "categories": list(
            PlateletCount.objects.order_by("pk").values_list("pk", "response_category")
        ),
    }


def make_stale(ids: list[int] | None = None) -> None:
    """Every derived value wrong, as a write behind the services (or a new rule) leaves it."""
    visits = Visit.objects.all() if ids is None else Visit.objects.filter(participant_id__in=ids)
    visits.update(
        target_date=None,
        window_start=None,
        window_end=None,
        provisional=True,
        window_status="pending",
        **{field: 7 for field in VISIT_RESPONSE_FIELDS.values()},
    )
    people = Participant.objects.all() if ids is None else Participant.objects.filter(pk__in=ids)
    people.update(status="")
    counts = PlateletCount.objects.all()
    if ids is not None:
        counts = counts.filter(participant_id__in=ids)
    counts.update(response_category="X")
    responses = ParticipantResponse.objects.all()
    if ids is not None:
        responses = responses.filter(participant_id__in=ids)
    responses.delete()


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of 3 participants, so that the demo's 40 span many chunks; on PostgreSQL every
    update goes through COPY, as a chunk of the 10,000-participant pass does."""
    monkeypatch.setattr(sync, "SYNC_CHUNK", 3)
    monkeypatch.setattr(sync, "RESPONSE_CHUNK", 3)
    monkeypatch.setattr(sync, "COPY_FROM_ROWS", 1)


def test_it_stores_what_the_per_participant_sync_stores_and_raises_the_same_flags(small_chunks):
    call_command("seed_demo", stdout=io.StringIO())
    now = timezone.now()
    today = timezone.localdate(now)
    ids = list(Participant.objects.order_by("pk").values_list("pk", flat=True))
    make_stale()
    for pk in ids:  # what each write does for its participant
        schedule_sync(participant_ids=[pk], today=today)
        responses_sync([pk])
    one_by_one = derived()
    checks_run(now=now)
    flags = list(Flag.objects.order_by("pk").values_list(*FLAG_FIELDS))
    assert flags, "the demo raises flags of several kinds"

    make_stale()
    assert derived() != one_by_one
    counts = checks_run(now=now, full=True)

    assert derived() == one_by_one
    assert all(n == 0 for kind in counts.values() for n in kind.values()), counts
    assert list(Flag.objects.order_by("pk").values_list(*FLAG_FIELDS)) == flags


def _full_pass_queries(more: int) -> int:
    """The full pass's queries after `more` participants, with everyone's values stale (so
    that every chunk writes every table)."""
    bulk_participants(more, platelets_each=6)
    make_stale()
    with CaptureQueriesContext(connection) as captured:
        checks_run(full=True)
    assert not Participant.objects.filter(status="").exists()
    assert not PlateletCount.objects.filter(response_category="X").exists()
    return len(captured)


def test_its_queries_do_not_grow_with_the_participants(db):
    few = _full_pass_queries(5)
    many = _full_pass_queries(45)  # 50 participants, all stale again
    assert many == few


def test_its_queries_grow_with_the_chunks_only(small_chunks):
    one_chunk = _full_pass_queries(3)
    two_chunks = _full_pass_queries(3)  # 6 participants, all stale again
    per_chunk = two_chunks - one_chunk
    assert per_chunk > 0
    assert _full_pass_queries(24) == one_chunk + 9 * per_chunk  # 30 participants: 10 chunks
