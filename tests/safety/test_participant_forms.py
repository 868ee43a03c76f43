"""A participant's forms and their SDV state read from its loaded records (the participant
page's review panel and the dashboard's progress) are the forms and states of the SQL that
lists and counts them for the other pages (sdv_forms, sdv_progress)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from reporting.selectors.common import review_records
from safety.review import REVIEW_FORMS_PER_PAGE
from safety.sdv import (
    forms_progress,
    participant_forms,
    record_verify,
    sdv_forms,
    sdv_progress,
    verified_versions,
)
from safety.services import conmed_record
from safety.targets import TARGETS
from subjects.models import Participant
from tests.safety.review_data import verified
from tests.safety.review_records import trial_records
from visits.models import PlateletCount, Visit

pytestmark = pytest.mark.django_db

COMPARED = ("r_kind", "pk", "r_label", "version", "is_verified", "is_changed")


def _loaded(participant_id: int) -> Participant:
    return Participant.objects.prefetch_related(
        "eligibility_answers",
        "visits",
        "infusions",
        "platelet_counts",
        "adverse_events",
        "conmeds",
    ).get(pk=participant_id)


def _from_records(participant_id: int) -> list[dict]:
    return participant_forms(
        records=review_records(_loaded(participant_id)),
        verified=verified_versions(participant_id=participant_id),
    )


def _compared(rows) -> list[tuple]:
    return [tuple(row[key] for key in COMPARED) for row in rows]


@pytest.fixture
def reviewed(coordinator, monitor):
    """A participant with a record of every kind: some forms verified, one changed since, one
    visit missed, visits not done; and a second participant, wholly verified."""
    other = trial_records(coordinator)["participant"]
    verified(other, monitor=monitor)
    records = trial_records(coordinator)
    participant = records["participant"]
    # A missed visit is a form. The service marks one missed only after treatment ends, far
    # from this participant's state: the row is set so here, for the read to find it.
    missed = participant.visits.get(code="V4")
    Visit.objects.filter(pk=missed.pk).update(missed=True, missed_reason="Travel")
    participant.missed_code = missed.code
    for kind in ("visit", "platelet", "conmed", "eligibility"):
        record = records[kind]
        record_verify(kind=kind, object_id=record.pk, user=monitor, version=record.version)
    conmed = records["conmed"]
    conmed_record(
        participant=participant,
        user=coordinator,
        conmed=conmed,
        data={"dose": "1 g"},
        reason="Dose misread",
        version=conmed.version,
    )
    return participant


def test_it_reads_the_same_forms_and_states_as_the_sql(reviewed):
    from_records = _from_records(reviewed.pk)

    assert _compared(from_records) == _compared(sdv_forms(participant_id=reviewed.pk))
    states = {(row["r_kind"], row["state"]) for row in from_records}
    assert {("visit", "verified"), ("conmed", "changed"), ("infusion", "not_verified")} <= states
    # The missed visit is a form; the visits not done yet are not.
    labels = [row["r_label"] for row in from_records if row["r_kind"] == "visit"]
    assert reviewed.missed_code in labels and len(labels) < reviewed.visits.count()


def test_its_progress_is_the_progress_the_sql_counts(reviewed):
    assert (
        forms_progress(_from_records(reviewed.pk))
        == sdv_progress(participant_ids=[reviewed.pk])[reviewed.pk]
    )


@pytest.mark.parametrize("kind", sorted(TARGETS))
def test_a_loaded_record_is_a_form_exactly_when_the_sql_says_so(reviewed, kind):
    target = TARGETS[kind]
    loaded = {r.pk for r in target.model._default_manager.all() if target.is_form(r)}

    assert loaded == set(target.forms().values_list("pk", flat=True))


def test_it_refuses_records_without_every_kind(reviewed):
    records = review_records(_loaded(reviewed.pk))
    del records["conmed"]

    with pytest.raises(ValueError):
        participant_forms(records=records, verified={})


def test_the_dashboard_shows_the_progress_the_sql_counts(client, investigator, reviewed):
    client.force_login(investigator)

    response = client.get(reverse("subjects:dashboard", args=[reviewed.pk]))

    assert (
        response.context["review_progress"]
        == sdv_progress(participant_ids=[reviewed.pk])[reviewed.pk]
    )


def test_the_review_panel_reaches_every_form_a_page_at_a_time(client, coordinator, reviewed):
    today = timezone.localdate()
    PlateletCount.objects.bulk_create(
        PlateletCount(participant=reviewed, sample_date=today - timedelta(days=n), platelets=50)
        for n in range(20, 50)
    )
    every = _compared(sdv_forms(participant_id=reviewed.pk))
    assert len(every) > REVIEW_FORMS_PER_PAGE
    client.force_login(coordinator)
    url = reverse("subjects:detail", args=[reviewed.pk])

    shown, number = [], 1
    while True:
        response = client.get(url, {"forms": number})
        shown += _compared(response.context["review_forms"])
        if not response.context["review_forms_page"].has_next():
            break
        assert response.context["forms_nav"]["next"].endswith(f"forms={number + 1}")
        number += 1

    assert number == -(-len(every) // REVIEW_FORMS_PER_PAGE) >= 2
    assert shown == every
    assert response.context["review_progress"].total == len(every)


def test_the_review_panel_counts_the_queries_as_the_sql(client, coordinator, monitor, reviewed):
    from safety import dataqueries
    from safety.review import query_totals

    today = timezone.localdate()
    visit = reviewed.visits.exclude(actual_date=None).first()
    raised = [
        dataqueries.query_raise(
            user=monitor,
            kind="visit",
            object_id=visit.pk,
            question=f"Check {n}?",
            due_date=today + timedelta(days=n),
            now=timezone.now() - timedelta(days=30),
        )
        for n in (-5, -1, 0, 7)
    ]
    dataqueries.query_answer(query_id=raised[1].pk, user=coordinator, answer="Checked")
    dataqueries.query_close(query_id=raised[2].pk, user=monitor, comment="")
    client.force_login(coordinator)

    response = client.get(reverse("subjects:detail", args=[reviewed.pk]))

    totals = response.context["review_queries"]
    assert totals == query_totals(participant_ids=[reviewed.pk])
    assert totals == {"open": 2, "answered": 1, "overdue": 1}
    badges = {(f["r_kind"], f["pk"]): f["open_queries"] for f in response.context["review_forms"]}
    assert badges[("visit", visit.pk)] == 3
