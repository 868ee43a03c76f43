"""Triage of what needs attention: the SAE report clocks, then the flags by kind and severity.

One order for every page that lists open flags (worklist, participant page, dashboard, the
flags page): SAE report flags first, then overdue visits by how long they are overdue (the
longest first), then the rest, oldest first. Each flag has one look everywhere: a colour for
its severity and an icon for its kind (templates/safety/_flag.html), and shows how long it has
been overdue rather than when it was raised.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

from django.db import connection
from django.db.models import Case, F, IntegerField, Q, QuerySet, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import get_language, gettext_lazy, gettext_noop, ngettext
from django.utils.translation import gettext as _

from itp_trial import protocol

from . import rules
from .models import AdverseEvent, Flag, FlagKind

CRITICAL, HIGH, MODERATE, LOW = "critical", "high", "moderate", "low"
_SEVERITY_WORDS = {
    CRITICAL: gettext_noop("critical"),
    HIGH: gettext_noop("high"),
    MODERATE: gettext_noop("moderate"),
    LOW: gettext_noop("low"),
}
SEVERITY_LABELS = {severity: gettext_lazy(word) for severity, word in _SEVERITY_WORDS.items()}
# A visit overdue this long is of high severity; less, moderate.
OVERDUE_HIGH_DAYS = 7

# An icon per kind (shown with its name; the icon itself is decoration, hidden from screen
# readers). Symbols of the DejaVu and Noto fonts, not emoji: a browser without an emoji font
# (headless Chromium) draws an emoji as an empty box. The clocks are clock faces (U+25F7,
# U+25D4), not the emoji alarm clock and stopwatch.
KIND_ICONS = {
    FlagKind.SAE_REPORT_OVERDUE: "⚠",
    FlagKind.OVERDUE: "◷",
    FlagKind.MISSED_VISIT: "⊘",
    FlagKind.OUT_OF_WINDOW: "⇆",
    FlagKind.DOSE_DEVIATION: "⚖",
}
OTHER_KIND_ICON = "•"
SAE_CLOCK_ICON = "◔"

# The triage rank of each kind: lower first.
_RANK = {
    FlagKind.SAE_REPORT_OVERDUE: 0,
    FlagKind.OVERDUE: 1,
    FlagKind.MISSED_VISIT: 2,
    FlagKind.DOSE_DEVIATION: 3,
    FlagKind.OUT_OF_WINDOW: 4,
}
OTHER_RANK = 9


def duration_text(value: timedelta) -> str:
    """A duration as days, hours and minutes (`4 d 5 h 48 min`), the one wording of clocks."""
    minutes = max(int(value.total_seconds() // 60), 0)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return _("%(d)s d %(h)s h %(m)s min") % {"d": days, "h": hours, "m": minutes}
    return _("%(h)s h %(m)s min") % {"h": hours, "m": minutes}


def days_text(days: int) -> str:
    return _days_in(get_language(), days)


# A list page shows fifty flags, each with the same few words: each word is translated once
# per language (the catalogues do not change while the process runs).
@lru_cache(maxsize=1024)
def _word_in(language: str | None, message: str) -> str:
    return _(message)  # `language` is the active one: it is only the cache's key


@lru_cache(maxsize=1024)
def _days_in(language: str | None, days: int) -> str:
    return ngettext("%(n)s day", "%(n)s days", days) % {"n": days}


def word(message: str) -> str:
    """`message` (a literal marked for translation) in the active language, cached."""
    return _word_in(get_language(), message)


def triage_key(flag: Flag) -> tuple:
    """The triage order of triage_order, for flags already loaded (with their visit and AE)."""
    event, visit = flag.adverse_event, flag.visit
    far = datetime.max.replace(tzinfo=UTC)
    return (
        triage_rank(flag.kind),
        event.awareness_at if event is not None and event.awareness_at else far,
        visit.window_end if visit is not None and visit.window_end else date.max,
        flag.raised_at,
        flag.pk,
    )


def triage_rank(kind: str) -> int:
    """The triage rank of a flag kind: lower first."""
    return _RANK.get(kind, OTHER_RANK)


def triage_order(flags: QuerySet[Flag]) -> QuerySet[Flag]:
    """Flags in triage order: SAE report flags (the longest overdue first), overdue visits by
    how long overdue, then the rest by kind, oldest first.

    The order of `triage_key`, read from the key stored on each flag (`triage_keys_sync`),
    so that the open flags' first page is the first entries of the `flag_open_triage` index.
    """
    return flags.order_by(
        "triage_rank",
        F("triage_aware_at").asc(nulls_last=True),
        F("triage_window_end").asc(nulls_last=True),
        "raised_at",
        "pk",
    )


# Only compared with, never stored: a value no record has, standing for NULL, so that the
# stored and the current key compare NULL-safely on every backend.
_NO_TIME = datetime(1, 1, 2, tzinfo=UTC)
_NO_DATE = date(1, 1, 2)


def triage_keys_sync(*, flags: QuerySet) -> int:
    """Store the triage key of `flags` where it is not what their records say now: one
    UPDATE ... FROM a SELECT of the flags whose key moved, joined to their event and visit
    (the number updated).

    The key is the rank of the kind, the awareness time of the flag's adverse event and the
    window end of its visit: the columns `triage_key` reads from the loaded records. An
    event's awareness or a visit's window can move with any write to the participant, and
    every such write is followed by a checks run, which calls this for its participants.
    The model is read from `flags`, so that a migration can call it with its own models.
    """
    model = flags.model
    current = {
        "triage_rank": Case(
            *[When(kind=kind, then=Value(rank)) for kind, rank in _RANK.items()],
            default=Value(OTHER_RANK),
            output_field=IntegerField(),
        ),
        "triage_aware_at": F("adverse_event__awareness_at"),
        "triage_window_end": F("visit__window_end"),
    }
    nothing = {"triage_aware_at": _NO_TIME, "triage_window_end": _NO_DATE}
    compared = {}
    for name, expression in current.items():
        empty = nothing.get(name)
        if empty is None:
            compared[f"{name}_was"], compared[f"{name}_now"] = F(name), expression
        else:
            compared[f"{name}_was"] = Coalesce(F(name), Value(empty))
            compared[f"{name}_now"] = Coalesce(expression, Value(empty))
    moved = Q()
    for name in current:
        moved |= Q(**{f"{name}_was__lt": F(f"{name}_now")})
        moved |= Q(**{f"{name}_was__gt": F(f"{name}_now")})
    stale = (
        flags.order_by()
        .alias(**compared)
        .filter(moved)
        .annotate(moved_id=F("pk"), **{f"new_{name}": value for name, value in current.items()})
        .values_list("moved_id", *(f"new_{name}" for name in current))
    )
    sql, params = stale.query.sql_with_params()
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    assignments = ", ".join(
        f"{quote(model._meta.get_field(name).column)} = moved.{quote(f'new_{name}')}"
        for name in current
    )
    with connection.cursor() as cursor:
        # UPDATE ... FROM: PostgreSQL, and SQLite from 3.33.
        cursor.execute(
            f"UPDATE {table} SET {assignments} FROM ({sql}) AS moved "
            f"WHERE {table}.{quote(model._meta.pk.column)} = moved.{quote('moved_id')}",
            params,
        )
        return max(cursor.rowcount, 0)


@dataclass(frozen=True)
class FlagView:
    flag: Flag
    severity: str
    severity_label: str
    icon: str
    overdue_by: str  # how long past its deadline, or "" when the kind has no deadline
    open_for: str  # how long it has been open


def _sae_overdue(flag: Flag, now: datetime) -> timedelta | None:
    event = flag.adverse_event
    if event is None or event.awareness_at is None:
        return None
    return now - rules.sae_report_due(event.awareness_at)


def flag_view(flag: Flag, *, now: datetime | None = None, today: date | None = None) -> FlagView:
    now = now or timezone.now()
    today = today or timezone.localdate(now)
    if flag.resolved_at is not None or flag.acknowledged_at is not None:
        # Closed: its status says so; no clock runs.
        return FlagView(
            flag=flag,
            severity=LOW,
            severity_label=word(_SEVERITY_WORDS[LOW]),
            icon=KIND_ICONS.get(flag.kind, OTHER_KIND_ICON),
            overdue_by="",
            open_for="",
        )
    overdue_by = ""
    severity = MODERATE
    if flag.kind == FlagKind.SAE_REPORT_OVERDUE:
        severity = CRITICAL
        late = _sae_overdue(flag, now)
        if late is not None and late > timedelta(0):
            overdue_by = _("SAE report overdue by %(time)s") % {"time": duration_text(late)}
    elif flag.kind == FlagKind.OVERDUE:
        visit = flag.visit
        days = (today - visit.window_end).days if visit and visit.window_end else None
        severity = HIGH if days is not None and days >= OVERDUE_HIGH_DAYS else MODERATE
        if days is not None and days > 0:
            overdue_by = word(gettext_noop("overdue by %(days)s")) % {"days": days_text(days)}
    elif flag.kind == FlagKind.OUT_OF_WINDOW:
        severity = LOW
    open_days = (today - timezone.localdate(flag.raised_at)).days
    return FlagView(
        flag=flag,
        severity=severity,
        severity_label=word(_SEVERITY_WORDS[severity]),
        icon=KIND_ICONS.get(flag.kind, OTHER_KIND_ICON),
        overdue_by=overdue_by,
        open_for=word(gettext_noop("open for %(days)s")) % {"days": days_text(max(open_days, 0))},
    )


@dataclass(frozen=True)
class SaeClockView:
    event: AdverseEvent
    clock: rules.SaeClock
    state: str  # due, overdue, reported, late, or "" when not applicable
    text: str


def sae_clock_view(event: AdverseEvent, *, now: datetime) -> SaeClockView:
    """The SAE report clock of safety.rules, with the one wording every page shows for it."""
    clock = rules.sae_clock(
        serious=event.serious,
        awareness_at=event.awareness_at,
        reported_at=event.reported_at,
        now=now,
    )
    if not clock.applicable:
        text, state = "", ""
    elif clock.reported:
        state = "late" if clock.reported_late else "reported"
        text = (
            _("Reported after the %(hours)s-hour deadline")
            if clock.reported_late
            else _("Reported within %(hours)s hours")
        ) % {"hours": protocol.SAE_REPORT_HOURS}
    elif clock.overdue:
        state = "overdue"
        text = _("SAE report overdue by %(time)s") % {"time": duration_text(-clock.remaining)}
    else:
        state = "due"
        text = _("SAE report due in %(time)s") % {"time": duration_text(clock.remaining)}
    return SaeClockView(event=event, clock=clock, state=state, text=text)


def sae_clocks_running(
    *, participant_ids: list[int] | None = None, now: datetime | None = None
) -> list[SaeClockView]:
    """Serious events not reported yet, the nearest (or most overdue) deadline first: the
    clocks a coordinator must see before anything else (one query)."""
    now = now or timezone.now()
    events = AdverseEvent.objects.filter(
        serious=True, reported_at__isnull=True, awareness_at__isnull=False
    ).select_related("participant")
    if participant_ids is not None:
        events = events.filter(participant_id__in=participant_ids)
    return [sae_clock_view(e, now=now) for e in events.order_by("awareness_at", "pk")]
