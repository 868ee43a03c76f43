"""The flag lifecycle of protocol section 6: raised and resolved by the checks, set-based.

`checks_run` takes a fixed number of queries whatever the number of visits, infusions or
adverse events:

- The stored schedule (`Visit.window_status`, `window_end`) moves only on writes, and every
  write resyncs its participant (`visits.services.participant_changed`). The one change time
  alone brings, pending -> overdue once a window has ended, is a single UPDATE here. The
  nightly full pass (`full=True`) also recomputes everyone's schedule, as a safety net.
- Visit flags are written with one INSERT ... SELECT each (an anti-join on the flag, and
  ON CONFLICT DO NOTHING against the partial unique constraints, for a run that races
  another); resolving and reopening are one UPDATE each.
- Dose deviations and overdue SAE reports need their detail from the pure rules in Python
  (`infusions.dosing.deviation_pct`, `safety.rules.sae_report_due`): one SELECT of the new
  ones, then one bulk INSERT (PostgreSQL takes it in one statement; SQLite splits it per
  ~80 rows, which a trial of 40 participants never reaches).

Flags are idempotent: a second run raises nothing new. A flag keeps when it was raised and
resolved, and by whom and when it was acknowledged.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import (
    CharField,
    DateTimeField,
    Exists,
    Expression,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    TextField,
    Value,
)
from django.db.models.functions import Cast, Coalesce, Concat, TruncDate
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from infusions.dosing import deviation_pct
from itp_trial import protocol
from itp_trial.audit import history_insert_select, history_recorded_ids, version_check
from visits.models import Visit, WindowStatus
from visits.services import schedule_sync

from .models import ACKNOWLEDGED_KINDS, AdverseEvent, Flag, FlagKind
from .rules import sae_report_due

logger = logging.getLogger(__name__)

ACKNOWLEDGE_PERMISSION = "safety.acknowledge_flag"
RAISED, RESOLVED, REOPENED = "raised", "resolved", "reopened"
# The reasons in a flag's history; the same words whatever the language of the run.
RAISED_REASON = "Raised by the checks"
RESOLVED_REASON = "Resolved by the checks"
REOPENED_REASON = "Re-opened by the checks"

# The columns the INSERT ... SELECT of a visit flag fills; the others are NULL.
_VISIT_FLAG_COLUMNS = (
    "kind",
    "participant_id",
    "visit_id",
    "detail",
    "raised_at",
    "acknowledgement_comment",
    "version",
)


def sae_report_overdue_cutoff(now: datetime) -> datetime:
    """Awareness times before this are overdue at `now` if still unreported.

    The inverse of `rules.sae_report_due` (awareness + SAE_REPORT_HOURS), so that one SQL
    filter finds every overdue report: due < now  <=>  awareness < now - SAE_REPORT_HOURS.
    Exactly at the due time is not overdue, as in `rules.sae_clock`.
    """
    return now - timedelta(hours=protocol.SAE_REPORT_HOURS)


def _sql_text(template: str, **parts: Expression) -> Expression:
    """A translated template with %(name)s placeholders, as one SQL text expression.

    Lets a visit flag's detail be written by the same INSERT ... SELECT as the flag, while
    the sentence stays whole for the translators.
    """
    pieces: list[Expression] = []
    for i, piece in enumerate(re.split(r"%\((\w+)\)s", template)):
        if i % 2:
            pieces.append(Coalesce(Cast(parts[piece], CharField()), Value("")))
        elif piece:
            pieces.append(Value(piece))
    if len(pieces) == 1:
        return Cast(pieces[0], TextField())
    return Concat(*pieces, output_field=TextField())


def _local(moment: datetime) -> str:
    return formats.date_format(timezone.localtime(moment), "Y-m-d H:i")


def _insert_visit_flags(kind: str, visits: QuerySet, detail: Expression, now: datetime) -> int:
    """Raise `kind` for each visit of `visits` that has no such flag yet: one statement."""
    select = (
        visits.filter(~Exists(Flag.objects.filter(kind=kind, visit_id=OuterRef("pk"))))
        .order_by()
        .annotate(
            flag_kind=Value(kind, output_field=CharField()),
            flag_participant=F("participant_id"),
            flag_visit=F("pk"),
            flag_detail=detail,
            flag_raised_at=Value(now, output_field=DateTimeField()),
            flag_comment=Value("", output_field=TextField()),
            flag_version=Value(1, output_field=IntegerField()),
        )
        .values_list(
            "flag_kind",
            "flag_participant",
            "flag_visit",
            "flag_detail",
            "flag_raised_at",
            "flag_comment",
            "flag_version",
        )
    )
    sql, params = select.query.sql_with_params()
    columns = ", ".join(connection.ops.quote_name(c) for c in _VISIT_FLAG_COLUMNS)
    table = connection.ops.quote_name(Flag._meta.db_table)
    with connection.cursor() as cursor:
        # The SELECT always has a WHERE clause, which SQLite needs before ON CONFLICT.
        cursor.execute(f"INSERT INTO {table} ({columns}) {sql} ON CONFLICT DO NOTHING", params)
        return max(cursor.rowcount, 0)


def _bulk_raise(kind: str, fk: str, flags: list[Flag], now: datetime) -> list[int]:
    """Insert new event flags (`fk` is infusion_id or adverse_event_id); their ids.

    ignore_conflicts covers a run racing another; the ids are read back by this run's
    `raised_at`, so a flag another run inserted first is not counted (or notified) twice.
    """
    if not flags:
        return []
    Flag.objects.bulk_create(flags, ignore_conflicts=True)
    return list(
        Flag.objects.filter(
            kind=kind, raised_at=now, **{f"{fk}__in": [getattr(f, fk) for f in flags]}
        ).values_list("pk", flat=True)
    )


def _change_with_history(
    target: QuerySet, values: dict[str, Any], *, reason: str, now: datetime
) -> int:
    """Update the flags of `target` to `values`, with history, in two statements.

    The history rows are written first (INSERT ... SELECT with the new values), then the
    UPDATE changes exactly the flags recorded, so the history is never short of a change.
    """
    values = {**values, "version": F("version") + 1}
    history_insert_select(
        model=Flag, queryset=target, history_type="~", reason=reason, at=now, overrides=values
    )
    recorded = history_recorded_ids(model=Flag, history_type="~", reason=reason, at=now)
    return target.filter(pk__in=recorded).update(**values)


def _resolve_and_reopen(flags: QuerySet, condition: Q, now: datetime) -> tuple[int, int]:
    """Resolve the open flags whose record no longer meets `condition`; reopen the
    resolved ones that meet it again, keeping the earlier resolution in the detail and in
    the flag's history."""
    resolved = _change_with_history(
        flags.filter(resolved_at__isnull=True).filter(~condition),
        {"resolved_at": Value(now, output_field=DateTimeField())},
        reason=RESOLVED_REASON,
        now=now,
    )
    reopen_note = _sql_text(
        _("%(detail)s [resolved %(resolved)s, reopened %(reopened)s]"),
        detail=F("detail"),
        resolved=TruncDate("resolved_at"),  # in the site's time zone, as the reopening date
        reopened=Value(timezone.localdate(now).isoformat()),
    )
    reopened = _change_with_history(
        flags.filter(resolved_at__isnull=False).filter(condition),
        {"resolved_at": Value(None, output_field=DateTimeField()), "detail": reopen_note},
        reason=REOPENED_REASON,
        now=now,
    )
    return resolved, reopened


