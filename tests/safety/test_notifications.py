"""E-mails: the immediate SAE alert to investigators, the daily digest of new flags."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from django.core import mail
from django.utils import timezone

from itp_trial.roles import INVESTIGATOR
from safety import tasks
from safety.checks import checks_run
from safety.models import AdverseEvent, Flag, FlagKind
from safety.notifications import flags_digest_send, role_emails
from tests.factories import schedules_bulk, user_with_role
from visits.models import WindowStatus

pytestmark = pytest.mark.django_db

TODAY = date(2025, 6, 2)


def at(day: date, hour: int = 12) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour)))


def serious_event(participant_id: int, *, awareness_at: datetime) -> AdverseEvent:
    return AdverseEvent.objects.create(
        participant_id=participant_id,
        ae_number=1,
        term="Intracranial haemorrhage",
        onset_date=awareness_at.date(),
        ongoing=True,
        ctcae_grade=4,
        serious=True,
        serious_criteria="life_threatening",
        relationship="unlikely",
        outcome="not_recovered",
        awareness_at=awareness_at,
    )


def test_it_takes_the_recipients_from_the_roles(coordinator, investigator, monitor):
    user_with_role(INVESTIGATOR, username="noemail", email="")
    user_with_role(INVESTIGATOR, username="gone", email="gone@hospital.test", is_active=False)

    assert role_emails(roles=[INVESTIGATOR]) == [investigator.email]
    assert role_emails(roles=["Site coordinator", INVESTIGATOR]) == sorted(
        [coordinator.email, investigator.email]
    )


def test_it_alerts_each_investigator_separately_about_an_overdue_sae(
    investigator, coordinator, monitor
):
    second = user_with_role(INVESTIGATOR, username="pi2", email="pi2@hospital.test")
    (participant_id,) = schedules_bulk(participants=1, visits={}, today=TODAY)
    serious_event(participant_id, awareness_at=at(TODAY) - timedelta(hours=30))

    checks_run(now=at(TODAY))

    assert sorted(m.to[0] for m in mail.outbox) == sorted([investigator.email, second.email])
    assert all(len(m.to) == 1 for m in mail.outbox)
    message = mail.outbox[0]
    assert message.subject.startswith("[NCT06813157] SAE report overdue")
    assert "Intracranial haemorrhage" in message.body and "24 hours" in message.body


def test_it_keeps_the_flag_and_logs_when_the_alert_cannot_be_sent(investigator, caplog, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 2
    (participant_id,) = schedules_bulk(participants=1, visits={}, today=TODAY)
    serious_event(participant_id, awareness_at=at(TODAY) - timedelta(hours=30))

    counts = checks_run(now=at(TODAY))

    assert counts[FlagKind.SAE_REPORT_OVERDUE]["raised"] == 1
    assert Flag.objects.filter(kind=FlagKind.SAE_REPORT_OVERDUE).exists()
    assert "could not send the SAE alert" in caplog.text


def test_it_sends_the_digest_of_flags_raised_in_the_last_24_hours(
    coordinator, investigator, monitor, data_manager
):
    visits = {"V2": (WindowStatus.LATE, -30), "V4": (WindowStatus.MISSED, -3)}
    old = schedules_bulk(participants=1, visits=visits, today=TODAY, prefix="OLD")
    new = schedules_bulk(participants=1, visits=visits, today=TODAY, prefix="NEW")
    checks_run(participant_ids=old, now=at(TODAY - timedelta(days=1), hour=1))
    checks_run(participant_ids=new, now=at(TODAY, hour=1))

    sent = flags_digest_send(now=at(TODAY, hour=2))

    assert sent == 2
    assert sorted(m.to[0] for m in mail.outbox) == sorted([coordinator.email, investigator.email])
    body = mail.outbox[0].body
    assert "2 new flags" in body and "NEW00000" in body and "OLD00000" not in body
    assert "Visit out of window (1)" in body and "Missed visit (1)" in body


def test_it_sends_no_digest_on_a_day_without_new_flags(coordinator, investigator):
    assert flags_digest_send(now=at(TODAY)) == 0
    assert not mail.outbox


def test_it_sends_the_digest_from_its_task(coordinator, investigator):
    schedules_bulk(participants=1, visits={"V4": (WindowStatus.MISSED, -3)}, today=TODAY)
    checks_run()

    assert tasks.flags_send_digest.delay().get() == 2
    assert len(mail.outbox) == 2
