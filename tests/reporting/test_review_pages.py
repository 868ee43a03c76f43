"""The sign page, the casebook lock page and the database lock page: who reaches them, what
they write, what they refuse, and a constant number of queries with 5 or 200 participants."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from itp_trial.locks import DatabaseLock, database_locked
from safety.models import DataQuery, Flag, FlagKind
from subjects.models import CasebookLock, Participant, Signature
from tests.factories import PASSWORD, schedules_bulk, signed
from tests.safety.review_data import casebook, locked, verified

pytestmark = pytest.mark.django_db


@pytest.fixture
def participant(coordinator):
    return casebook(coordinator)


def sign_url(p) -> str:
    return reverse("subjects:sign", args=[p.pk])


def lock_url(p) -> str:
    return reverse("subjects:lock", args=[p.pk])


def test_it_lists_the_open_queries_before_signing(client, investigator, monitor, participant):
    DataQuery.objects.create(participant=participant, question="Weight at V2?", raised_by=monitor)
    client.force_login(investigator)
    html = client.get(sign_url(participant)).content.decode()
    assert 'data-testid="open-query"' in html and "Weight at V2?" in html
    assert 'data-testid="sign-form"' in html and "data-confirm=" in html
    for code, _text in __import__("itp_trial.protocol").protocol.SIGNATURE_MEANINGS:
        assert f'value="{code}"' in html


def test_it_refuses_a_wrong_password_on_the_page_and_writes_nothing(
    client, investigator, participant
):
    client.force_login(investigator)
    response = client.post(sign_url(participant), {"meaning": "review", "password": "nope"})
    assert response.status_code == 200
    assert "password" in response.context["form"].errors
    assert not Signature.objects.exists()
    assert not Signature.history.model.objects.exists()


def test_it_signs_from_the_page(client, investigator, participant):
    client.force_login(investigator)
    response = client.post(sign_url(participant), {"meaning": "review", "password": PASSWORD})
    assert response.status_code == 302
    signature = Signature.objects.get()
    assert (signature.participant, signature.signer_name) == (participant, "Wang Fang")
    html = client.get(sign_url(participant)).content.decode()
    assert 'data-testid="signature-state" data-status="current"' in html
    assert signature.content_hash in html


def test_it_shows_the_sae_refusal_on_the_sign_page(client, coordinator, investigator):
    p = casebook(coordinator, serious=True)
    client.force_login(investigator)
    assert 'data-testid="sae-open"' in client.get(sign_url(p)).content.decode()
    response = client.post(sign_url(p), {"meaning": "review", "password": PASSWORD})
    assert response.status_code == 200
    assert "report is overdue" in response.content.decode()
    assert not Signature.objects.exists()


def test_it_says_what_is_missing_then_locks_after_confirmation(
    client, investigator, monitor, data_manager, participant
):
    client.force_login(data_manager)
    html = client.get(lock_url(participant)).content.decode()
    assert 'data-testid="missing-item"' in html and "Not signed" in html
    refused = client.post(lock_url(participant), {"lock-confirm": "on"})
    assert "cannot be locked yet" in refused.content.decode()
    assert not CasebookLock.objects.exists()

    signed(investigator, participant)
    verified(participant, monitor=monitor)
    unconfirmed = client.post(lock_url(participant), {})
    assert "confirm" in unconfirmed.context["form"].errors
    assert not CasebookLock.objects.exists()

    assert client.post(lock_url(participant), {"lock-confirm": "on"}).status_code == 302
    assert Participant.objects.get(pk=participant.pk).locked_at is not None
    html = client.get(lock_url(participant)).content.decode()
    assert 'data-testid="unlock-form"' in html and 'data-testid="casebook-locked"' in html


def test_it_unlocks_from_the_page_only_with_a_reason(
    client, investigator, data_manager, participant
):
    locked(participant, investigator=investigator, data_manager=data_manager)
    client.force_login(data_manager)
    unlock = reverse("subjects:unlock", args=[participant.pk])

    refused = client.post(unlock, {"unlock-reason": ""})
    assert refused.status_code == 200
    assert "reason" in refused.context["unlock_form"].errors
    assert Participant.objects.get(pk=participant.pk).locked_at is not None

    assert client.post(unlock, {"unlock-reason": "Late lab result"}).status_code == 302
    assert Participant.objects.get(pk=participant.pk).locked_at is None
    assert Flag.objects.filter(kind=FlagKind.SIGNATURE_STALE, resolved_at=None).exists()


def test_it_locks_and_unlocks_the_database_from_its_page(client, data_manager, participant):
    page = reverse("subjects:database_lock")
    client.force_login(data_manager)
    assert client.post(page, {}).status_code == 200
    assert not database_locked()

    assert client.post(page, {"lock-confirm": "on"}).status_code == 302
    assert database_locked()
    assert 'data-testid="database-locked"' in client.get(page).content.decode()

    refused = client.post(page, {"unlock-reason": " "})
    assert "reason" in refused.context["unlock_form"].errors
    assert database_locked()
    assert client.post(page, {"unlock-reason": "Sponsor query"}).status_code == 302
    assert DatabaseLock.objects.get().unlock_reason == "Sponsor query"


def _many(n: int, investigator) -> list[int]:
    """n participants, each with a signature, half of them stale."""
    ids = schedules_bulk(
        participants=n,
        visits={"V1": ("in_window", -30), "V2": ("pending", 5)},
        today=timezone.localdate(),
        prefix=f"N{n}",
    )
    Signature.objects.bulk_create(
        Signature(
            participant_id=pk,
            signed_by=investigator,
            signer_name="Wang Fang",
            signed_at=timezone.now(),
            time_zone="UTC",
            meaning="review",
            statement="I have reviewed",
            content_hash="0" * 64,
            stale_at=timezone.now() if i % 2 else None,
        )
        for i, pk in enumerate(ids)
    )
    return ids


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured)


@pytest.mark.parametrize(
    ("role", "page"),
    [
        ("investigator", "subjects:sign"),
        ("data_manager", "subjects:lock"),
        ("investigator", "subjects:dashboard"),
        ("investigator", "subjects:detail"),
        ("data_manager", "subjects:database_lock"),
    ],
)
def test_it_keeps_the_number_of_queries_with_5_or_200_participants(
    request, client, investigator, role, page
):
    client.force_login(request.getfixturevalue(role))
    counts = []
    for n in (5, 200):
        ids = _many(n, investigator)
        url = reverse(page) if page == "subjects:database_lock" else reverse(page, args=[ids[0]])
        client.get(url)  # warm the caches (content types, permissions)
        counts.append(_queries(client, url))
    assert counts[0] == counts[1]
