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


def platelet_counted(user: User, *, platelets: int = 180):
    """A screened participant with one platelet count on the consent date: (participant, count)."""
    from visits.services import platelet_record

    participant = screened(user)
    count = platelet_record(
        participant=participant,
        user=user,
        sample_date=participant.consent_date,
        platelets=platelets,
        who_bleeding_grade=0,
    )
    return participant, count


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


def enrolled_in_the_past(user: User, **overrides: Any):
    """Consent 90 days ago, infusion 1 planned 80 days ago: every infusion date is past."""
    today = timezone.localdate()
    return enrolled(
        user,
        consent_date=today - timedelta(days=90),
        planned=today - timedelta(days=80),
        today=today,
        **overrides,
    )


# --- Safety checks at scale, and the Celery app pointed at a broker (tests/safety). ---


def schedules_bulk(
    *, participants: int, visits: dict[str, tuple[str, int]], today: date, prefix: str = "B"
) -> list[int]:
    """Participants and their visits written directly with chosen stored schedule values.

    `visits` maps a visit code to (window_status, window end in days from `today`); a done
    status gets an actual date, `missed` the missed mark. For the checks at scale only: no
    service runs, so nothing is validated or resynced (10,000 visits through the services
    would take minutes). Returns the participant ids.
    """
    from subjects.models import Participant
    from visits.models import Visit

    consent = today - timedelta(days=60)
    created = Participant.objects.bulk_create(
        Participant(
            subject_id=f"{prefix}{n:05d}",
            screening_number=f"S{prefix}{n:05d}",
            sex="F",
            birth_date=date(consent.year - 36, 3, 15),
            consent_date=consent,
            consent_version="2.1",
            status="enrolled",
        )
        for n in range(participants)
    )
    ids = [p.pk for p in created]
    rows = []
    for pk in ids:
        for code, (status, end_days) in visits.items():
            end = today + timedelta(days=end_days)
            # The window is end-6 .. end: early before it, late after it, in window inside.
            actual_days = {"in_window": -2, "early": -8, "late": 1}.get(status)
            rows.append(
                Visit(
                    participant_id=pk,
                    code=code,
                    window_start=end - timedelta(days=6),
                    window_end=end,
                    target_date=end - timedelta(days=3),
                    window_status=status,
                    actual_date=None if actual_days is None else end + timedelta(days=actual_days),
                    missed=status == "missed",
                    missed_reason="Travelling" if status == "missed" else "",
                )
            )
    Visit.objects.bulk_create(rows, batch_size=2000)
    return ids


def celery_configured(app: Any, **conf: Any):
    """The Celery app with `conf` applied, restored afterwards (a context manager).

    Celery reads CELERY_BROKER_URL and CELERY_RESULT_BACKEND from the environment before
    its configuration, so those are set too. Switching the broker needs the cached
    connection pools and result backend dropped; Celery keeps them on private attributes,
    so this is the one place that touches them.
    """
    import os
    from contextlib import contextmanager

    from kombu import pools

    environment = {"broker_url": "CELERY_BROKER_URL", "result_backend": "CELERY_RESULT_BACKEND"}

    def reset() -> None:
        pools.reset()  # closes and forgets every pool, so none is reused closed
        app._pool = None
        app.amqp._producer_pool = None
        app._backend_cache = None
        app._local.__dict__.pop("backend", None)

    def set_environment(values: dict[str, str | None]) -> None:
        for name, value in values.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    @contextmanager
    def configured():
        saved = {key: app.conf[key] for key in conf}
        saved_environment = {
            name: os.environ.get(name) for key, name in environment.items() if key in conf
        }
        app.conf.update(conf)
        set_environment({name: conf[key] for key, name in environment.items() if key in conf})
        reset()
        try:
            yield app
        finally:
            app.conf.update(saved)
            set_environment(saved_environment)
            reset()

    return configured()


