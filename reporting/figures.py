"""The trial overview's figures, summed ahead of the request.

At 10,000 participants the overview's numbers come from 150,000 visits, 50,000 infusions,
30,000 adverse events and over a million forms to verify; aggregating them per request
takes hundreds of milliseconds however good the SQL. So each participant's share of every
figure is stored, and the trial's sums are kept beside it:

- `ParticipantFigures`: one row per participant, {figure key: n}, computed from the stored
  records by the pure `participant_figures` (the rules it reads are the ones the other
  pages use: the schedule's stored window status, the stored IWG response and each visit's
  counts by category, the stored dose deviation, `safety.rules.is_treatment_emergent`,
  the SDV state of `safety.sdv.sdv_progress`).
- `FigureDelta`: an append-only ledger. A sync writes each participant's new row and
  appends, per key, the difference between the new rows and the old; the sum of the
  ledger by key is therefore the sum of the participants' rows, which the overview reads
  in one query over a few hundred rows.

Why a ledger rather than counters on one summary row, or summing the participants' rows
per request: a summary row updated by every write would make every save in the trial
wait for the others (and the bulk import or the nightly pass would hold it for their whole
transaction); summing 10,000 rows of ~150 figures costs about as much as the aggregates it
replaces. Appending takes no lock that anyone waits on; `figures_compact` folds the ledger
into one row per key (DELETE ... RETURNING: exactly what it removed is what it adds back),
whenever it passes COMPACT_AT rows.

The rows are kept in step by `figures_sync`, called after every write that moves an input:
`visits.services.participant_changed` (every per-record service), source data
verification, the bulk import and the lab upload, the check pass (which turns pending
visits overdue, and in its full pass recomputes schedules and responses); a migration
fills them. Tests hold the ledger equal to a fresh computation after each of those paths.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any, NamedTuple

from django.db import connection, transaction
from django.db.models import Sum

from infusions.models import Infusion
from itp_trial import protocol
from safety.models import AdverseEvent
from safety.rules import is_treatment_emergent
from safety.sdv import Progress, among, sdv_progress
from subjects.models import Participant
from visits import response
from visits.models import VISIT_RESPONSE_FIELDS, ParticipantResponse, Visit

from .models import FigureDelta, ParticipantFigures

CHUNK = 2000  # participants computed and written at a time (flat memory)
COMPACT_AT = 2000  # ledger rows beyond which a sync folds them into one per key

FOLLOW_UP_CODES: frozenset[str] = frozenset(
    v.code for v in protocol.VISITS if v.kind == protocol.KIND_FOLLOW_UP
)

# The figure keys.
ENROLLED = "enrolled"
TREATED = "treated"
RESPONDERS = "responders"
INFUSIONS = "infusions"
DEVIATIONS = "deviations"
DEVIATING_PARTICIPANTS = "deviating participants"
AE_SERIOUS, AE_SERIOUS_TE = "ae serious", "ae serious te"
AE_EVENTS, AE_EVENTS_TE = "ae events", "ae events te"
AE_SAE, AE_SAE_TE = "ae sae", "ae sae te"
SDV_FORMS, SDV_VERIFIED, SDV_CHANGED = "sdv forms", "sdv verified", "sdv changed"


def status_key(status: str) -> str:
    return f"status {status}"


def visit_key(code: str, window_status: str) -> str:
    return f"visit {code} {window_status}"


def response_key(code: str, category: str) -> str:
    return f"response {code} {category}"


def best_key(category: str) -> str:
    return f"best {category}"


def worst_key(grade: int, *, emergent: bool) -> str:
    return f"ae worst{' te' if emergent else ''} {grade}"


class VisitFigures(NamedTuple):
    code: str
    window_status: str
    responses: tuple[int, ...]  # the visit's stored counts by IWG category (CATEGORIES)


class EventFigures(NamedTuple):
    onset_date: date
    ctcae_grade: int
    serious: bool


def participant_figures(
    *,
    status: str,
    enrolled: bool,
    visits: Iterable[VisitFigures],
    first_infusion: date | None,
    deviations: Iterable[bool],
    best_response: str | None,
    responder: bool,
    events: Iterable[EventFigures],
    sdv: Progress,
) -> dict[str, int]:
    """One participant's share of each figure of the overview (the non-zero ones).

    Pure: `deviations` is the stored dose deviation of each infusion given; the best
    response and `responder` (a confirmed response started) are the stored response's.
    """
    figures: Counter = Counter({status_key(status): 1, ENROLLED: int(enrolled)})
    for visit in visits:
        figures[visit_key(visit.code, visit.window_status)] += 1
        if visit.code in FOLLOW_UP_CODES:
            for category, n in zip(response.CATEGORIES, visit.responses, strict=True):
                if n:
                    figures[response_key(visit.code, category)] += n
    if first_infusion is not None:
        figures[TREATED] += 1
        if best_response:
            figures[best_key(best_response)] += 1
    figures[RESPONDERS] += int(responder)
    deviations = list(deviations)
    figures[INFUSIONS] += len(deviations)
    figures[DEVIATIONS] += sum(deviations)
    figures[DEVIATING_PARTICIPANTS] += int(any(deviations))
    events = list(events)
    emergent = [e for e in events if is_treatment_emergent(e.onset_date, first_infusion)]
    for group, te in ((events, False), (emergent, True)):
        if group:
            figures[worst_key(max(e.ctcae_grade for e in group), emergent=te)] += 1
        serious = sum(e.serious for e in group)
        figures[AE_SERIOUS_TE if te else AE_SERIOUS] += int(serious > 0)
        figures[AE_EVENTS_TE if te else AE_EVENTS] += len(group)
        figures[AE_SAE_TE if te else AE_SAE] += serious
    figures[SDV_FORMS] += sdv.total
    figures[SDV_VERIFIED] += sdv.verified
    figures[SDV_CHANGED] += sdv.changed
    return {key: n for key, n in figures.items() if n}


@dataclass(frozen=True)
class FigureModels:
    """The models the figures are read from and written to: the live ones, or a
    migration's (`apps`)."""

    participant: Any = Participant
    visit: Any = Visit
    infusion: Any = Infusion
    stored_response: Any = ParticipantResponse
    adverse_event: Any = AdverseEvent
    stored: Any = ParticipantFigures
    delta: Any = FigureDelta
    apps: Any = None  # for the SDV state (None: the live models)


