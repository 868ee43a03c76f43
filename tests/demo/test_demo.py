"""`make demo`'s data: a realistic trial, users per role, and a second run adds nothing."""

import io

import pytest
from django.core.management import call_command
from django.urls import reverse

from demo.scenario import DEMO_PASSWORD, DEMO_USERS
from subjects.models import Participant, ParticipantStatus
from tests.itp_trial.test_role_matrix import NAV


@pytest.fixture
def demo(db):
    call_command("seed_demo", stdout=io.StringIO())


def test_it_puts_participants_at_every_stage_of_the_protocol(demo):
    statuses = set(Participant.objects.values_list("status", flat=True))
    assert statuses == set(ParticipantStatus.values)


def test_it_adds_nothing_when_run_twice(demo):
    from safety.models import Flag
    from visits.models import PlateletCount

    counts = (Participant.objects.count(), PlateletCount.objects.count(), Flag.objects.count())
    history = Participant.history.count()
    call_command("seed_demo", stdout=io.StringIO())
    assert (
        Participant.objects.count(),
        PlateletCount.objects.count(),
        Flag.objects.count(),
    ) == counts
    assert Participant.history.count() == history


def test_it_raises_the_flags_a_real_site_would_see(demo):
    from safety.models import Flag

    kinds = set(Flag.objects.values_list("kind", flat=True))
    assert kinds == {
        "overdue",
        "out_of_window",
        "missed_visit",
        "dose_deviation",
        "sae_report_overdue",
        "signature_stale",
    }


def test_it_has_a_current_and_a_stale_signature_and_a_locked_casebook(demo):
    from safety.casebook import CURRENT, STALE, signature_states
    from subjects.models import CasebookLock, Signature

    states = signature_states(Signature.objects.values_list("participant_id", flat=True))
    assert {s.status for s in states.values()} == {CURRENT, STALE}
    lock = CasebookLock.objects.get()
    assert lock.unlocked_at is None and lock.participant.locked_at is not None
    assert states[lock.participant_id].status == CURRENT
    before = (Signature.history.count(), CasebookLock.history.count())
    call_command("seed_demo", stdout=io.StringIO())
    assert (Signature.history.count(), CasebookLock.history.count()) == before


@pytest.mark.parametrize("username,role", [(u, r) for u, r, _f, _l in DEMO_USERS])
def test_it_lets_each_demo_user_log_in_and_see_their_navigation(demo, client, username, role):
    response = client.post(
        reverse("login"), {"username": username, "password": DEMO_PASSWORD}, follow=True
    )
    assert response.status_code == 200
    assert response.context["user"].username == username
    shown = {item["url_name"] for item in response.context["nav_items"]}
    assert shown == NAV[role]


def test_it_refuses_to_seed_under_production_settings_and_writes_nothing(db, settings):
    from django.contrib.auth import get_user_model
    from django.core.management import CommandError

    settings.DEMO_DATA_ALLOWED = False

    with pytest.raises(CommandError, match="refuses to run under production settings"):
        call_command("seed_demo", stdout=io.StringIO())

    assert not get_user_model().objects.exists()
    assert not Participant.objects.exists()


def test_the_production_settings_forbid_the_demo_data():
    from tests.itp_trial.test_deploy import PRODUCTION_ENV, _manage

    result = _manage("seed_demo", env=PRODUCTION_ENV)

    assert result.returncode != 0
    assert "refuses to run under production settings" in result.stderr
    assert "Nothing was written" in result.stderr


def test_it_changes_no_stored_value_when_run_twice(demo):
    from infusions.models import Infusion
    from safety.models import AdverseEvent, ConcomitantMedication, Flag
    from visits.models import PlateletCount, Visit

    models = (
        Participant,
        Visit,
        Infusion,
        PlateletCount,
        AdverseEvent,
        ConcomitantMedication,
        Flag,
    )

    def snapshot():
        rows = {m.__name__: list(m.objects.order_by("pk").values()) for m in models}
        history = {m.__name__: m.history.count() for m in models if hasattr(m, "history")}
        return rows, history

    before = snapshot()
    call_command("seed_demo", stdout=io.StringIO())
    assert snapshot() == before
