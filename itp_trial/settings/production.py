"""Production: PostgreSQL, a broker, HTTPS. No default secret; a bad value fails loudly."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import env

DEBUG = False
# seed_demo refuses to run: its accounts share a published password.
DEMO_DATA_ALLOWED = False
SECRET_KEY = env.str("SECRET_KEY")  # required: raises ImproperlyConfigured when unset
DATABASES = {"default": env.db("DATABASE_URL")}  # required in production
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
# A connection PostgreSQL dropped (a restart, pg_terminate_backend) is found and replaced
# before the request uses it, instead of failing that request.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")

# A broker is required: without one, tasks would run in the web process and beat would never
# run the checks. Refuse to start rather than fall back silently.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="").strip()
if not CELERY_BROKER_URL:
    raise ImproperlyConfigured(
        "Set the CELERY_BROKER_URL environment variable (e.g. redis://redis:6379/0): "
        "production needs a broker so that the background checks run."
    )
CELERY_TASK_ALWAYS_EAGER = False
HEALTHZ_REQUIRE_BROKER = True  # /healthz always checks the broker here

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