def _record_raised(now: datetime) -> int:
    """History for the flags this run raised (by any statement): one INSERT ... SELECT."""
    history = Flag.history.model
    return history_insert_select(
        model=Flag,
        queryset=Flag.objects.filter(raised_at=now).filter(
            ~Exists(history.objects.filter(id=OuterRef("pk")))
        ),
        history_type="+",
        reason=RAISED_REASON,
        at=now,
    )


def _in(queryset: QuerySet, ids: list[int] | None, field: str = "participant_id") -> QuerySet:
    return queryset if ids is None else queryset.filter(**{f"{field}__in": ids})


def checks_run(
    *,
    participant_ids: Iterable[int] | None = None,
    now: datetime | None = None,
    full: bool = False,
) -> dict[str, dict[str, int]]:
    """Raise, resolve and reopen every flag kind of section 6; counts per kind.

    `participant_ids` restricts the run (the immediate run after a write); `full` first
    recomputes the stored schedule of everyone concerned (the nightly pass). Safe to run
    twice, and concurrently with another run. Returns {kind: {"raised", "resolved",
    "reopened"}}. The investigators are e-mailed about each SAE report that became
    overdue in this run, once.
    """
    from infusions.models import Infusion

    from .notifications import sae_overdue_notify

    now = now or timezone.now()
    today = timezone.localdate(now)
    ids = sorted(set(participant_ids)) if participant_ids is not None else None
    counts = {kind: {RAISED: 0, RESOLVED: 0, REOPENED: 0} for kind in FlagKind.values}

    if full:
        schedule_sync(participant_ids=ids, today=today)

    visits = _in(Visit.objects.all(), ids)
    flags = _in(Flag.objects.all(), ids)
    with transaction.atomic():
        # Time alone turns a pending visit overdue; nothing else about a visit moves without
        # a write, and every write resyncs its participant.
        visits.filter(window_status=WindowStatus.PENDING, window_end__lt=today).update(
            window_status=WindowStatus.OVERDUE
        )

        overdue = FlagKind.OVERDUE
        counts[overdue][RAISED] = _insert_visit_flags(
            overdue,
            visits.filter(window_status=WindowStatus.OVERDUE),
            _sql_text(
                _("%(visit)s not done; its window ended %(end)s."),
                visit=F("code"),
                end=F("window_end"),
            ),
            now,
        )
        counts[overdue][RESOLVED], counts[overdue][REOPENED] = _resolve_and_reopen(
            flags.filter(kind=overdue), Q(visit__window_status=WindowStatus.OVERDUE), now
        )

        counts[FlagKind.OUT_OF_WINDOW][RAISED] = _insert_visit_flags(
            FlagKind.OUT_OF_WINDOW,
            visits.filter(window_status__in=(WindowStatus.EARLY, WindowStatus.LATE)),
            _sql_text(
                _("%(visit)s done on %(date)s, outside its window %(start)s to %(end)s."),
                visit=F("code"),
                date=F("actual_date"),
                start=F("window_start"),
                end=F("window_end"),
            ),
            now,
        )
        counts[FlagKind.MISSED_VISIT][RAISED] = _insert_visit_flags(
            FlagKind.MISSED_VISIT,
            visits.filter(window_status=WindowStatus.MISSED),
            _sql_text(
                _("%(visit)s marked missed: %(reason)s"),
                visit=F("code"),
                reason=F("missed_reason"),
            ),
            now,
        )

        dose = FlagKind.DOSE_DEVIATION
        new_deviations = (
            _in(Infusion.objects.filter(dose_deviation=True), ids)
            .filter(~Exists(Flag.objects.filter(kind=dose, infusion_id=OuterRef("pk"))))
            .order_by()
            .values_list("pk", "participant_id", "number", "planned_cells", "actual_cells")
        )
        counts[dose][RAISED] = len(
            _bulk_raise(
                dose,
                "infusion_id",
                [
                    Flag(
                        kind=dose,
                        participant_id=participant_id,
                        infusion_id=pk,
                        detail=_dose_detail(number, planned, actual),
                        raised_at=now,
                    )
                    for pk, participant_id, number, planned, actual in new_deviations
                ],
                now,
            )
        )

        sae = FlagKind.SAE_REPORT_OVERDUE
        sae_overdue = Q(
            serious=True,
            reported_at__isnull=True,
            awareness_at__lt=sae_report_overdue_cutoff(now),
        )
        new_sae = (
            _in(AdverseEvent.objects.filter(sae_overdue), ids)
            .filter(~Exists(Flag.objects.filter(kind=sae, adverse_event_id=OuterRef("pk"))))
            .order_by()
            .values_list("pk", "participant_id", "ae_number", "term", "awareness_at")
        )
        sae_raised = _bulk_raise(
            sae,
            "adverse_event_id",
            [
                Flag(
                    kind=sae,
                    participant_id=participant_id,
                    adverse_event_id=pk,
                    detail=_sae_detail(number, term, awareness_at),
                    raised_at=now,
                )
                for pk, participant_id, number, term, awareness_at in new_sae
            ],
            now,
        )
        counts[sae][RAISED] = len(sae_raised)
        counts[sae][RESOLVED], counts[sae][REOPENED] = _resolve_and_reopen(
            flags.filter(kind=sae),
            Q(
                adverse_event__serious=True,
                adverse_event__reported_at__isnull=True,
                adverse_event__awareness_at__lt=sae_report_overdue_cutoff(now),
            ),
            now,
        )

        _record_raised(now)

    # After the commit: the e-mail must not go out for a flag a rollback would remove.
    if sae_raised:
        sae_overdue_notify(flag_ids=sae_raised)
    logger.info("checks: %s", _summary(counts))
    return counts


