"""The demo trial shows each clinical situation of protocol sections 1, 3, 4 and 7 at least once.

Each situation is recognised from the stored data, not from the participant's name, so a
change of the scenario that loses one makes its test fail.
"""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db import transaction

from itp_trial import protocol
from subjects.models import Participant, ParticipantStatus
from visits import response
from visits.models import Visit, WindowStatus
from visits.selectors import participant_response, participants_with_outcomes

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    """The demo trial seeded once for the module (seeding takes a while), rolled back after."""
    with django_db_blocker.unblock(), transaction.atomic():
        call_command("seed_demo", stdout=io.StringIO())
        yield
        transaction.set_rollback(True)


def _last_infusion(participant: Participant):
    return participant.infusions.order_by("-number").first()


def _discontinued_days_after_last_infusion() -> set[int | None]:
    days = set()
    for p in Participant.objects.filter(treatment_discontinued_date__isnull=False):
        last = _last_infusion(p)
        days.add((p.treatment_discontinued_date - last.infusion_date).days if last else None)
    return days


@pytest.mark.parametrize("days", [1, 25])
def test_it_shows_a_discontinuation_some_days_after_the_last_infusion(demo, days):
    assert days in _discontinued_days_after_last_infusion()


def test_it_shows_v4_hanging_on_the_discontinuation_and_a_follow_up_no_longer_expected(demo):
    late = [
        p
        for p in Participant.objects.filter(treatment_discontinued_date__isnull=False)
        if _last_infusion(p)
        and (p.treatment_discontinued_date - _last_infusion(p).infusion_date).days == 25
    ]
    (participant,) = late
    v4 = participant.visits.get(code="V4")
    assert v4.target_date == participant.treatment_discontinued_date
    d14 = participant.visits.get(code="V5-D14")
    assert d14.window_status == WindowStatus.NOT_EXPECTED
    assert d14.window_end < participant.treatment_discontinued_date


def test_it_shows_a_discontinuation_before_infusion_1_with_nothing_expected(demo):
    (participant,) = Participant.objects.filter(
        treatment_discontinued_date__isnull=False, infusions__isnull=True
    )
    assert participant.status == ParticipantStatus.FOLLOW_UP
    after = participant.visits.filter(
        code__in=[v.code for v in protocol.VISITS if v.kind != protocol.KIND_SCREENING]
    ).exclude(code="V2")
    assert {v.window_status for v in after} == {WindowStatus.NOT_EXPECTED}


def _withdrawn_with_next_infusion() -> list[tuple[Participant, Visit]]:
    found = []
    for p in Participant.objects.filter(withdrawal_date__isnull=False):
        given = set(p.infusions.values_list("number", flat=True))
        missing = [n for n in protocol.INFUSION_VISIT_CODES if n not in given]
        if missing:
            code = protocol.INFUSION_VISIT_CODES[missing[0]]
            found.append((p, p.visits.get(code=code)))
    return found


@pytest.mark.parametrize("overdue", [True, False], ids=["overdue", "pending"])
def test_it_shows_a_withdrawal_with_an_infusion_still_to_come(demo, overdue):
    matching = [
        (p, visit)
        for p, visit in _withdrawn_with_next_infusion()
        if (visit.window_end < p.withdrawal_date) == overdue
    ]
    assert matching
    for p, _visit in matching:
        not_given = p.visits.filter(
            code__in=protocol.INFUSION_VISIT_CODES.values(), window_status=WindowStatus.NOT_EXPECTED
        )
        assert not_given.count() == protocol.INFUSION_COUNT - p.infusions.count()


def _responses() -> dict[str, response.ResponseSummary]:
    queryset = participants_with_outcomes(Participant.objects.all())
    return {p.subject_id: participant_response(p) for p in queryset}


@pytest.mark.parametrize("best", [response.CR, response.R])
def test_it_shows_a_loss_of_response(demo, best):
    lost = [s for s in _responses().values() if s.best_response == best and s.loss_of_response]
    assert lost
    for summary in lost:
        assert (
            summary.response_duration_days
            == (summary.response_lost_on - summary.response_start).days
        )


def test_it_shows_a_dip_of_one_assessment_that_recovers(demo):
    level = {response.CR: {response.CR}, response.R: {response.CR, response.R}}
    dips = []
    for subject_id, s in _responses().items():
        if s.best_response not in level or s.loss_of_response:
            continue
        after = [
            a for a in s.assessments if a.evaluable and a.sample.sample_date > s.response_start
        ]
        below = [i for i, a in enumerate(after) if a.category not in level[s.best_response]]
        if len(below) == 1 and below[0] < len(after) - 1:
            dips.append(subject_id)
    assert dips


def test_it_shows_an_eligible_participant_not_enrolled(demo):
    waiting = Participant.objects.filter(eligible=True, enrolled_on__isnull=True)
    assert waiting.exists()
    assert set(waiting.values_list("status", flat=True)) == {ParticipantStatus.SCREENING}
