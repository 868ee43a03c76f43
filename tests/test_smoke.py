import pytest

from tests.factories import enrolled


@pytest.mark.django_db
def test_it_enrols_a_participant_with_a_full_schedule(coordinator):
    participant = enrolled(coordinator)
    assert participant.status == "enrolled"
    assert participant.visits.count() == 15
