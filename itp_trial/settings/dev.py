"""The embedded default for demos and development: SQLite, tasks in-process, console e-mail."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env.str("SECRET_KEY", default="dev-only-insecure-key-do-not-use-in-production")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Static files come from the finders here (runserver / the live test server), not whitenoise.
MIDDLEWARE = [m for m in MIDDLEWARE if m != "whitenoise.middleware.WhiteNoiseMiddleware"]  # noqa: F405
# The demo runs tasks in-process: keep each task's trace out of the console.
LOGGING["loggers"]["celery.app.trace"] = {"level": "WARNING"}  # noqa: F405
LOGGING["loggers"]["safety.checks"] = {"level": "WARNING"}  # noqa: F405