def figures_compute(
    ids: list[int],
    *,
    models: FigureModels = FigureModels(),
    sdv_kept: dict[int, dict] | None = None,
) -> dict[int, dict]:
    """{participant id: its figures} from the stored records: a fixed number of reads per
    call (one per table, one per kind of form), whatever the number of participants.

    `sdv_kept`: {participant id: stored figures} whose SDV figures are kept instead of
    counted again (a caller that moves no record's version and verifies nothing)."""
    response_fields = [VISIT_RESPONSE_FIELDS[c] for c in response.CATEGORIES]
    visits: dict[int, list[VisitFigures]] = {pk: [] for pk in ids}
    for participant_id, code, window_status, *counts in (
        models.visit.objects.filter(**among("participant_id", ids))
        .order_by()
        .values_list("participant_id", "code", "window_status", *response_fields)
    ):
        visits[participant_id].append(VisitFigures(code, window_status, tuple(counts)))
    firsts: dict[int, date] = {}
    deviations: dict[int, list[bool]] = {pk: [] for pk in ids}
    for participant_id, number, day, deviation in (
        models.infusion.objects.filter(**among("participant_id", ids))
        .order_by()
        .values_list("participant_id", "number", "infusion_date", "dose_deviation")
    ):
        deviations[participant_id].append(bool(deviation))
        if number == 1:
            firsts[participant_id] = day
    stored_responses = {
        pk: (best, start is not None)
        for pk, best, start in models.stored_response.objects.filter(
            **among("pk", ids)
        ).values_list("participant_id", "best_response", "response_start")
    }
    events: dict[int, list[EventFigures]] = {pk: [] for pk in ids}
    for participant_id, *event in (
        models.adverse_event.objects.filter(**among("participant_id", ids))
        .order_by()
        .values_list("participant_id", "onset_date", "ctcae_grade", "serious")
    ):
        events[participant_id].append(EventFigures(*event))
    if sdv_kept is None:
        sdv = sdv_progress(participant_ids=ids, apps=models.apps)
    else:
        # Counted for a participant with no stored figures yet, kept for the others.
        missing = [pk for pk in ids if pk not in sdv_kept]
        sdv = sdv_progress(participant_ids=missing, apps=models.apps) if missing else {}
        sdv |= {
            pk: Progress(
                kept.get(SDV_FORMS, 0), kept.get(SDV_VERIFIED, 0), kept.get(SDV_CHANGED, 0)
            )
            for pk, kept in sdv_kept.items()
        }
    result = {}
    for pk, status, enrolled_on in models.participant.objects.filter(
        **among("pk", ids)
    ).values_list("pk", "status", "enrolled_on"):
        best, responder = stored_responses.get(pk, (None, False))
        result[pk] = participant_figures(
            status=status,
            enrolled=enrolled_on is not None,
            visits=visits[pk],
            first_infusion=firsts.get(pk),
            deviations=deviations[pk],
            best_response=best,
            responder=responder,
            events=events[pk],
            sdv=sdv.get(pk, Progress()),
        )
    return result


def figures_encode(figures: dict[str, int]) -> str:
    """A participant's figures as stored: "key=n" joined by ";", in key order. Plain text
    rather than JSON: binding 10,000 JSON values (quotes escaped one by one) cost seconds
    in a full pass."""
    return ";".join(f"{key}={n}" for key, n in sorted(figures.items()))


def figures_decode(text: str) -> dict[str, int]:
    return {key: int(n) for key, _, n in (p.rpartition("=") for p in text.split(";") if p)}


