"""A read compiled once (itp_trial.compiled) gives what its queryset gives: the same model
instances with the same field values and select_related objects, or the same values_list
tuples; for every id, on the same compiled SQL; and it refuses what it cannot make."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from itp_trial.compiled import PLACEHOLDER, CompiledRead
from safety.models import DataQuery
from subjects.models import Participant, Signature
from tests.factories import screened
from visits.models import ParticipantResponse, PlateletCount

pytestmark = pytest.mark.django_db


def values(obj):
    return [getattr(obj, f.attname) for f in obj._meta.concrete_fields]


def counts_of(pk):
    return PlateletCount.objects.filter(participant_id=pk).order_by("sample_date")


def test_it_reads_model_instances_as_the_queryset_does(coordinator):
    first = screened(coordinator, today=date(2026, 1, 5))
    second = screened(coordinator, today=date(2026, 1, 6))
    PlateletCount.objects.bulk_create(
        PlateletCount(participant=p, sample_date=date(2026, 1, 1) + timedelta(days=k), platelets=k)
        for p, n in ((first, 3), (second, 5))
        for k in range(n)
    )
    read = CompiledRead(counts_of)
    for p in (first, second):
        loaded = read.rows(p.pk)
        expected = list(counts_of(p.pk))
        assert [values(c) for c in loaded] == [values(c) for c in expected]
        assert all(not c._state.adding and c._state.db == "default" for c in loaded)
    assert read.rows(-1) == []


def test_it_reads_select_related_objects_and_an_outer_join_that_found_none(coordinator):
    with_response = screened(coordinator, today=date(2026, 1, 5))  # the services store it
    (without,) = Participant.objects.bulk_create(
        [
            Participant(
                subject_id="C-0001",
                screening_number="CS-0001",
                sex="F",
                birth_date=date(1980, 1, 1),
                consent_date=date(2026, 1, 1),
                consent_version="2.1",
            )
        ]
    )
    read = CompiledRead(
        lambda pk: Participant.objects.select_related("stored_response").filter(pk=pk)
    )
    (loaded,) = read.rows(with_response.pk)
    expected = Participant.objects.select_related("stored_response").get(pk=with_response.pk)
    assert values(loaded) == values(expected)
    assert values(loaded.stored_response) == values(expected.stored_response)
    assert loaded.stored_response.participant is loaded
    (loaded,) = read.rows(without.pk)
    assert values(loaded) == values(Participant.objects.get(pk=without.pk))
    with pytest.raises(ParticipantResponse.DoesNotExist):
        loaded.stored_response  # noqa: B018  (known absent, as select_related leaves it)


def test_it_reads_a_foreign_key_selected_with_its_row(coordinator):
    signed = screened(coordinator, today=date(2026, 1, 5))
    unsigned = screened(coordinator, today=date(2026, 1, 6))
    Signature.objects.bulk_create(
        [
            Signature(
                participant=signed,
                signed_by=coordinator,
                signer_name="A Coordinator",
                signed_at=timezone.now(),
                time_zone="UTC",
                statement="I have reviewed the data",
                content_hash="0" * 64,
            )
        ]
    )
    signatures = CompiledRead(
        lambda pk: Signature.objects.select_related("signed_by").filter(participant_id=pk)
    )
    (signature,) = signatures.rows(signed.pk)
    assert values(signature) == values(Signature.objects.get(participant=signed))
    assert signature.signed_by.username == coordinator.username
    assert signatures.rows(unsigned.pk) == []


def test_it_reads_values_list_tuples(coordinator):
    p = screened(coordinator, today=date(2026, 1, 5))
    DataQuery.objects.create(participant=p, question="Please check.", raised_by=coordinator)

    def build(pk):
        return DataQuery.objects.filter(participant_id=pk).values_list("state", "due_date")

    assert CompiledRead(build).rows(p.pk) == list(build(p.pk))


def test_it_refuses_a_read_not_filtered_by_its_id_once():
    with pytest.raises(ValueError, match="exactly once"):
        CompiledRead(lambda pk: Participant.objects.all()).rows(1)
    with pytest.raises(ValueError, match="exactly once"):
        CompiledRead(lambda pk: Participant.objects.filter(pk=pk).exclude(pk=pk)).rows(1)
    assert PLACEHOLDER < 0  # no row has it


def test_it_refuses_annotations_and_deferred_fields():
    from django.db.models import Value

    with pytest.raises(ValueError, match="annotation"):
        CompiledRead(lambda pk: Participant.objects.filter(pk=pk).annotate(x=Value(1))).rows(1)
    with pytest.raises(ValueError, match="every field"):
        CompiledRead(lambda pk: Participant.objects.filter(pk=pk).only("subject_id")).rows(1)
