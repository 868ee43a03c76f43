"""The demo trial's review: queries in every state, verified and changed-since forms."""

import io

import pytest
from django.core.management import call_command

from safety import sdv
from safety.models import DataQuery, QueryMessage, QueryState, Verification


@pytest.fixture
def demo(db):
    call_command("seed_demo", stdout=io.StringIO())


def test_it_has_queries_in_every_state_and_a_reopened_one(demo):
    assert set(DataQuery.objects.values_list("state", flat=True)) == set(QueryState.values)
    assert QueryMessage.objects.filter(kind="reopen").exists()
    from safety.review import query_record

    closed = DataQuery.objects.get(state="closed")
    assert query_record(closed).version > closed.target_version  # corrected from the query


def test_it_has_verified_forms_and_one_changed_since(demo):
    progress = sdv.sdv_trial_progress()
    assert progress.verified > 0 and progress.changed == 1
    assert progress.verified + progress.changed == Verification.objects.count()


def test_a_second_run_adds_no_review_record(demo):
    counts = (DataQuery.objects.count(), Verification.objects.count(), QueryMessage.objects.count())
    call_command("seed_demo", stdout=io.StringIO())
    assert (
        DataQuery.objects.count(),
        Verification.objects.count(),
        QueryMessage.objects.count(),
    ) == counts
