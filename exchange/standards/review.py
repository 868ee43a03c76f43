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

from safety.models import DataQuery
from subjects.models import SignOff

OPEN, ANSWERED, CLOSED = "open", "answered", "closed"


@dataclass(frozen=True)
class Signature:
    id: int
    subject_id: str
    username: str
    full_name: str
    signed_at: datetime
    meaning: str


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
    """Every signature by participant, oldest first (one query)."""
    queryset = SignOff.objects.select_related("participant", "signed_by").order_by(
        "participant__subject_id", "signed_at", "id"
    )
    if subject_ids is not None:
        queryset = queryset.filter(participant__subject_id__in=subject_ids)
    result: dict[str, list[Signature]] = defaultdict(list)
    for s in queryset:
        result[s.participant.subject_id].append(
            Signature(
                id=s.pk,
                subject_id=s.participant.subject_id,
                username=s.signed_by.username,
                full_name=_name(s.signed_by),
                signed_at=s.signed_at,
                meaning=s.statement,
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
