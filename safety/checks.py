"""The flag lifecycle of protocol section 6: raised and resolved by the checks, set-based.

`checks_run` takes a fixed number of queries whatever the number of visits, infusions or
adverse events:

- The stored schedule (`Visit.window_status`, `window_end`) moves only on writes, and every
  write resyncs its participant (`visits.services.participant_changed`). The one change time
  alone brings, pending -> overdue once a window has ended, is a single UPDATE here. The
  nightly full pass (`full=True`) also recomputes everyone's schedule and stored response
  (`visits.services.responses_sync`), as a safety net.
- Visit flags are written with one INSERT ... SELECT each (an anti-join on the flag, and
  ON CONFLICT DO NOTHING against the partial unique constraints, for a run that races
  another); resolving and reopening are one UPDATE each.
- Dose deviations and overdue SAE reports need their detail from the pure rules in Python
  (`infusions.dosing.deviation_pct`, `safety.rules.sae_report_due`): one SELECT of the new
  ones, then one bulk INSERT (PostgreSQL takes it in one statement; SQLite splits it per
  ~80 rows, which a trial of 40 participants never reaches).

A flag's detail is written in English whatever the language active for the run, and shown
in the reader's language (`flag_text.detail_display`).

Flags are idempotent: a second run raises nothing new. A flag keeps when it was raised and
resolved, and by whom and when it was acknowledged.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import (
    Case,
    CharField,
    DateField,
    DateTimeField,
    Exists,
    Expression,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    TextField,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, Concat, TruncDate
from django.utils import formats, timezone

from infusions.dosing import deviation_pct
from itp_trial import protocol
from itp_trial.audit import history_insert_select, history_recorded_ids
from itp_trial.locks import unlocked_participants
from itp_trial.tasks import FIGURES_SYNC, task_run
from subjects.models import Signature
from visits.models import Visit, WindowStatus
from visits.services import responses_sync, schedule_sync

from . import flag_text
from .casebook import casebook_hashes, latest_signatures
from .models import AdverseEvent, Flag, FlagKind
from .rules import sae_report_due
from .triage import triage_keys_sync

logger = logging.getLogger(__name__)

RAISED, RESOLVED, REOPENED = "raised", "resolved", "reopened"
# The reasons in a flag's history; stored in English whatever the language of the run.
RAISED_REASON = flag_text.RAISED_REASON
RESOLVED_REASON = flag_text.RESOLVED_REASON
REOPENED_REASON = flag_text.REOPENED_REASON
SIGNATURE_STALE_REASON = flag_text.SIGNATURE_STALE_REASON

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


def sae_report_overdue(now: datetime, *, via: str = "") -> Q:
    """The SAE-overdue condition at `now`, once for raising, resolving and reopening: a
    serious event, not reported, whose site awareness is before `sae_report_overdue_cutoff`.

    `via` prefixes every lookup ("adverse_event__" filters flags by their event).
    """
    return Q(
        **{
            f"{via}serious": True,
            f"{via}reported_at__isnull": True,
            f"{via}awareness_at__lt": sae_report_overdue_cutoff(now),
        }
    )


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


def _visit_date(infusion_model: type) -> Expression:
    """The date a visit was done: its own, or for an infusion visit the infusion's date.

    Infusion visits never fill `Visit.actual_date`; their date is the infusion record's.
    One correlated subquery per infusion code, so the flag stays one INSERT ... SELECT.
    """
    return Coalesce(
        F("actual_date"),
        Case(
            *(
                When(
                    code=code,
                    then=Subquery(
                        infusion_model.objects.filter(
                            participant_id=OuterRef("participant_id"), number=number
                        ).values("infusion_date")[:1]
                    ),
                )
                for number, code in protocol.INFUSION_VISIT_CODES.items()
            ),
            default=Value(None, output_field=DateField()),
            output_field=DateField(),
        ),
    )


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
        flag_text.REOPENED,
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


def _jit_off() -> None:
    """No JIT compilation for the rest of this transaction, on PostgreSQL.

    The out-of-window flag's correlated subqueries (one per infusion visit) make the planner
    cost its INSERT ... SELECT high enough at thousands of early and late visits to compile
    it with full optimisation: 1.7 s of compiling for a statement that runs in milliseconds
    (EXPLAIN ANALYZE at 1,000 participants). No statement of the checks gains from JIT.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")


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
        responses_sync(ids)
        task_run(FIGURES_SYNC, participant_ids=ids, sdv=False)  # no form saved here

    visits = _in(Visit.objects.all(), ids)
    flags = _in(Flag.objects.all(), ids)
    with transaction.atomic():
        _jit_off()
        # Time alone turns a pending visit overdue; nothing else about a visit moves without
        # a write, and every write resyncs its participant. A locked casebook is not
        # written; its flags are still raised (they are about the data, not part of it).
        stale = unlocked_participants(visits).filter(
            window_status=WindowStatus.PENDING, window_end__lt=today
        )
        # The overview's figures count the visits by status: the participants turned are
        # synced (reporting.figures), and only theirs are turned.
        turned = sorted(set(stale.values_list("participant_id", flat=True)))
        if turned:
            stale.filter(participant_id__in=turned).update(window_status=WindowStatus.OVERDUE)
            task_run(FIGURES_SYNC, participant_ids=turned, sdv=False)

        overdue = FlagKind.OVERDUE
        counts[overdue][RAISED] = _insert_visit_flags(
            overdue,
            visits.filter(window_status=WindowStatus.OVERDUE),
            _sql_text(
                flag_text.OVERDUE,
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
                flag_text.OUT_OF_WINDOW,
                visit=F("code"),
                date=_visit_date(Infusion),
                start=F("window_start"),
                end=F("window_end"),
            ),
            now,
        )
        counts[FlagKind.MISSED_VISIT][RAISED] = _insert_visit_flags(
            FlagKind.MISSED_VISIT,
            visits.filter(window_status=WindowStatus.MISSED),
            _sql_text(
                flag_text.MISSED,
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
        new_sae = (
            _in(AdverseEvent.objects.filter(sae_report_overdue(now)), ids)
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
            flags.filter(kind=sae), sae_report_overdue(now, via="adverse_event__"), now
        )

        stale = signature_flags_sync(participant_ids=ids, now=now, record=False)
        counts[FlagKind.SIGNATURE_STALE].update(stale)

        # The new flags' triage keys, and those of flags whose visit window or event
        # awareness moved with the writes that set off this run.
        triage_keys_sync(flags=flags)

        _record_raised(now)

    # After the commit: the e-mail must not go out for a flag a rollback would remove.
    if sae_raised:
        sae_overdue_notify(flag_ids=sae_raised)
    logger.info("checks: %s", _summary(counts))
    return counts


def _mark_signatures_stale(signature_ids: list[int], now: datetime) -> int:
    """Mark these signatures stale, with history: one INSERT ... SELECT and one UPDATE."""
    if not signature_ids:
        return 0
    values = {
        "stale_at": Value(now, output_field=DateTimeField()),
        "stale_reason": Value(SIGNATURE_STALE_REASON, output_field=TextField()),
        "version": F("version") + 1,
    }
    target = Signature.objects.filter(pk__in=signature_ids, stale_at__isnull=True)
    history_insert_select(
        model=Signature,
        queryset=target,
        history_type="~",
        reason=SIGNATURE_STALE_REASON,
        at=now,
        overrides=values,
    )
    recorded = history_recorded_ids(
        model=Signature, history_type="~", reason=SIGNATURE_STALE_REASON, at=now
    )
    return target.filter(pk__in=recorded).update(**values)


def signature_flags_sync(
    *, participant_ids: Iterable[int] | None, now: datetime, record: bool = True
) -> dict[str, int]:
    """The `signature_stale` flags of protocol section 6, set-based (a fixed number of
    queries): a signature whose casebook no longer hashes the same is marked stale (from
    then on it stays stale, whatever the data do); a participant whose last signature is
    stale gets one open flag; the flag of one whose last signature is current (the
    investigator signed again) is resolved. `record` writes the new flags' history (the
    checks do it once for all kinds)."""
    ids = sorted(set(participant_ids)) if participant_ids is not None else None
    latest = latest_signatures(ids)
    fresh = [pk for pk, signature in latest.items() if signature.stale_at is None]
    hashes = casebook_hashes(fresh)
    changed = {pk for pk in fresh if hashes[pk] != latest[pk].content_hash}
    _mark_signatures_stale([latest[pk].pk for pk in changed], now)
    stale = {pk for pk, signature in latest.items() if signature.stale_at is not None} | changed

    kind = FlagKind.SIGNATURE_STALE
    open_flags = _in(Flag.objects.filter(kind=kind, resolved_at__isnull=True), ids)
    flagged = set(open_flags.values_list("participant_id", flat=True))
    new = []
    for pk in sorted(stale - flagged):
        signature = latest[pk]
        new.append(
            Flag(
                kind=kind,
                participant_id=pk,
                detail=flag_text.SIGNATURE_STALE
                % {
                    "name": signature.signer_name,
                    "when": _local(signature.signed_at),
                    "why": signature.stale_reason or SIGNATURE_STALE_REASON,
                },
                raised_at=now,
            )
        )
    raised = len(_bulk_raise(kind, "participant_id", new, now)) if new else 0
    if record and raised:
        _record_raised(now)
    resolved = _change_with_history(
        open_flags.exclude(participant_id__in=stale),
        {"resolved_at": Value(now, output_field=DateTimeField())},
        reason=RESOLVED_REASON,
        now=now,
    )
    return {RAISED: raised, RESOLVED: resolved}


def _dose_detail(number: int, planned: int, actual: int) -> str:
    pct = deviation_pct(actual_cells=actual, planned_cells=planned)
    return flag_text.DOSE % {
        "visit": protocol.INFUSION_VISIT_CODES[number],
        "planned": f"{planned:,}",
        "actual": f"{actual:,}",
        "pct": f"{pct:+}",
    }


def _sae_detail(number: int, term: str, awareness_at: datetime) -> str:
    return flag_text.SAE % {
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
