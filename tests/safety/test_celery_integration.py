"""A real Celery worker on the real Redis broker and PostgreSQL runs the periodic checks.

Needs DATABASE_URL (PostgreSQL) and CELERY_BROKER_URL (Redis); skipped without them, and
failed instead under REQUIRE_SERVICES=1 (CI).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.core import mail
from django.utils import timezone

from itp_trial.celery import app
from safety import tasks
from safety.models import AdverseEvent, Flag, FlagKind
from subjects.models import Participant
from tests.factories import celery_configured, schedules_bulk
from visits.models import Visit, WindowStatus

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

VISITS = {
    "V1": (WindowStatus.IN_WINDOW, -40),
    "V2": (WindowStatus.LATE, -30),
    "V3-INF1": (WindowStatus.PENDING, -1),  # its window ended yesterday
    "V3-INF2": (WindowStatus.PENDING, 5),
    "V4": (WindowStatus.MISSED, -3),
}


def test_it_raises_the_expected_flags_from_a_real_worker(investigator):
    today = timezone.localdate()
    (participant_id, other_id) = schedules_bulk(participants=2, visits=VISITS, today=today)
    event = AdverseEvent.objects.create(
        participant_id=participant_id,
        ae_number=1,
        term="Pneumonia",
        onset_date=today - timedelta(days=2),
        ongoing=True,
        ctcae_grade=3,
        serious=True,
        serious_criteria="hospitalisation",
        relationship="possible",
        outcome="recovering",
        awareness_at=timezone.now() - timedelta(hours=25),
    )
    broker = settings.TEST_CELERY_BROKER_URL

    with celery_configured(app, broker_url=broker, result_backend=broker, task_always_eager=False):
        app.control.purge()  # no message left over from an earlier run reaches the worker
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
            # As beat sends it, but keeping the result (the tasks ignore theirs) to wait on.
            result = tasks.checks_run_all.apply_async(ignore_result=False)
            counts = result.get(timeout=60)

    flags = {
        (f.participant_id, f.kind, f.visit.code if f.visit_id else f.adverse_event_id)
        for f in Flag.objects.select_related("visit")
    }
    expected = set()
    for pk in (participant_id, other_id):
        expected |= {
            (pk, FlagKind.OVERDUE, "V3-INF1"),
            (pk, FlagKind.OUT_OF_WINDOW, "V2"),
            (pk, FlagKind.MISSED_VISIT, "V4"),
        }
    expected.add((participant_id, FlagKind.SAE_REPORT_OVERDUE, event.pk))
    assert flags == expected
    assert counts[FlagKind.OVERDUE]["raised"] == 2
    assert Visit.objects.filter(window_status=WindowStatus.OVERDUE).count() == 2
    assert Participant.objects.count() == 2
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [investigator.email]
    assert app.conf.task_always_eager  # the app is eager again for the other tests
