"""The investigator's signature (protocol section 8, 21 CFR 11.50/11.70/11.200)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from infusions.models import Infusion
from safety.casebook import CASEBOOK_MODELS, STALE, casebook_hashes, signature_states
from safety.checks import checks_run
from safety.models import AdverseEvent, ConcomitantMedication, Flag, FlagKind
from safety.signatures import casebook_sign
from subjects.models import EligibilityAnswer, Participant, Signature
from tests.factories import PASSWORD, signed
from visits.models import PlateletCount, Visit, WindowStatus
from visits.services import visit_record

from .review_data import casebook

pytestmark = pytest.mark.django_db


@pytest.fixture
def participant(coordinator):
    return casebook(coordinator)


def hash_of(participant) -> str:
    return casebook_hashes([participant.pk])[participant.pk]


def test_it_records_who_when_with_zone_what_it_means_and_the_hash(investigator, participant):
    before = hash_of(participant)

    signature = signed(investigator, participant, meaning="approval")

    assert signature.signer_name == "Wang Fang"
    assert signature.signed_by == investigator
    assert timezone.is_aware(signature.signed_at)
    assert signature.time_zone == timezone.get_current_timezone_name()
    assert signature.meaning == "approval"
    assert signature.statement.startswith("I approve")
    assert signature.content_hash == before and len(before) == 64
    assert signature.history.get().history_user == investigator
    assert signature_states([participant.pk])[participant.pk].current


def test_it_refuses_a_wrong_password_and_writes_nothing(investigator, participant):
    with pytest.raises(ValidationError) as refused:
        casebook_sign(
            participant_id=participant.pk, user=investigator, password="wrong", meaning="review"
        )
    assert "password" in refused.value.message_dict
    assert not Signature.objects.exists()
    assert not Signature.history.model.objects.exists()


def test_it_refuses_a_meaning_outside_the_protocol_list(investigator, participant):
    with pytest.raises(ValidationError) as refused:
        casebook_sign(
            participant_id=participant.pk, user=investigator, password=PASSWORD, meaning="x"
        )
    assert "meaning" in refused.value.message_dict
    assert not Signature.objects.exists()


@pytest.mark.parametrize("role", ["coordinator", "monitor", "data_manager"])
def test_it_lets_only_an_investigator_sign(request, participant, role):
    user = request.getfixturevalue(role)
    with pytest.raises(PermissionDenied):
        casebook_sign(participant_id=participant.pk, user=user, password=PASSWORD, meaning="review")
    assert not Signature.objects.exists()


def test_it_gives_a_superuser_no_signature(participant, django_user_model):
    admin = django_user_model.objects.create_superuser("root", password=PASSWORD)
    with pytest.raises(PermissionDenied):
        casebook_sign(
            participant_id=participant.pk, user=admin, password=PASSWORD, meaning="review"
        )
    assert not Signature.objects.exists()


def test_it_refuses_to_sign_while_an_sae_report_is_overdue(coordinator, investigator):
    participant = casebook(coordinator, serious=True)
    checks_run()
    assert Flag.objects.filter(kind=FlagKind.SAE_REPORT_OVERDUE, resolved_at=None).exists()

    with pytest.raises(ValidationError, match="report is overdue"):
        signed(investigator, participant)

    assert not Signature.objects.exists()


def test_it_refuses_an_overdue_sae_report_the_checks_have_not_flagged_yet(
    coordinator, investigator
):
    participant = casebook(coordinator, serious=True)
    assert not Flag.objects.exists()
    with pytest.raises(ValidationError, match="report is overdue"):
        signed(investigator, participant)


# One stored value of each kind of record, changed directly, moves the hash.
CHANGES = [
    (Participant, "pk", {"consent_version": "9.9"}),
    (EligibilityAnswer, "participant_id", {"met": False}),
    (Visit, "participant_id", {"weight_kg": Decimal("61.5")}),
    (PlateletCount, "participant_id", {"platelets": 41}),
    (Infusion, "participant_id", {"lot_number": "MSC-02"}),
    (AdverseEvent, "participant_id", {"term": "Migraine"}),
    (ConcomitantMedication, "participant_id", {"dose": "1 g"}),
]


def test_it_covers_every_kind_of_clinical_record():
    assert {model for model, _, _ in CHANGES} == set(CASEBOOK_MODELS)


@pytest.mark.parametrize(
    ("model", "owner", "values"), CHANGES, ids=lambda v: getattr(v, "__name__", "")
)
def test_it_changes_the_hash_when_any_record_changes(participant, model, owner, values):
    before = hash_of(participant)
    row = model.objects.filter(**{owner: participant.pk}).order_by("pk").first()
    model.objects.filter(pk=row.pk).update(**values)
    assert hash_of(participant) != before


def test_it_keeps_the_hash_when_nothing_a_person_entered_changed(coordinator, participant):
    other = casebook(coordinator)
    before = hash_of(participant)

    # Derived values move with time and the schedule; another participant's data change.
    Visit.objects.filter(participant=participant).update(window_status=WindowStatus.OVERDUE)
    Participant.objects.filter(pk=participant.pk).update(status="completed", version=99)
    Participant.objects.filter(pk=other.pk).update(consent_version="9.9")

    assert hash_of(participant) == before


def test_it_computes_the_hashes_in_a_fixed_number_of_queries(coordinator, participant):
    second = casebook(coordinator)
    with CaptureQueriesContext(connection) as one:
        casebook_hashes([participant.pk])
    with CaptureQueriesContext(connection) as two:
        hashes = casebook_hashes([participant.pk, second.pk])
    assert len(one) == len(two) == len(CASEBOOK_MODELS)
    assert hashes[participant.pk] != hashes[second.pk]


def test_it_goes_stale_on_a_later_edit_raises_the_flag_and_resigning_resolves_it(
    coordinator, investigator, participant
):
    first = signed(investigator, participant)
    v2 = Visit.objects.get(participant=participant, code="V2")

    visit_record(
        visit=v2,
        user=coordinator,
        data={"actual_date": v2.target_date, "weight_kg": Decimal("60.5")},
        reason="Weight from the source",
    )
    checks_run(participant_ids=[participant.pk])

    first.refresh_from_db()
    assert first.stale_at is not None
    assert signature_states([participant.pk])[participant.pk].status == STALE
    flag = Flag.objects.get(kind=FlagKind.SIGNATURE_STALE)
    assert flag.participant_id == participant.pk and flag.resolved_at is None
    assert flag.history.get().history_change_reason == "Raised by the checks"
    checks_run(participant_ids=[participant.pk])
    assert Flag.objects.filter(kind=FlagKind.SIGNATURE_STALE).count() == 1  # idempotent

    second = signed(investigator, participant)

    flag.refresh_from_db()
    assert flag.resolved_at is not None
    assert signature_states([participant.pk])[participant.pk].signature == second
    assert signature_states([participant.pk])[participant.pk].current


def test_it_stays_stale_when_the_value_is_changed_back(investigator, participant):
    signature = signed(investigator, participant)
    Participant.objects.filter(pk=participant.pk).update(consent_version="9.9")
    checks_run(participant_ids=[participant.pk])
    Participant.objects.filter(pk=participant.pk).update(consent_version="2.1")
    assert hash_of(participant) == signature.content_hash

    checks_run(participant_ids=[participant.pk])

    assert signature_states([participant.pk])[participant.pk].status == STALE
    assert Flag.objects.get(kind=FlagKind.SIGNATURE_STALE).resolved_at is None


def test_it_marks_the_signature_stale_in_its_history(investigator, participant):
    signature = signed(investigator, participant)
    Participant.objects.filter(pk=participant.pk).update(consent_version="9.9")
    checks_run(participant_ids=[participant.pk], now=timezone.now() + timedelta(minutes=1))
    latest = signature.history.latest()
    assert latest.stale_at is not None and latest.history_type == "~"
    assert latest.history_change_reason == "The casebook data changed after signing"
