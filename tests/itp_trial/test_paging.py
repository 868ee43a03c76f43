"""Statements compiled once (itp_trial.paging.compiled_once): one per key, run again as
they are, their rows converted as the ORM's own iteration converts them."""

from __future__ import annotations

from datetime import date

import pytest

from itp_trial.paging import compiled_once
from subjects.models import Participant
from tests.factories import enrolled

pytestmark = pytest.mark.django_db


def test_it_runs_the_statement_of_a_key_again_and_keeps_keys_apart(coordinator):
    first = enrolled(coordinator)
    second = enrolled(coordinator)

    def of(participant: Participant):
        return lambda: Participant.objects.filter(pk=participant.pk).values_list(
            "subject_id", "consent_date"
        )

    key = ("test-paging", first.pk)
    assert compiled_once(key, of(first)) == [(first.subject_id, first.consent_date)]
    # The same key runs the statement it was compiled to, whatever is passed with it:
    # the caller's key must hold every value the query is made from.
    assert compiled_once(key, of(second)) == [(first.subject_id, first.consent_date)]
    assert compiled_once(("test-paging", second.pk), of(second)) == [
        (second.subject_id, second.consent_date)
    ]
    # Dates come back as dates, on SQLite too (the ORM's converters).
    assert isinstance(compiled_once(key, of(first))[0][1], date)
