"""The production settings, the health check and the compose file."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.urls import reverse

ROOT = Path(__file__).resolve().parents[2]


def _environ() -> dict[str, str]:
    # The test run allows async-unsafe calls for the live server; production must not.
    return {
        k: v for k, v in os.environ.items() if k not in ("DJANGO_ALLOW_ASYNC_UNSAFE", "SECRET_KEY")
    }


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**_environ(), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "itp_trial.settings.production",
    "SECRET_KEY": "a-long-random-production-key-" + "x" * 40 + "-with-entropy-1234567890",
    "DATABASE_URL": "sqlite:////tmp/itp-deploy-check.sqlite3",
    "ALLOWED_HOSTS": "edc.example.org",
    "CELERY_BROKER_URL": "redis://127.0.0.1:1/0",
}


def test_it_passes_the_deploy_check_with_production_settings():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_it_refuses_to_start_production_without_a_secret_key():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "SECRET_KEY"}
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


@pytest.mark.parametrize("broker", [None, "", "   "])
def test_it_refuses_to_start_production_without_a_broker(broker):
    env = {**_environ(), **PRODUCTION_ENV}
    env.pop("CELERY_BROKER_URL", None)
    if broker is not None:
        env["CELERY_BROKER_URL"] = broker
    result = subprocess.run(
        [sys.executable, "-c", "import itp_trial.settings.production"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "Set the CELERY_BROKER_URL environment variable" in result.stderr


def test_production_settings_run_tasks_on_the_broker_and_check_it():
    env = {**_environ(), **PRODUCTION_ENV}
    code = (
        "import itp_trial.settings.production as s; "
        "print(s.CELERY_BROKER_URL, s.CELERY_TASK_ALWAYS_EAGER, s.HEALTHZ_REQUIRE_BROKER)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["redis://127.0.0.1:1/0", "False", "True"]


@pytest.mark.django_db
def test_it_reports_unhealthy_where_a_broker_is_required_but_none_is_set(client, settings):
    settings.HEALTHZ_REQUIRE_BROKER = True
    settings.CELERY_BROKER_URL = ""
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "ok", "broker": "error"}


@pytest.mark.django_db
def test_it_reports_an_unreachable_broker_as_unhealthy_in_production(client, settings):
    from itp_trial.celery import app
    from tests.factories import celery_configured

    settings.HEALTHZ_REQUIRE_BROKER = True
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    with celery_configured(app, broker_url=settings.CELERY_BROKER_URL):
        response = client.get(reverse("healthz"))
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "ok", "broker": "error"}


@pytest.mark.django_db
def test_it_reports_health_with_the_database(client):
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


@pytest.mark.django_db
def test_it_reports_an_unreachable_broker_as_unhealthy(client, settings):
    from itp_trial.celery import app
    from tests.factories import celery_configured

    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    with celery_configured(app, broker_url=settings.CELERY_BROKER_URL):
        response = client.get(reverse("healthz"))
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "ok", "broker": "error"}


def test_it_defines_the_compose_services_and_their_commands():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"db", "redis", "web", "worker", "beat"}
    assert services["db"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")
    assert "gunicorn itp_trial.wsgi:application" in services["web"]["command"]
    assert "manage.py migrate" in services["web"]["command"]
    assert services["worker"]["command"].startswith("celery -A itp_trial worker")
    assert services["beat"]["command"].startswith("celery -A itp_trial beat")
    for name in services:
        assert "healthcheck" in services[name], name
    assert "pgdata" in compose["volumes"]
    assert any("pgdata:" in v for v in services["db"]["volumes"])
    for name in ("web", "worker", "beat"):
        env = services[name]["environment"]
        assert env["DJANGO_SETTINGS_MODULE"] == "itp_trial.settings.production"
        assert env["CELERY_BROKER_URL"].startswith("redis://redis:6379")
    assert (ROOT / ".env.example").exists()


def test_it_schedules_the_checks_in_code():
    from django.conf import settings

    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "safety.tasks.checks_run_all" in tasks
    assert "safety.tasks.flags_send_digest" in tasks


@pytest.mark.services
@pytest.mark.django_db
def test_it_reports_health_with_the_real_broker(client, settings):
    from itp_trial.celery import app
    from tests.factories import celery_configured

    settings.CELERY_BROKER_URL = settings.TEST_CELERY_BROKER_URL
    with celery_configured(app, broker_url=settings.CELERY_BROKER_URL):
        response = client.get(reverse("healthz"))
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}


def test_it_checks_a_kept_connection_before_each_request_in_production():
    """A connection PostgreSQL dropped is replaced, not used for the next request's POST."""
    result = _manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings; d = settings.DATABASES['default']; "
        "print(d['CONN_MAX_AGE'], d['CONN_HEALTH_CHECKS'])",
        env=PRODUCTION_ENV,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["60", "True"]
