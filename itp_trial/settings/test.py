"""Settings for the test suite. DATABASE_URL / CELERY_BROKER_URL select the real services."""

from .base import *  # noqa: F403
from .base import env

SECRET_KEY = "test-only-key"
# The site's zone, pinned: a test must not pass or fail with the shell's TIME_ZONE.
TIME_ZONE = "Asia/Shanghai"
CELERY_TIMEZONE = TIME_ZONE
DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Most tests run tasks in-process; the integration tests start a real worker on the broker.
TEST_CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
CELERY_BROKER_URL = ""
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
AXES_COOLOFF_TIME = None
# Static files come from the finders here (runserver / the live test server), not whitenoise.
MIDDLEWARE = [m for m in MIDDLEWARE if m != "whitenoise.middleware.WhiteNoiseMiddleware"]  # noqa: F405
