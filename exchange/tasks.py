"""Celery tasks of data exchange: thin, taking ids; the work is in exchange.standards."""

from __future__ import annotations

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from itp_trial import protocol

from .standards.archive import MANIFEST, archive_verify, archive_write

ARCHIVE_BUILD = "exchange.archive_build"


class ArchiveTampered(Exception):
    """The sealed archive for this lock exists and does not match its manifest."""


def archive_directory_name(lock_id: int | None) -> str:
    if lock_id is not None:
        return f"{protocol.REGISTRY_ID}_archive_lock{lock_id}"
    return f"{protocol.REGISTRY_ID}_archive_{timezone.localtime():%Y%m%d_%H%M%S}"


@shared_task(
    name=ARCHIVE_BUILD,
    autoretry_for=(OSError,),
    dont_autoretry_for=(SoftTimeLimitExceeded,),
    retry_backoff=True,
    max_retries=3,
    soft_time_limit=50 * 60,
    time_limit=60 * 60,
)
def archive_build(lock_id: int | None = None, user_id: int | None = None) -> str:
    """Seal the archive under settings.ARCHIVE_ROOT; queued when the database is locked.

    With a `lock_id` the folder is named after the lock, so running twice for one lock
    leaves the first intact archive in place (a partial one is set aside and rebuilt; a
    sealed one that fails verification is reported, not replaced). Returns its path.
    """
    directory = settings.ARCHIVE_ROOT / archive_directory_name(lock_id)
    if (directory / MANIFEST).is_file():
        problems = archive_verify(directory)
        if problems:
            # A sealed archive that no longer matches its manifest is evidence: never
            # replaced silently.
            raise ArchiveTampered("; ".join(str(p) for p in problems))
        return str(directory)
    if directory.exists():
        # A build interrupted before its manifest: kept aside, and built again.
        stale = directory.with_name(f"{directory.name}_incomplete_{timezone.now():%Y%m%d%H%M%S}")
        directory.rename(stale)
    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    archive_write(directory, user=user)
    return str(directory)