# --- Infusions, through the real service (tests/infusions). ---


def infused(
    user: User,
    participant: Any,
    number: int = 1,
    *,
    on: date | None = None,
    weight: Decimal = Decimal("60.0"),
    actual: int | None = None,
    today: date | None = None,
    **data: Any,
):
    """Record infusion `number` through infusions.services.infusion_record.

    By default it is given on its target: infusion 1 on the planned date, infusion n the
    protocol offset after infusion n-1; the cells are exactly the planned dose. Pass
    `actual` for another dose and any other infusion field as a keyword.
    """
    from infusions import dosing
    from infusions.models import Infusion
    from infusions.services import infusion_record

    if on is None:
        if number == 1:
            on = participant.planned_first_infusion_date
        else:
            previous = Infusion.objects.get(participant=participant, number=number - 1)
            code = protocol.INFUSION_VISIT_CODES[number]
            on = previous.infusion_date + timedelta(days=protocol.VISITS_BY_CODE[code].offset)
    values = {
        "infusion_date": on,
        "dosing_weight_kg": weight,
        "actual_cells": actual if actual is not None else dosing.planned_cells(weight_kg=weight),
        "lot_number": f"LOT-{number:03d}",
        **data,
    }
    return infusion_record(
        participant=participant, user=user, number=number, data=values, today=today
    )


def adverse_event_onset(
    user: User,
    participant: Any,
    *,
    infusion: Any = None,
    today: date | None = None,
    ongoing: bool = False,
    serious: bool = False,
    awareness_at: Any = None,
):
    """An adverse event of onset a week ago, possibly related to `infusion`, through the
    service: a grade 1 headache, over the next day or still `ongoing`; `serious`, a grade 3
    pneumonia in hospital."""
    from safety.services import adverse_event_record

    today = today or timezone.localdate()
    return adverse_event_record(
        participant=participant,
        user=user,
        data={
            "term": "Pneumonia" if serious else "Headache",
            "onset_date": today - timedelta(days=7),
            "end_date": None if ongoing else today - timedelta(days=6),
            "ongoing": ongoing,
            "ctcae_grade": 3 if serious else 1,
            "serious": serious,
            "serious_criteria": ["hospitalisation"] if serious else [],
            "relationship": "possible",
            "related_infusion": infusion,
            "action_taken": "none",
            "outcome": "recovering" if ongoing else "recovered",
            "awareness_at": awareness_at or timezone.now() - timedelta(days=7),
            "reported_at": None,
        },
    )


def paracetamol_given(
    user: User, participant: Any, *, today: date | None = None, ongoing: bool = False
):
    """Paracetamol for the headache from a week ago, through the service: over the next day,
    or still `ongoing`."""
    from safety.services import conmed_record

    today = today or timezone.localdate()
    return conmed_record(
        participant=participant,
        user=user,
        data={
            "drug": "Paracetamol",
            "indication": "Headache",
            "dose": "500 mg",
            "start_date": today - timedelta(days=7),
            "end_date": None if ongoing else today - timedelta(days=6),
            "rescue": False,
        },
    )


def signed(user: User, participant: Any, *, meaning: str = "review", now: Any = None):
    """The investigator signs the participant's casebook through the service."""
    from safety.signatures import casebook_sign

    return casebook_sign(
        participant_id=participant.pk, user=user, password=PASSWORD, meaning=meaning, now=now
    )


def visit_weight_corrected(user: User, visit: Any, *, weight_kg: int = 62):
    """The visit's weight corrected through the service, from the visit's current version
    (its date, platelets and bleeding grade as a visit form would send them)."""
    from visits.services import visit_record

    return visit_record(
        visit=visit,
        user=user,
        data={
            "actual_date": visit.actual_date,
            "weight_kg": weight_kg,
            "platelets": 45,
            "who_bleeding_grade": 0,
        },
        reason="Transcription error",
        version=visit.version,
    )
