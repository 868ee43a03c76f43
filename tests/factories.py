"""Test data: users with roles, and participants built through the real services."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import factory
from django.contrib.auth.models import Group, User
from django.utils import timezone
from factory.django import DjangoModelFactory

from itp_trial import protocol

PASSWORD = "Trial-pass-2026!"


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@hospital.test")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):  # set_password does not save by itself
        if create:
            obj.save()


def user_with_role(role: str, **kwargs: Any) -> User:
    user = UserFactory(**kwargs)
    user.groups.add(Group.objects.get(name=role))
    return user


def participant_data(*, today: date | None = None, **overrides: Any) -> dict[str, Any]:
    """Valid consent, demographic and history fields for a 36-year-old woman."""
    today = today or timezone.localdate()
    consent = overrides.pop("consent_date", today - timedelta(days=20))
    data = {
        "sex": "F",
        "birth_date": date(consent.year - 36, 3, 15),
        "consent_date": consent,
        "consent_version": "2.1",
        "itp_diagnosis_date": date(consent.year - 4, 6, 1),
        "prior_therapies": "Prednisone, IVIg, eltrombopag, rituximab",
        "splenectomy": False,
        "height_cm": Decimal("162.0"),
    }
    data.update(overrides)
    return data


def screened(user: User, *, today: date | None = None, **overrides: Any):
    from subjects.services import participant_screen

    return participant_screen(
        user=user, data=participant_data(today=today, **overrides), today=today
    )


def all_criteria_met() -> dict[str, bool]:
    return {c.code: c.required_answer for c in protocol.CRITERIA}


def eligible(user: User, *, today: date | None = None, **overrides: Any):
    from subjects.services import eligibility_record

    participant = screened(user, today=today, **overrides)
    eligibility_record(participant=participant, user=user, answers=all_criteria_met(), today=today)
    participant.refresh_from_db()
    return participant


def enrolled(
    user: User, *, planned: date | None = None, today: date | None = None, **overrides: Any
):
    from subjects.services import participant_enrol

    today = today or timezone.localdate()
    participant = eligible(user, today=today, **overrides)
    participant_enrol(
        participant=participant,
        user=user,
        planned_first_infusion_date=planned or today + timedelta(days=7),
        today=today,
    )
    participant.refresh_from_db()
    return participant
