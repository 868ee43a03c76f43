"""The review records the standards carry: investigator signatures, data queries and
source data verification.

Read here once, as plain values, for the ODM (signatures), the casebooks (signatures,
queries and source data verification) and the archive. A record is named as the datasets
name it: its dataset and its natural key within the participant (safety.review_export).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from django.utils.translation import gettext_lazy as _

from safety.casebook import CURRENT, SUPERSEDED, signature_states
from safety.models import DataQuery, QueryState, Verification
from safety.review_export import record_keys, record_versions
from subjects.models import Signature as SignatureRecord

OPEN, ANSWERED, CLOSED = QueryState.OPEN.value, QueryState.ANSWERED.value, QueryState.CLOSED.value
VERIFIED, CHANGED, NOT_VERIFIED = "verified", "changed", "not_verified"


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
    state: str = OPEN
    dataset: str = ""  # the queried record: its dataset and natural key
    record: str = ""
    field: str = ""
    due_date: date | None = None


@dataclass(frozen=True)
class Verified:
    subject_id: str
    dataset: str
    record: str
    state: str  # verified, or changed since verification
    verified_version: int
    verified_by: str
    verified_at: datetime


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
                full_name=s.signer_name or _name(s.signed_by),
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
    """Every data query by participant, by its number (a fixed number of queries)."""
    queryset = DataQuery.objects.select_related(
        "participant", "visit", "raised_by", "answered_by"
    ).order_by("participant__subject_id", "number", "raised_at", "id")
    if subject_ids is not None:
        queryset = queryset.filter(participant__subject_id__in=subject_ids)
    keys = record_keys(queryset)
    result: dict[str, list[Query]] = defaultdict(list)
    for q in queryset:
        subject_id = q.participant.subject_id
        dataset, record = keys.get((q.target_kind, q.object_id), ("", ""))
        result[subject_id].append(
            Query(
                number=q.number or len(result[subject_id]) + 1,
                subject_id=subject_id,
                visit_code=q.visit.code if q.visit else "",
                question=q.question,
                raised_by=_name(q.raised_by),
                raised_at=q.raised_at,
                answer=q.answer,
                answered_by=_name(q.answered_by),
                answered_at=q.answered_at,
                closed_at=q.closed_at,
                state=q.state,
                dataset=dataset,
                record=record,
                field=q.field_name,
                due_date=q.due_date,
            )
        )
    return result


def verifications(*, subject_ids: list[str] | None = None) -> dict[str, list[Verified]]:
    """Every verification by participant, with its state now (a fixed number of queries)."""
    queryset = Verification.objects.select_related("participant", "verified_by").order_by(
        "participant__subject_id", "target_kind", "object_id"
    )
    if subject_ids is not None:
        queryset = queryset.filter(participant__subject_id__in=subject_ids)
    keys, versions = record_keys(queryset), record_versions(queryset)
    result: dict[str, list[Verified]] = defaultdict(list)
    for v in queryset:
        dataset, record = keys.get((v.target_kind, v.object_id), ("", ""))
        current = versions.get((v.target_kind, v.object_id))
        result[v.participant.subject_id].append(
            Verified(
                subject_id=v.participant.subject_id,
                dataset=dataset,
                record=record,
                state=VERIFIED if current == v.verified_version else CHANGED,
                verified_version=v.verified_version,
                verified_by=_name(v.verified_by),
                verified_at=v.verified_at,
            )
        )
    return result


STATE_LABELS = {
    VERIFIED: _("verified"),
    CHANGED: _("changed since verification"),
    NOT_VERIFIED: _("not verified"),
}


def sdv_state(
    subject_id: str,
    dataset: str,
    record_key: str | None,
    *,
    verified: dict[str, list[Verified]] | None = None,
) -> str:
    """The SDV state of one form, as a label. Pass `verified` (from `verifications`) when
    asking for many forms, so that the records are read once."""
    if verified is None:
        verified = verifications(subject_ids=[subject_id])
    for v in verified.get(subject_id, []):
        if v.dataset == dataset and v.record == (record_key or ""):
            return str(STATE_LABELS[v.state])
    return str(STATE_LABELS[NOT_VERIFIED])
