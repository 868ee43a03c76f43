"""The review records the standards carry: investigator signatures and data queries.

Read here once, as plain values, for the ODM (signatures), the casebooks (signatures,
queries and source data verification) and the archive. Source data verification has no
records in this system yet: `sdv_state` says so rather than inventing a state.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.utils.translation import gettext_lazy as _

from safety.casebook import CURRENT, SUPERSEDED, signature_states
from safety.models import DataQuery
from subjects.models import Signature as SignatureRecord

OPEN, ANSWERED, CLOSED = "open", "answered", "closed"


@dataclass(frozen=True)
class Signature:
    """An investigator's signature as the standards show it (21 CFR 11.50: name, date-time
    with its zone, meaning; 11.70: the sha256 of the casebook data it signed)."""

    id: int
    subject_id: str
    username: str
    full_name: str  # as recorded at signing
    signed_at: datetime
    time_zone: str
    meaning: str  # the code of protocol.SIGNATURE_MEANINGS ("" for a migrated sign-off)
    statement: str  # the meaning's sentence, as the signer read it
    content_hash: str
    status: str  # current, stale, or superseded by a later signature
    stale_at: datetime | None
    stale_reason: str

    @property
    def current(self) -> bool:
        return self.status == CURRENT


@dataclass(frozen=True)
class Query:
    number: int  # per participant, in the order raised
    subject_id: str
    visit_code: str
    question: str
    raised_by: str
    raised_at: datetime
    answer: str
    answered_by: str
    answered_at: datetime | None
    closed_at: datetime | None

    @property
    def state(self) -> str:
        if self.closed_at is not None:
            return CLOSED
        return ANSWERED if self.answered_at is not None else OPEN


def _name(user) -> str:
    return (user.get_full_name() or user.username) if user else ""


def signatures(*, subject_ids: list[str] | None = None) -> dict[str, list[Signature]]:
    """Every signature by participant, oldest first, with whether it still matches the
    data (a fixed number of queries: the signatures, then the casebook hashes)."""
    queryset = SignatureRecord.objects.select_related("participant", "signed_by").order_by(
        "participant__subject_id", "signed_at", "id"
    )
    if subject_ids is not None:
        queryset = queryset.filter(participant__subject_id__in=subject_ids)
    rows = list(queryset)
    states = signature_states({s.participant_id for s in rows})
    result: dict[str, list[Signature]] = defaultdict(list)
    for s in rows:
        state = states[s.participant_id]
        latest = state.signature is not None and state.signature.pk == s.pk
        result[s.participant.subject_id].append(
            Signature(
                id=s.pk,
                subject_id=s.participant.subject_id,
                username=s.signed_by.username,
                full_name=s.signer_name,
                signed_at=s.signed_at,
                time_zone=s.time_zone,
                meaning=s.meaning,
                statement=s.statement,
                content_hash=s.content_hash,
                status=state.status if latest else SUPERSEDED,
                stale_at=s.stale_at,
                stale_reason=s.stale_reason,
            )
        )
    return result


def queries(*, subject_ids: list[str] | None = None) -> dict[str, list[Query]]:
    """Every data query by participant, numbered in the order raised (one query)."""
    queryset = DataQuery.objects.select_related(
        "participant", "visit", "raised_by", "answered_by"
    ).order_by("participant__subject_id", "raised_at", "id")
    if subject_ids is not None:
        queryset = queryset.filter(participant__subject_id__in=subject_ids)
    result: dict[str, list[Query]] = defaultdict(list)
    for q in queryset:
        subject_id = q.participant.subject_id
        result[subject_id].append(
            Query(
                number=len(result[subject_id]) + 1,
                subject_id=subject_id,
                visit_code=q.visit.code if q.visit else "",
                question=q.question,
                raised_by=_name(q.raised_by),
                raised_at=q.raised_at,
                answer=q.answer,
                answered_by=_name(q.answered_by),
                answered_at=q.answered_at,
                closed_at=q.closed_at,
            )
        )
    return result


def sdv_state(subject_id: str, dataset: str, record_key: str | None) -> str:
    """The SDV state of one form; no verification is recorded by this system yet."""
    return str(_("not verified"))
