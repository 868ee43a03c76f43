"""A participant's casebook as a signature sees it: the sha256 of its data, and whether the
last signature still matches (protocol section 8).

The hash is of one canonical serialisation of every clinical record of the participant,
read set-based (one query per kind of record, whatever the number of participants or
records). Only the data a person entered are hashed, with the identifiers the system
allocates: derived values (a visit's window, a participant's status, a planned dose) follow
from them and from the protocol, and move with time alone (a pending visit becomes overdue),
which is not a change of the data.

A signature is stale once the data no longer hash the same, or once it was marked stale (the
checks mark it at the first change they see, so that changing a value back does not make it
current again; an unlock marks it too).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy

from infusions.models import Infusion
from itp_trial.audit import canonical_value
from itp_trial.compiled import CompiledRead
from subjects.models import EligibilityAnswer, Participant, Signature
from visits.models import PlateletCount, Visit

from .models import AdverseEvent, ConcomitantMedication

# The casebook, in a fixed order: every clinical record of a participant.
CASEBOOK_MODELS: tuple[type[models.Model], ...] = (
    Participant,
    EligibilityAnswer,
    Visit,
    PlateletCount,
    Infusion,
    AdverseEvent,
    ConcomitantMedication,
)
# Bookkeeping, not data; the identifiers the system allocates are data (they name the record).
_NOT_HASHED = frozenset({"version", "locked_at"})
_IDENTIFIERS = frozenset({"id", "subject_id", "screening_number", "ae_number"})

UNSIGNED, CURRENT, STALE = "unsigned", "current", "stale"
SUPERSEDED = "superseded"  # an earlier signature, followed by another
STATUS_LABELS = {
    UNSIGNED: gettext_lazy("Not signed"),
    CURRENT: gettext_lazy("Signed, current"),
    STALE: gettext_lazy("Signature stale: the data changed after signing"),
    SUPERSEDED: gettext_lazy("Superseded by a later signature"),
}


def hashed_fields(model: type[models.Model]) -> list[models.Field]:
    """The fields of `model` a signature covers: what a person entered, and the record's
    identifiers."""
    return [
        f
        for f in model._meta.concrete_fields
        if f.name not in _NOT_HASHED and (f.editable or f.primary_key or f.name in _IDENTIFIERS)
    ]


def casebook_hashes(participant_ids: Iterable[int]) -> dict[int, str]:
    """sha256 of each participant's casebook data: {participant id: hex digest}.

    One query per kind of record (seven), whatever the number of participants and records.
    The serialisation is JSON of [model, field names, rows ordered by id] for each kind.
    """
    ids = sorted(set(participant_ids))
    if not ids:
        return {}
    parts: dict[int, list[Any]] = {pk: [] for pk in ids}
    for model in CASEBOOK_MODELS:
        fields = hashed_fields(model)
        names = [f.attname for f in fields]
        owner = "pk" if model is Participant else "participant_id"
        rows: dict[int, list[list[Any]]] = {pk: [] for pk in ids}
        queryset = model._default_manager.filter(**{f"{owner}__in": ids}).order_by("pk")
        for owner_id, *values in queryset.values_list(owner, *names):
            rows[owner_id].append([canonical_value(v) for v in values])
        for pk in ids:
            parts[pk].append([model._meta.label_lower, names, rows[pk]])
    return {
        pk: hashlib.sha256(
            json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=str).encode()
        ).hexdigest()
        for pk, body in parts.items()
    }


@dataclass(frozen=True)
class SignatureState:
    signature: Signature | None
    status: str  # UNSIGNED, CURRENT or STALE

    @property
    def label(self) -> str:
        return str(STATUS_LABELS[self.status])

    @property
    def current(self) -> bool:
        return self.status == CURRENT


# One participant's last signature, read by its record page and dashboard: compiled once
# (itp_trial.compiled).
_LATEST_SIGNATURE_OF_ONE = CompiledRead(
    lambda pk: (
        Signature.objects.select_related("signed_by")
        .filter(participant_id=pk)
        .order_by("-signed_at", "-id")[:1]
    )
)


def latest_signatures(participant_ids: Iterable[int] | None = None) -> dict[int, Signature]:
    """Each participant's last signature (one query)."""
    if participant_ids is not None:
        participant_ids = list(participant_ids)
        if len(participant_ids) == 1:
            (pk,) = participant_ids
            found = _LATEST_SIGNATURE_OF_ONE.rows(pk)
            return {pk: found[0]} if found else {}
    signatures = Signature.objects.select_related("signed_by").order_by(
        "participant_id", "-signed_at", "-id"
    )
    if participant_ids is not None:
        signatures = signatures.filter(participant_id__in=list(participant_ids))
    latest: dict[int, Signature] = {}
    for signature in signatures:
        latest.setdefault(signature.participant_id, signature)
    return latest


def signature_states(participant_ids: Iterable[int]) -> dict[int, SignatureState]:
    """The signature state of each participant: a fixed number of queries (eight)."""
    ids = sorted(set(participant_ids))
    latest = latest_signatures(ids)
    hashes = casebook_hashes(pk for pk, s in latest.items() if s.stale_at is None)
    states = {}
    for pk in ids:
        signature = latest.get(pk)
        if signature is None:
            status = UNSIGNED
        elif signature.stale_at is None and hashes.get(pk) == signature.content_hash:
            status = CURRENT
        else:
            status = STALE
        states[pk] = SignatureState(signature, status)
    return states
