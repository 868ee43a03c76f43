"""Source data verification (protocol section 8): a monitor marks a form (one record)
verified at its current version; a later save moves the record's version on, and the form
reads as "changed since verification" until it is verified again.

The state is never stored twice: it is the comparison of the record's `version` with the
verification's `verified_version`, made in SQL for lists and counts (set-based, a fixed
number of queries whatever the number of records).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Exists, IntegerField, OuterRef, Q, QuerySet, Value
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from itp_trial.audit import audited_save, stale_error
from itp_trial.compiled import CompiledRead
from itp_trial.tasks import FIGURES_SYNC, task_run

from .models import Verification
from .targets import TARGETS, target_get

VERIFY_PERMISSION = "safety.add_verification"  # monitors

VERIFIED, CHANGED, NOT_VERIFIED = "verified", "changed", "not_verified"
STATE_LABELS = {
    VERIFIED: gettext_lazy("Verified"),
    CHANGED: gettext_lazy("Changed since verification"),
    NOT_VERIFIED: gettext_lazy("Not verified"),
}


def form_state(version: int, verified_version: int | None) -> str:
    """The SDV state of a form at `version`, verified at `verified_version` (None: never)."""
    if verified_version is None:
        return NOT_VERIFIED
    return VERIFIED if verified_version == version else CHANGED


def sdv_state(record: Any, verification: Verification | None) -> str:
    return form_state(record.version, verification.verified_version if verification else None)


def verification_for(kind: str, object_id: int) -> Verification | None:
    return (
        Verification.objects.select_related("verified_by")
        .filter(target_kind=kind, object_id=object_id)
        .first()
    )


@transaction.atomic
def record_verify(
    *,
    kind: str,
    object_id: int,
    user: Any,
    version: int,
    now: datetime | None = None,
) -> Verification:
    """Mark the record verified at `version`, the version the monitor read; refused if the
    record changed since the page was loaded."""
    if not user.has_perm(VERIFY_PERMISSION):
        raise PermissionDenied(_("Only a monitor can verify source data."))
    target = target_get(kind)
    if target is None:
        raise ValidationError(_("Unknown kind of record."))
    record = target.model._default_manager.select_for_update().filter(pk=object_id).first()
    if record is None:
        raise ValidationError(_("No such record."))
    if not target.forms().filter(pk=record.pk).exists():
        raise ValidationError(_("This record has no data to verify yet."))
    if int(version) != record.version:
        raise stale_error(record, version=int(version), stored_version=record.version)
    now = now or timezone.now()
    verification = (
        Verification.objects.select_for_update().filter(target_kind=kind, object_id=record.pk)
    ).first()
    if verification is None:
        verification = Verification(
            participant_id=target.participant_id_of(record), target_kind=kind, object_id=record.pk
        )
    elif verification.verified_version == record.version:
        raise ValidationError(_("This form is already verified at its current version."))
    verification.verified_version = record.version
    verification.verified_by = user
    verification.verified_at = now
    reason = "" if verification._state.adding else _("Verified again after a change")
    audited_save(verification, user=user, reason=reason)
    # The overview's SDV progress is among its stored figures (reporting.figures).
    task_run(FIGURES_SYNC, participant_ids=[verification.participant_id])
    return verification


# --- reads --------------------------------------------------------------------------------


def _annotated(kind: str, *, apps: Any = None) -> QuerySet:
    """The forms of one kind, each with `is_verified` and `is_changed` (SQL). `apps`: a
    migration's models instead of the live ones (the overview's figures are filled so)."""
    target = TARGETS[kind]
    if apps is None:
        forms, verification = target.forms(), Verification
    else:
        model = apps.get_model(target.model_label)
        forms = model._default_manager.filter(target.forms_filter)
        verification = apps.get_model("safety", "Verification")
    verifications = verification.objects.filter(target_kind=kind, object_id=OuterRef("pk"))
    return forms.annotate(
        is_verified=Exists(verifications.filter(verified_version=OuterRef("version"))),
        is_changed=Exists(verifications.exclude(verified_version=OuterRef("version"))),
    )


@dataclass
class Progress:
    total: int = 0
    verified: int = 0
    changed: int = 0

    @property
    def left(self) -> int:
        return self.total - self.verified

    @property
    def share(self) -> float | None:
        return self.verified / self.total if self.total else None

    @property
    def percent(self) -> int | None:
        return round(100 * self.verified / self.total) if self.total else None

    def add(self, other: Progress) -> None:
        self.total += other.total
        self.verified += other.verified
        self.changed += other.changed


def sdv_progress(
    *, participant_ids: list[int] | None = None, apps: Any = None
) -> dict[int, Progress]:
    """Per participant: forms, verified at their current version, changed since (one query
    per kind of record). `apps`: a migration's models (see `_annotated`)."""
    result: dict[int, Progress] = {}
    for kind, target in TARGETS.items():
        rows = _annotated(kind, apps=apps)
        if participant_ids is not None:
            rows = rows.filter(**among(_owner(kind), participant_ids))
        counts = (
            rows.order_by()
            .values(owner=target.participant_id_expression())
            .annotate(
                total=Count("pk"),
                verified=Count("pk", filter=Q(is_verified=True)),
                changed=Count("pk", filter=Q(is_changed=True)),
            )
        )
        for row in counts:
            result.setdefault(row["owner"], Progress()).add(
                Progress(row["total"], row["verified"], row["changed"])
            )
    return result


