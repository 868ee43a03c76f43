"""The admin manages accounts and roles only. For a superuser holding every role too, every
write URL of every clinical and review admin is refused and nothing changes; users are
deactivated, never deleted; a superuser is not an investigator in the application."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import ProtectedError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from exchange.export import export_record
from exchange.models import DataImport
from itp_trial import protocol, roles
from itp_trial.admin import ClinicalReadOnlyAdmin, RecordReadOnlyAdmin
from safety.signatures import casebook_sign
from subjects.models import Participant, Signature
from tests.factories import PASSWORD
from tests.itp_trial.test_role_matrix import trial  # noqa: F401  (the fixture)
from visits.services import platelet_record

pytestmark = pytest.mark.django_db

READ_ONLY_ADMINS = sorted(
    (
        model
        for model, model_admin in admin.site._registry.items()
        if isinstance(model_admin, (ClinicalReadOnlyAdmin, RecordReadOnlyAdmin))
    ),
    key=lambda m: m._meta.label,
)


def test_every_clinical_and_review_model_has_a_read_only_admin():
    from itp_trial.roles import CLINICAL_MODELS

    labels = {m._meta.label_lower for m in READ_ONLY_ADMINS}
    assert set(CLINICAL_MODELS) <= labels
    assert {
        "subjects.signature",
        "safety.dataquery",
        "safety.flag",
        "exchange.dataexport",
    } <= labels


@pytest.fixture
def root(client, django_user_model):
    """A superuser who also holds every role."""
    user = django_user_model.objects.create_superuser("root", "root@example.org", PASSWORD)
    user.groups.set(Group.objects.filter(name__in=roles.ROLES))
    client.force_login(user)
    return user


@pytest.fixture
def records(trial, personas, root):  # noqa: F811
    """A record of every admin's model: the role-matrix trial, a sign-off, an export, an import."""
    participant = Participant.objects.get(pk=trial["participant_id"])
    casebook_sign(
        participant_id=participant.pk,
        user=personas[roles.INVESTIGATOR],
        password=PASSWORD,
        meaning=next(iter(protocol.SIGNATURE_MEANING_TEXT)),
    )
    platelet_record(
        participant=participant,
        user=personas[roles.COORDINATOR],
        sample_date=timezone.localdate(),
        platelets=180,
        who_bleeding_grade=0,
    )
    export_record(user=personas[roles.MONITOR], names=["subjects"])
    DataImport.objects.create(imported_by=personas[roles.DATA_MANAGER], files="platelets.csv")
    return {model: model._default_manager.order_by("pk").first() for model in READ_ONLY_ADMINS}


def everything() -> dict[str, list]:
    """Every row of every admin's model and of its history, as stored."""
    state = {}
    for model in READ_ONLY_ADMINS:
        state[model._meta.label] = list(model._default_manager.order_by("pk").values())
        if hasattr(model, "history"):
            state[f"{model._meta.label} history"] = list(
                model.history.model.objects.order_by("pk").values()
            )
    return state


def write_urls(model, record) -> list[tuple[str, dict]]:
    info = f"admin:{model._meta.app_label}_{model._meta.model_name}"
    changelist = reverse(f"{info}_changelist")
    urls = [
        (reverse(f"{info}_add"), {}),
        (reverse(f"{info}_change", args=[record.pk]), {}),
        (reverse(f"{info}_delete", args=[record.pk]), {"post": "yes"}),
        (
            changelist,
            {"action": "delete_selected", "_selected_action": [record.pk], "post": "yes"},
        ),
        (changelist, {"form-TOTAL_FORMS": "1", "form-INITIAL_FORMS": "1", "_save": "Save"}),
    ]
    if hasattr(model, "history"):
        entry = record.history.order_by("history_id").first()
        urls.append(
            (
                reverse(f"{info}_simple_history", args=[record.pk, entry.history_id]),
                {"_save": "Revert"},
            )
        )
    return urls


def test_a_superuser_with_every_role_cannot_write_through_the_admin(client, records):
    before = everything()
    wrong = []
    for model, record in records.items():
        assert record is not None, model
        for url, data in write_urls(model, record):
            response = client.post(url, data)
            if response.status_code != 403:
                wrong.append((url, response.status_code))

    assert wrong == []
    assert everything() == before


def test_the_admin_offers_deactivation_not_deletion(client, root, coordinator):
    from tests.factories import platelet_counted
    from visits.models import PlateletCount

    platelet_counted(coordinator)
    changelist = reverse("admin:auth_user_changelist")
    page = client.get(changelist)
    actions = dict(page.context["action_form"].fields["action"].choices)
    assert "deactivate_users" in actions and "delete_selected" not in actions
    assert client.get(reverse("admin:auth_user_delete", args=[coordinator.pk])).status_code == 403
    assert (
        client.post(
            reverse("admin:auth_user_delete", args=[coordinator.pk]), {"post": "yes"}
        ).status_code
        == 403
    )

    response = client.post(
        changelist, {"action": "deactivate_users", "_selected_action": [coordinator.pk]}
    )

    assert response.status_code == 302
    coordinator.refresh_from_db()
    assert coordinator.is_active is False
    assert PlateletCount.history.filter(history_user=coordinator).exists()
    fresh = Client()
    login = fresh.post(reverse("login"), {"username": "coordinator", "password": PASSWORD})
    assert login.status_code == 200  # the form again: an inactive user cannot log in
    assert "_auth_user_id" not in fresh.session


def test_history_keeps_its_user_a_user_with_history_cannot_be_deleted(coordinator):
    from tests.factories import platelet_counted

    _participant, count = platelet_counted(coordinator)

    with pytest.raises(ProtectedError):
        get_user_model().objects.filter(pk=coordinator.pk).delete()

    assert count.history.latest().history_user == coordinator


def test_a_superuser_is_not_an_investigator(client, django_user_model, coordinator):
    from tests.factories import enrolled, infused

    user = django_user_model.objects.create_superuser("boss", "boss@example.org", PASSWORD)
    participant = enrolled(coordinator, planned=timezone.localdate() - timedelta(days=10))
    infused(coordinator, participant, 1, on=timezone.localdate() - timedelta(days=8))
    client.force_login(user)

    sign = client.post(
        reverse("subjects:sign", args=[participant.pk]),
        {"password": PASSWORD, "meaning": next(iter(protocol.SIGNATURE_MEANING_TEXT))},
    )
    stop = client.post(
        reverse("subjects:discontinue", args=[participant.pk]),
        {"on": timezone.localdate().isoformat(), "reason": "Family decision"},
    )

    assert (sign.status_code, stop.status_code) == (403, 403)
    assert not Signature.objects.exists()
    participant.refresh_from_db()
    assert participant.treatment_discontinued_date is None
    assert not user.has_perm("subjects.sign_casebook")
    assert not user.has_perm("subjects.discontinue_treatment")
