"""The demo's signatures and locks: a current signature, a stale one (a change after
signing, flagged), and a locked casebook. Written through the services, once: a second run
finds them and leaves everything as it is."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone

from safety.checks import checks_run
from safety.locking import casebook_lock, casebook_readiness, queries_not_closed
from safety.sdv import record_verify, sdv_todo
from safety.signatures import casebook_sign, sae_report_open
from subjects.models import CasebookLock, Participant, Signature
from subjects.services import participant_update

from .scenario import DEMO_PASSWORD

logger = logging.getLogger(__name__)

STALE_CHANGE_REASON = "Prior therapy completed from the hospital record"


def review_signatures_seed(*, users: dict[str, Any], today: date) -> dict[str, int]:
    """Sign three enrolled casebooks, change one of them afterwards, lock another."""
    if Signature.objects.exists() or CasebookLock.objects.exists():
        return {"signatures": 0, "locks": 0}
    investigator, coordinator = users["investigator"], users["coordinator"]
    candidates = [
        p
        for p in Participant.objects.filter(
            enrolled_on__isnull=False, withdrawal_date__isnull=True, locked_at__isnull=True
        ).order_by("subject_id")
        if not sae_report_open(p.pk, now=timezone.now())
    ]
    open_queries = queries_not_closed(p.pk for p in candidates)
    # The casebook to lock has no query left open (the review demo raised some).
    lockable = [p for p in candidates if not open_queries[p.pk]]
    to_lock = lockable[-1] if lockable else None
    signed = []
    for participant in [p for p in candidates if p != to_lock][:2] + [to_lock]:
        if participant is None:
            continue
        try:
            casebook_sign(
                participant_id=participant.pk,
                user=investigator,
                password=DEMO_PASSWORD,
                meaning="review",
            )
        except ValidationError as error:
            logger.warning("demo: %s not signed: %s", participant.subject_id, error.messages)
            continue
        signed.append(participant)
    locks = 0
    if len(signed) >= 2:
        stale = Participant.objects.get(pk=signed[1].pk)
        participant_update(
            participant=stale,
            user=coordinator,
            data={"prior_therapies": f"{stale.prior_therapies}; IVIg 1 g/kg x2 (2024)"},
            reason=STALE_CHANGE_REASON,
            today=today,
        )
        checks_run(participant_ids=[stale.pk])
    if to_lock is not None and to_lock in signed:
        _verify_all(to_lock.pk, monitor=users["monitor"])
        if casebook_readiness([to_lock.pk])[to_lock.pk].ready:
            casebook_lock(participant_id=to_lock.pk, user=users["datamanager"])
            locks = 1
    return {"signatures": len(signed), "locks": locks}


def _verify_all(participant_id: int, *, monitor: Any) -> None:
    """The monitor verifies every form of the casebook to be locked."""
    for form in list(sdv_todo(participant_id=participant_id)):
        record_verify(
            kind=form["r_kind"], object_id=form["pk"], user=monitor, version=form["version"]
        )
