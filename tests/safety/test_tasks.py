"""The Celery tasks, their schedule, the run_checks command, and a broker that is down."""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from io import StringIO

import pytest
from celery.schedules import crontab
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from itp_trial import protocol
from itp_trial.celery import app
from safety import tasks
from safety.models import Flag, FlagKind
from subjects.models import Participant, ParticipantStatus
from tests.factories import celery_configured, enrolled
from visits.models import Visit, WindowStatus

pytestmark = pytest.mark.django_db

UNREACHABLE_BROKER = "redis://127.0.0.1:1/0"


def overdue_participant(user):
    """Enrolled ten days ago with infusion 1 planned three days ago: V2's window has ended.

    The services stored the schedule as it stood then (V2 pending); only a run of the
    checks today moves it to overdue.
    """
    today = timezone.localdate()
    return enrolled(user, today=today - timedelta(days=10), planned=today - timedelta(days=3))


def test_it_schedules_the_checks_hourly_a_full_pass_nightly_and_the_digest_daily():
    schedule = settings.CELERY_BEAT_SCHEDULE
    by_task = {}
    for entry in schedule.values():
        by_task.setdefault(entry["task"], []).append(entry)
    assert set(by_task) <= set(app.tasks)

    hourly, nightly = sorted(
        by_task["safety.tasks.checks_run_all"], key=lambda e: e.get("kwargs", {}).get("full", 0)
    )
    assert hourly["schedule"] == crontab(minute=protocol.CHECKS_HOURLY_MINUTE)
    assert not hourly.get("kwargs", {}).get("full")
    assert nightly["schedule"] == crontab(minute=0, hour=protocol.CHECKS_NIGHTLY_HOUR)
    assert nightly["kwargs"] == {"full": True}
    (digest,) = by_task["safety.tasks.flags_send_digest"]
    assert digest["schedule"].hour == {protocol.CHECKS_NIGHTLY_HOUR}
    assert len(digest["schedule"].minute) == 1 and len(digest["schedule"].day_of_week) == 7


@pytest.mark.parametrize(
    "task", [tasks.checks_run_all, tasks.checks_run_for_participant, tasks.flags_send_digest]
)
def test_it_gives_every_task_retries_with_back_off_and_time_limits(task):
    assert task.autoretry_for == (Exception,)
    assert task.retry_backoff and task.max_retries
    assert 0 < task.soft_time_limit < task.time_limit


def test_it_raises_the_flags_from_the_periodic_task(coordinator):
    participant = overdue_participant(coordinator)

    counts = tasks.checks_run_all.delay().get()

    flag = Flag.objects.get(kind=FlagKind.OVERDUE)
    assert (flag.participant_id, flag.visit.code) == (participant.pk, "V2")
    assert counts[FlagKind.OVERDUE]["raised"] == 1


def test_it_runs_the_participant_task_for_that_participant_only(coordinator):
    first = overdue_participant(coordinator)
    second = overdue_participant(coordinator)

    tasks.checks_run_for_participant.delay(second.pk).get()

    assert list(Flag.objects.values_list("participant_id", flat=True)) == [second.pk]
    assert Visit.objects.get(participant=first, code="V2").window_status == WindowStatus.PENDING


def test_it_runs_the_checks_when_a_participant_is_saved(
    coordinator, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        participant = overdue_participant(coordinator)

    assert Flag.objects.filter(participant=participant, kind=FlagKind.OVERDUE).exists()


def test_it_saves_and_logs_when_the_broker_is_down_and_the_next_run_catches_up(
    coordinator, caplog, django_capture_on_commit_callbacks
):
    caplog.set_level(logging.WARNING, logger="itp_trial.tasks")
    before = (app.conf["broker_url"], app.conf.task_always_eager)
    with celery_configured(app, broker_url=UNREACHABLE_BROKER, task_always_eager=False):
        started = time.monotonic()
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            participant = overdue_participant(coordinator)
        elapsed = time.monotonic() - started

    assert (app.conf["broker_url"], app.conf.task_always_eager) == before  # restored
    assert callbacks  # the enqueue was attempted after the commit, and failed
    participant = Participant.objects.get(pk=participant.pk)
    assert participant.status == ParticipantStatus.ENROLLED
    assert "could not enqueue" in caplog.text
    assert elapsed < 15  # the coordinator does not wait long on a dead broker
    assert not Flag.objects.exists()

    out = StringIO()
    call_command("run_checks", stdout=out)

    flag = Flag.objects.get(kind=FlagKind.OVERDUE)
    assert (flag.participant_id, flag.visit.code) == (participant.pk, "V2")
    assert "overdue" in out.getvalue() and "1 raised" in out.getvalue()


def test_it_runs_the_full_pass_from_the_command(coordinator):
    participant = overdue_participant(coordinator)
    # Written behind the services' back: only the full pass recomputes the schedule.
    Visit.objects.filter(participant=participant, code="V2").update(
        actual_date=timezone.localdate() - timedelta(days=5)
    )

    call_command("run_checks", "--full", stdout=StringIO())

    assert Visit.objects.get(participant=participant, code="V2").window_status == "in_window"
    assert not Flag.objects.exists()