def figures_store(
    ids: list[int], *, models: FigureModels = FigureModels(), sdv: bool = True
) -> int:
    """figures_sync for one chunk: the participants' stored rows locked and read, their
    figures recomputed, the rows that moved written and their difference appended to the
    ledger (one row per key). Returns the number of participants whose figures moved."""
    with transaction.atomic():
        # Locked first, so that a concurrent sync of the same participant waits and then
        # reads the row this one writes: the ledger always sums the stored rows.
        old = {
            pk: figures_decode(text)
            for pk, text in models.stored.objects.select_for_update()
            .filter(**among("pk", ids))
            .order_by("participant_id")
            .values_list("participant_id", "figures")
        }
        new = figures_compute(ids, models=models, sdv_kept=None if sdv else old)
        moved: Counter = Counter()
        changed = []
        for pk, figures in new.items():
            before = old.get(pk, {})
            if figures != before:
                changed.append((pk, figures_encode(figures)))
                moved.update(figures)
                moved.subtract(before)
        _stored_upsert(models.stored, changed)
        models.delta.objects.bulk_create(
            models.delta(key=key, n=n) for key, n in sorted(moved.items()) if n
        )
    return len(changed)


# Parameters per INSERT: under SQLite's limit of 32,766 (Django's bulk_create keeps to 999,
# three statements for a chunk of 2,000 participants where one does).
STATEMENT_PARAMETERS = 30000


def _stored_upsert(model: Any, rows: list[tuple[int, str]]) -> None:
    """INSERT ... ON CONFLICT DO UPDATE of the participants' rows that moved, one
    statement per STATEMENT_PARAMETERS values."""
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    key, column = (quote(model._meta.get_field(n).column) for n in ("participant", "figures"))
    size = STATEMENT_PARAMETERS // 2
    for start in range(0, len(rows), size):
        batch = rows[start : start + size]
        values = ", ".join(["(%s, %s)"] * len(batch))
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} ({key}, {column}) VALUES {values}"
                f" ON CONFLICT ({key}) DO UPDATE SET {column} = excluded.{column}",
                [value for row in batch for value in row],
            )


def figures_sync(*, participant_ids: Iterable[int] | None = None, sdv: bool = True) -> int:
    """Bring the stored figures of participants in step with their records (everyone's
    with `participant_ids` None), CHUNK participants at a time; returns how many moved.

    `sdv` False keeps the stored SDV figures (the form counts and their states, the costly
    part at scale): for the check pass, which saves no form and verifies nothing.

    Locked casebooks are synced too: the figures are read from the stored records, which a
    lock keeps as they are, so they cannot move, and a fill must cover them."""
    if participant_ids is None:
        ids = list(Participant.objects.order_by("pk").values_list("pk", flat=True))
    else:
        ids = sorted(set(participant_ids))
    moved = sum(
        figures_store(ids[start : start + CHUNK], sdv=sdv) for start in range(0, len(ids), CHUNK)
    )
    if FigureDelta.objects.count() > COMPACT_AT:
        figures_compact()
    return moved


def figures_compact(*, model: Any = FigureDelta) -> None:
    """Fold the ledger into one row per key. Only the rows this DELETE removes are added
    back, so a sync appending meanwhile (its rows not yet visible here) loses nothing."""
    quote = connection.ops.quote_name
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {quote(model._meta.db_table)} RETURNING {quote('key')}, {quote('n')}"
        )
        sums: Counter = Counter()
        for key, n in cursor.fetchall():
            sums[key] += n
        model.objects.bulk_create(model(key=key, n=n) for key, n in sorted(sums.items()) if n)


def figures_fill(apps: Any) -> None:
    """A data migration's fill of every participant's figures and of the ledger."""
    models = FigureModels(
        participant=apps.get_model("subjects", "Participant"),
        visit=apps.get_model("visits", "Visit"),
        infusion=apps.get_model("infusions", "Infusion"),
        stored_response=apps.get_model("visits", "ParticipantResponse"),
        adverse_event=apps.get_model("safety", "AdverseEvent"),
        stored=apps.get_model("reporting", "ParticipantFigures"),
        delta=apps.get_model("reporting", "FigureDelta"),
        apps=apps,
    )
    ids = list(models.participant.objects.order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), CHUNK):
        figures_store(ids[start : start + CHUNK], models=models)
    figures_compact(model=models.delta)


def figures_totals() -> Counter:
    """The whole trial's figures: the ledger summed by key (one query)."""
    return Counter(
        dict(
            FigureDelta.objects.order_by()
            .values("key")
            .annotate(n=Sum("n"))
            .values_list("key", "n")
        )
    )


def figures_fresh() -> Counter:
    """The whole trial's figures computed now from the records, nothing stored read (for
    the tests that hold the ledger in step)."""
    ids = list(Participant.objects.order_by("pk").values_list("pk", flat=True))
    total: Counter = Counter()
    for start in range(0, len(ids), CHUNK):
        for figures in figures_compute(ids[start : start + CHUNK]).values():
            total.update(figures)
    return total
