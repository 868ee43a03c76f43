"""The Celery application. Without a broker configured, tasks run in-process (eager)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "itp_trial.settings.dev")

app = Celery("itp_trial")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