# Read on every participant page and dashboard: compiled once (itp_trial.compiled).
_VERIFIED_VERSIONS = CompiledRead(
    lambda pk: (
        Verification.objects.filter(participant_id=pk)
        .order_by()
        .values_list("target_kind", "object_id", "verified_version")
    )
)


def verified_versions(*, participant_id: int) -> dict[tuple[str, int], int]:
    """{(kind, record id): the version verified} of one participant's records (one query)."""
    return {
        (kind, object_id): version
        for kind, object_id, version in _VERIFIED_VERSIONS.rows(participant_id)
    }


def participant_forms(
    *, records: Mapping[str, Iterable[Any]], verified: Mapping[tuple[str, int], int]
) -> list[dict[str, Any]]:
    """Every form of one participant with its SDV state, in the order of sdv_forms, from the
    participant's records already loaded (`records`: a list for every kind of TARGETS) and
    `verified` (verified_versions). The rows of sdv_forms(participant_id=...) without its
    SQL, which costs more to build than the page it serves; a test holds the two equal."""
    missing = set(TARGETS) - set(records)
    if missing:
        raise ValueError(f"Records of every kind are needed; missing: {sorted(missing)}")
    rows = []
    for order, (kind, target) in enumerate(TARGETS.items()):
        for record in records[kind]:
            if not target.is_form(record):
                continue
            state = form_state(record.version, verified.get((kind, record.pk)))
            rows.append(
                {
                    "r_kind": kind,
                    "pk": record.pk,
                    "r_label": target.label(record),
                    "version": record.version,
                    "is_verified": state == VERIFIED,
                    "is_changed": state == CHANGED,
                    "state": state,
                    "r_kind_order": order,
                }
            )
    rows.sort(key=lambda r: (r["r_kind_order"], r["r_label"], r["pk"]))
    return rows


def forms_progress(forms: Iterable[Mapping[str, Any]]) -> Progress:
    """The progress of a list of forms (participant_forms' rows)."""
    progress = Progress()
    for form in forms:
        progress.add(Progress(1, int(form["is_verified"]), int(form["is_changed"])))
    return progress


def sdv_trial_progress() -> Progress:
    """The whole trial's forms (two queries per kind of record): the forms counted, then
    only those with a verification (one per record) looked at, not every form."""
    total = Progress()
    for kind, target in TARGETS.items():
        verified = Verification.objects.filter(target_kind=kind).values("object_id")
        counts = (
            _annotated(kind)
            .filter(pk__in=verified)
            .aggregate(
                verified=Count("pk", filter=Q(is_verified=True)),
                changed=Count("pk", filter=Q(is_changed=True)),
            )
        )
        total.add(Progress(target.forms().count(), counts["verified"], counts["changed"]))
    return total


def among(field: str, ids: list[int]) -> dict[str, Any]:
    """The filter on `field` in `ids`: a range when the ids are sorted with no gap (a chunk
    of every participant), where thousands of parameters cost more to bind than to run."""
    if len(ids) > 1 and ids == list(range(ids[0], ids[0] + len(ids))):
        return {f"{field}__gte": ids[0], f"{field}__lte": ids[-1]}
    return {f"{field}__in": ids}


def _owner(kind: str) -> str:
    return "pk" if kind == "participant" else "participant_id"


def sdv_todo(*, participant_id: int | None = None, kind: str | None = None) -> QuerySet:
    """The forms left to verify (never verified, or changed since), as one UNION of rows
    {r_kind, pk, r_subject, r_label, version, is_verified, is_changed}: ordered, countable,
    paginated."""
    return sdv_forms(participant_id=participant_id, kind=kind, unverified_only=True)


def sdv_forms(
    *, participant_id: int | None = None, kind: str | None = None, unverified_only: bool = False
) -> QuerySet:
    """Every form (of one participant, of one kind) with its SDV state, as one UNION."""
    parts = []
    for k, target in TARGETS.items():
        if kind and k != kind:
            continue
        rows = _annotated(k)
        if unverified_only:
            rows = rows.filter(is_verified=False)
        if participant_id:
            rows = rows.filter(**{_owner(k): participant_id})
        subject = "subject_id" if k == "participant" else "participant__subject_id"
        parts.append(
            rows.order_by()
            .annotate(
                r_kind=Value(k),
                r_label=target.label_expression(),
                r_subject=_as_text(subject),
                r_kind_order=Value(list(TARGETS).index(k), output_field=IntegerField()),
            )
            .values(
                "r_kind",
                "pk",
                "r_subject",
                "r_label",
                "version",
                "is_verified",
                "is_changed",
                "r_kind_order",
            )
        )
    if not parts:
        return Verification.objects.none().values()
    first, *rest = parts
    union = first.union(*rest, all=True) if rest else first
    return union.order_by("r_subject", "r_kind_order", "r_label", "pk")


def _as_text(path: str) -> Any:
    from django.db.models import CharField, F
    from django.db.models.functions import Cast

    return Cast(F(path), output_field=CharField())