def _dose_detail(number: int, planned: int, actual: int) -> str:
    pct = deviation_pct(actual_cells=actual, planned_cells=planned)
    return _("%(visit)s: planned %(planned)s cells, actual %(actual)s, deviation %(pct)s %%.") % {
        "visit": protocol.INFUSION_VISIT_CODES[number],
        "planned": f"{planned:,}",
        "actual": f"{actual:,}",
        "pct": f"{pct:+}",
    }


def _sae_detail(number: int, term: str, awareness_at: datetime) -> str:
    return _("AE%(number)s %(term)s: site aware %(aware)s, report was due %(due)s.") % {
        "number": number,
        "term": term,
        "aware": _local(awareness_at),
        "due": _local(sae_report_due(awareness_at)),
    }


def _summary(counts: dict[str, dict[str, int]]) -> str:
    return ", ".join(
        f"{kind} +{c[RAISED]} -{c[RESOLVED]}" + (f" reopened {c[REOPENED]}" if c[REOPENED] else "")
        for kind, c in counts.items()
    )


@transaction.atomic
def flag_acknowledge(
    *,
    flag_id: int,
    user: Any,
    comment: str,
    now: datetime | None = None,
    version: int | None = None,
) -> Flag:
    """A reviewer acknowledges a protocol deviation (the kinds of ACKNOWLEDGED_KINDS).

    The comment is required and recorded with the user and the time, in the flag and its
    history. A flag that resolves itself when the data arrive (overdue visit, SAE report)
    is not acknowledged, nor one already acknowledged. `version` is the one the reviewer's
    page showed: a flag resolved, reopened or acknowledged since is refused with what changed.
    """
    if not user.has_perm(ACKNOWLEDGE_PERMISSION):
        raise PermissionDenied(_("Only an investigator or a monitor can acknowledge a flag."))
    flag = Flag.objects.select_for_update().get(pk=flag_id)
    version_check(flag, version=version, stored=flag)
    if flag.kind not in ACKNOWLEDGED_KINDS:
        raise ValidationError(
            _("A flag of this kind resolves itself when the data arrive; it is not acknowledged.")
        )
    if flag.acknowledged_at is not None:
        raise ValidationError(_("This flag has already been acknowledged."))
    comment = (comment or "").strip()
    if not comment:
        raise ValidationError({"comment": _("Say why the deviation is acceptable.")})
    flag.acknowledged_by = user
    flag.acknowledged_at = now or timezone.now()
    flag.acknowledgement_comment = comment
    flag.full_clean()
    flag._history_user = user
    flag._change_reason = comment
    flag.version += 1
    flag.save(
        update_fields=["acknowledged_by", "acknowledged_at", "acknowledgement_comment", "version"]
    )
    return flag
