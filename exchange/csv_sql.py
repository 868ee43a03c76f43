"""The clinical datasets as finished CSV cells, written by PostgreSQL.

On PostgreSQL an export of a large dataset is one `COPY (SELECT ...) TO STDOUT (FORMAT
csv)`: the database joins, derives and formats every cell, and Python only passes the
rows on (`exchange.export`). Each SELECT here writes exactly what the Python path writes
(`exchange.rows` through `exchange.cells`), byte for byte; tests/exchange/test_csv_sql.py
holds the two equal on awkward values, and the golden files hold both.

How a cell is written in SQL, after `cells.cell`:
- text: `cells.neutralise` (a leading quote before a formula-like text that is not a
  number), and NULL for an empty text, because PostgreSQL writes NULL as an empty cell and
  an empty string as `""`, where Python's csv module writes nothing;
- integers and decimals: their text (a stored numeric keeps its scale, as a Decimal does);
- dates ISO, times HH:MM:SS[.ffffff], booleans Y/N;
- date-times in the site's time zone, ISO 8601 with the offset, as `datetime.isoformat`.
Quoting is the same in both: a cell is quoted when it holds a comma, a double quote, a
carriage return or a line feed. PostgreSQL ends a row with LF, Python with CRLF: the
export turns the row ends over.

Derived values are read where they are stored (the schedule on each visit, the response,
the dose) or computed here by the rule of the pure function named next to each, which the
tests hold equal: age at consent (`subjects.rules.age_years`), study day
(`visits.schedule.study_day`), evaluability (`visits.response.is_evaluable`), the deviation
percentage (`infusions.dosing.deviation_pct`), the SAE report deadline and treatment
emergence (`safety.rules`), a flag's status (`safety.models.Flag.status`), and a visit's
pending or overdue status on the export's day (`visits.schedule`).

Parameters are merged client-side (COPY takes none), so no `%` may appear in the SQL but
as a placeholder.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from infusions.models import Infusion
from itp_trial import protocol
from safety.models import AdverseEvent, ConcomitantMedication, Flag, FlagStatus
from subjects.models import EligibilityAnswer, Participant
from visits.models import ParticipantResponse, PlateletCount, Visit, WindowStatus

from . import datasets
from .cells import neutralise_sql


def text_cell(expr: str) -> str:
    """`cells.neutralise` of a text, NULL when empty."""
    return f"NULLIF({neutralise_sql(f'({expr})')}, '')"


def number_cell(expr: str) -> str:
    """A whole number or a stored decimal (finite: the model's validators see to it), whose
    text PostgreSQL writes as `format(Decimal, 'f')` does, scale kept."""
    return f"({expr})::text"


def date_cell(expr: str) -> str:
    """ISO: a date's own output under the session's DateStyle ISO (`SESSION`)."""
    return f"({expr})::text"


def time_cell(expr: str) -> str:
    """`time.isoformat()`: the microseconds only when there are some."""
    return f"replace(to_char({expr}, 'HH24:MI:SS.US'), '.000000', '')"


def boolean_cell(expr: str) -> str:
    # CASE expr WHEN: the expression is evaluated once, not once per branch.
    return f"CASE {expr} WHEN true THEN 'Y' WHEN false THEN 'N' END"


# Since 1973 every zone's offset is whole minutes, which to_char's TZH:TZM writes: a
# cheap comparison spares the recent date-times the look-up of their offset's seconds.
_WHOLE_MINUTE_OFFSETS = "TIMESTAMPTZ '1973-01-01 00:00:00+00'"


def datetime_cell(expr: str, *, to_second: bool = False) -> str:
    """`timezone.localtime(value).isoformat()` in the session's time zone, which `SESSION`
    sets to the site's (the parameter `zone`): the local clock, its microseconds when there
    are some (none `to_second`, as `rows._to_second`), and the offset as +HH:MM, with :SS
    when the offset has seconds (local mean time, before the zones were standardised),
    which to_char cannot write: that rare case is spelt out."""
    clock = "HH24:MI:SS" if to_second else "HH24:MI:SS.US"
    fast = f"to_char({expr}, 'YYYY-MM-DD\"T\"{clock}TZH:TZM')"
    if not to_second:
        fast = f"replace({fast}, '.000000', '')"
    if to_second:
        expr = f"date_trunc('second', {expr})"
    local = f"(({expr}) AT TIME ZONE %(zone)s)"
    offset = f"extract(timezone FROM {expr})::int"
    exact = (
        f"to_char({local}, 'YYYY-MM-DD\"T\"HH24:MI:SS') || "
        f"CASE WHEN to_char({local}, 'US') <> '000000' THEN '.' || to_char({local}, 'US') "
        "ELSE '' END || "
        f"CASE WHEN {offset} < 0 THEN '-' ELSE '+' END || "
        f"lpad((abs({offset}) / 3600)::text, 2, '0') || ':' || "
        f"lpad((mod(abs({offset}), 3600) / 60)::text, 2, '0') || "
        f"':' || lpad(mod(abs({offset}), 60)::text, 2, '0')"
    )
    return (
        f"CASE WHEN ({expr}) >= {_WHOLE_MINUTE_OFFSETS} OR mod({offset}, 60) = 0 "
        f"THEN {fast} WHEN ({expr}) IS NOT NULL THEN {exact} END"
    )


CELLS: dict[str, Callable[[str], str]] = {
    datasets.TEXT: text_cell,
    datasets.CODE: text_cell,
    datasets.CODES: text_cell,
    datasets.INTEGER: number_cell,
    datasets.DECIMAL: number_cell,
    datasets.DATE: date_cell,
    datasets.TIME: time_cell,
    datasets.BOOLEAN: boolean_cell,
    datasets.DATETIME: datetime_cell,
}


def study_day(day: str, first_infusion: str) -> str:
    """`visits.schedule.study_day`: infusion 1 is day 1, the day before is -1; no day 0."""
    return (
        f"CASE WHEN ({day}) >= ({first_infusion}) THEN ({day}) - ({first_infusion}) + 1 "
        f"ELSE ({day}) - ({first_infusion}) END"
    )


def age_years(birth: str, on: str) -> str:
    """`subjects.rules.age_years`: completed years, a birthday counting on the day itself."""
    return (
        f"(extract(year FROM {on})::int - extract(year FROM {birth})::int - "
        f"CASE WHEN (extract(month FROM {on}), extract(day FROM {on})) < "
        f"(extract(month FROM {birth}), extract(day FROM {birth})) THEN 1 ELSE 0 END)"
    )


def deviation_pct(actual: str, planned: str) -> str:
    """`infusions.dosing.deviation_pct`: (actual - planned) / planned x 100, rounded half-up
    (away from zero) to 0.01, in exact numeric arithmetic."""
    hundredths = f"((({actual})::numeric - ({planned})::numeric) * 10000)"
    quotient = (
        f"(div(abs({hundredths}), ({planned})::numeric) + "
        f"CASE WHEN 2 * mod(abs({hundredths}), ({planned})::numeric) >= ({planned})::numeric "
        "THEN 1 ELSE 0 END)"
    )
    return f"(sign({hundredths}) * {quotient} / 100)::numeric(40, 2)"


def _codes(codes: Mapping[str, Any]) -> str:
    return ", ".join(f"'{code}'" for code in codes)


def _table(model: Any) -> str:
    return model._meta.db_table


def _case(expr: str, mapping: Mapping[str, Any], *, quoted_values: bool = False) -> str:
    """CASE expr WHEN key THEN value ... END, the keys being codes of this module's own."""

    def literal(value: Any) -> str:
        return f"'{value}'" if quoted_values else str(value)

    whens = " ".join(f"WHEN '{key}' THEN {literal(value)}" for key, value in mapping.items())
    return f"CASE {expr} {whens} END"


@dataclass(frozen=True)
class Select:
    """One dataset's SELECT: its columns' raw expressions by name, formatted by the
    column's dictionary type (CELLS) or by a formatter of its own (`formats`), from and
    ordered as the Python path reads them.

    The rows are sorted as raw values and formatted after the sort: a sort moves a few
    dates and numbers a row rather than the finished text, several times wider. The
    subquery (OFFSET 0 keeps it one) hands its order on, so the outer ORDER BY costs no
    second sort and the order is the statement's, not the plan's.
    """

    source: str  # FROM ... [WHERE ...] ORDER BY key, ... (no comma inside a key)
    columns: Mapping[str, str]
    formats: Mapping[str, Callable[[str], str]] = field(default_factory=dict)

    def sql(self, dataset: datasets.Dataset) -> str:
        body, order = self.source.rsplit(" ORDER BY ", 1)
        keys = [key.strip() for key in order.split(",")]
        raw = ", ".join(
            [f"{self.columns[c.name]} AS c{i}" for i, c in enumerate(dataset.columns)]
            + [f"{key} AS k{j}" for j, key in enumerate(keys)]
        )
        cells = ", ".join(
            self.formats.get(c.name, CELLS[c.type])(f"s.c{i}")
            for i, c in enumerate(dataset.columns)
        )
        outer_order = ", ".join(f"s.k{j}" for j in range(len(keys)))
        return (
            f"SELECT {cells} FROM (SELECT {raw} {body} ORDER BY {order} OFFSET 0) s "
            f"ORDER BY {outer_order}"
        )


def _ranked_participants() -> str:
    """The participants with their rank in subject order: a dataset is sorted on this whole
    number rather than on the subject's text, whose comparison under the database's
    collation is what made the sort of a large dataset slow. The same order, the
    subject_id being unique."""
    return (
        f"(SELECT id, subject_id, row_number() OVER (ORDER BY subject_id) AS rank "
        f"FROM {_table(Participant)})"
    )


def _subjects() -> Select:
    p, r = "p", "r"
    age = age_years(f"{p}.birth_date", f"{p}.consent_date")

    def minor_only(field: str) -> str:  # rows._minor_only
        return (
            f"COALESCE({p}.{field}, CASE WHEN {age} >= {protocol.ADULT_AGE_YEARS} THEN false END)"
        )

    own = (
        "subject_id screening_number sex birth_date consent_date consent_version enrolled_on "
        "planned_first_infusion_date treatment_discontinued_date treatment_discontinued_reason "
        "withdrawal_date withdrawal_reason status itp_diagnosis_date prior_therapies "
        "splenectomy splenectomy_date height_cm withdrawal_detail version"
    ).split()
    stored = (
        "baseline_platelets best_response time_to_response_days response_lost_on "
        "response_duration_days"
    ).split()
    return Select(
        f"FROM {_table(Participant)} {p} "
        f"LEFT JOIN {_table(ParticipantResponse)} {r} ON {r}.participant_id = {p}.id "
        f"ORDER BY {p}.subject_id",
        {
            **{name: f"{p}.{name}" for name in own},
            **{name: f"{r}.{name}" for name in stored},
            "guardian_consent": minor_only("guardian_consent"),
            "child_assent": minor_only("child_assent"),
            "age_at_consent": age,
        },
    )


def _eligibility() -> Select:
    order = _case("e.criterion", {c.code: i for i, c in enumerate(protocol.CRITERIA)})
    return Select(
        f"FROM {_table(EligibilityAnswer)} e "
        f"JOIN {_ranked_participants()} p ON p.id = e.participant_id "
        f"ORDER BY p.rank, {order}",
        {
            "subject_id": "p.subject_id",
            "criterion": "e.criterion",
            "met": "e.met",
            "version": "e.version",
        },
    )


def _first_infusion(alias: str, participant: str) -> str:
    return (
        f"LEFT JOIN {_table(Infusion)} {alias} "
        f"ON {alias}.participant_id = {participant} AND {alias}.number = 1"
    )


def _visits() -> Select:
    """Each visit record under a protocol code, with the schedule stored on it
    (visits.services.schedule_sync); an infusion visit's date is its infusion's. The status
    stored as pending or overdue is the one rule of the schedule that moves with the day
    alone: overdue once the window has ended before the export's day."""
    codes = {d.code: i for i, d in enumerate(protocol.VISITS)}
    numbers = {code: n for n, code in protocol.INFUSION_VISIT_CODES.items()}
    actual = f"CASE WHEN v.code IN ({_codes(numbers)}) THEN i.infusion_date ELSE v.actual_date END"
    waiting = f"'{WindowStatus.PENDING.value}', '{WindowStatus.OVERDUE.value}'"
    status = (
        f"CASE WHEN v.window_status IN ({waiting}) THEN "
        f"CASE WHEN v.window_end < %(today)s THEN '{WindowStatus.OVERDUE.value}' "
        f"ELSE '{WindowStatus.PENDING.value}' END ELSE v.window_status END"
    )
    crf = {name: f"v.{name}" for name in (*_visit_crf(), "version")}
    return Select(
        f"FROM {_table(Visit)} v JOIN {_ranked_participants()} p ON p.id = v.participant_id "
        f"LEFT JOIN {_table(Infusion)} i ON i.participant_id = v.participant_id "
        f"AND i.number = {_case('v.code', numbers)} "
        f"{_first_infusion('i1', 'v.participant_id')} "
        f"WHERE v.code IN ({_codes(codes)}) "
        f"ORDER BY p.rank, {_case('v.code', codes)}",
        {
            "subject_id": "p.subject_id",
            "visit_code": "v.code",
            "actual_date": actual,
            "missed": "v.missed",
            "missed_reason": "v.missed_reason",
            "target_date": "v.target_date",
            "window_start": "v.window_start",
            "window_end": "v.window_end",
            "window_status": status,
            "study_day": study_day(actual, "i1.infusion_date"),
            **crf,
        },
    )


def _visit_crf() -> tuple[str, ...]:
    from .rows import VISIT_CRF_FIELDS

    return VISIT_CRF_FIELDS


def _infusions() -> Select:
    from .rows import INFUSION_CRF_FIELDS

    return Select(
        f"FROM {_table(Infusion)} i JOIN {_ranked_participants()} p ON p.id = i.participant_id "
        "ORDER BY p.rank, i.number",
        {
            "subject_id": "p.subject_id",
            "infusion_number": "i.number",
            **{
                name: f"i.{name}"
                for name in (
                    "infusion_date",
                    "dosing_weight_kg",
                    "actual_cells",
                    "dose_per_kg",
                    "planned_cells",
                    "version",
                    *INFUSION_CRF_FIELDS,
                )
            },
            "deviation_pct": deviation_pct("i.actual_cells", "i.planned_cells"),
            "dose_deviation": "i.dose_deviation",
        },
    )


def _platelets() -> Select:
    """Evaluability as `visits.response.is_evaluable`, after infusion 1 only: no rescue
    therapy started from RESCUE_NOT_EVALUABLE_DAYS before the sample to its day."""
    # The rescue starts of each participant as one array, read once (most have none),
    # rather than a look-up per count.
    evaluable = (
        "CASE WHEN c.sample_date > i1.infusion_date THEN r.starts IS NULL OR NOT EXISTS ("
        "SELECT 1 FROM unnest(r.starts) AS s(start) WHERE s.start <= c.sample_date "
        f"AND c.sample_date <= s.start + {protocol.RESCUE_NOT_EVALUABLE_DAYS}) END"
    )
    rescue = (
        "SELECT participant_id, array_agg(start_date) AS starts "
        f"FROM {_table(ConcomitantMedication)} WHERE rescue GROUP BY participant_id"
    )
    return Select(
        f"FROM {_table(PlateletCount)} c "
        f"JOIN {_ranked_participants()} p ON p.id = c.participant_id "
        f"LEFT JOIN {_table(Visit)} v ON v.id = c.visit_id "
        f"{_first_infusion('i1', 'c.participant_id')} "
        f"LEFT JOIN ({rescue}) r ON r.participant_id = c.participant_id "
        "ORDER BY p.rank, c.sample_date",
        {
            "subject_id": "p.subject_id",
            "sample_date": "c.sample_date",
            "platelets_10e9_l": "c.platelets",
            "who_bleeding_grade": "c.who_bleeding_grade",
            "visit_code": f"COALESCE(NULLIF(v.code, ''), '{protocol.UNSCHEDULED_VISIT_CODE}')",
            "study_day": study_day("c.sample_date", "i1.infusion_date"),
            "evaluable": evaluable,
            "category": "c.response_category",
            "version": "c.version",
        },
    )


def _adverse_events() -> Select:
    own = (
        "ae_number term onset_date end_date ongoing ctcae_grade serious serious_criteria "
        "relationship action_taken outcome awareness_at reported_at version"
    ).split()
    return Select(
        f"FROM {_table(AdverseEvent)} a JOIN {_ranked_participants()} p ON p.id = a.participant_id "
        f"LEFT JOIN {_table(Infusion)} ri ON ri.id = a.related_infusion_id "
        f"{_first_infusion('i1', 'a.participant_id')} "
        "ORDER BY p.rank, a.ae_number",
        {
            "subject_id": "p.subject_id",
            **{name: f"a.{name}" for name in own},
            "related_infusion": "ri.number",
            # safety.rules.sae_report_due: awareness + SAE_REPORT_HOURS, serious events only
            "report_due_at": (
                "CASE WHEN a.serious AND a.awareness_at IS NOT NULL THEN a.awareness_at + "
                f"interval '{protocol.SAE_REPORT_HOURS} hours' END"
            ),
            # safety.rules.is_treatment_emergent: onset on or after infusion 1
            "treatment_emergent": (
                "(i1.infusion_date IS NOT NULL AND a.onset_date >= i1.infusion_date)"
            ),
        },
    )


def _conmeds() -> Select:
    own = "drug indication start_date end_date rescue dose version".split()
    return Select(
        f"FROM {_table(ConcomitantMedication)} m "
        f"JOIN {_ranked_participants()} p ON p.id = m.participant_id "
        "ORDER BY p.rank, m.start_date, m.drug",
        {"subject_id": "p.subject_id", **{name: f"m.{name}" for name in own}},
    )


def _flags() -> Select:
    """A check's timestamps to the second (rows._to_second); the status by Flag.status."""
    infusion_codes = {str(n): code for n, code in protocol.INFUSION_VISIT_CODES.items()}
    status = (
        f"CASE WHEN f.acknowledged_at IS NOT NULL THEN '{FlagStatus.ACKNOWLEDGED.value}' "
        f"WHEN f.resolved_at IS NOT NULL THEN '{FlagStatus.RESOLVED.value}' "
        f"ELSE '{FlagStatus.OPEN.value}' END"
    )
    return Select(
        f"FROM {_table(Flag)} f JOIN {_ranked_participants()} p ON p.id = f.participant_id "
        f"LEFT JOIN {_table(Visit)} v ON v.id = f.visit_id "
        f"LEFT JOIN {_table(Infusion)} i ON i.id = f.infusion_id "
        f"LEFT JOIN {_table(AdverseEvent)} a ON a.id = f.adverse_event_id "
        f"LEFT JOIN {_table(get_user_model())} u ON u.id = f.acknowledged_by_id "
        "ORDER BY p.rank, f.raised_at, f.id",
        {
            "subject_id": "p.subject_id",
            "kind": "f.kind",
            "visit_code": (
                f"COALESCE(v.code, {_case('i.number::text', infusion_codes, quoted_values=True)})"
            ),
            "status": status,
            "detail": "f.detail",
            "ae_number": "a.ae_number",
            "acknowledged_by": "u.username",
            "acknowledgement_comment": "f.acknowledgement_comment",
            **{name: f"f.{name}" for name in ("raised_at", "resolved_at", "acknowledged_at")},
        },
        {
            name: partial(datetime_cell, to_second=True)
            for name in ("raised_at", "resolved_at", "acknowledged_at")
        },
    )


# The table whose records are each dataset's rows: none there, no rows (and no COPY).
SOURCES: dict[str, Any] = {
    "subjects": Participant,
    "eligibility": EligibilityAnswer,
    "visits": Visit,
    "infusions": Infusion,
    "platelets": PlateletCount,
    "adverse_events": AdverseEvent,
    "conmeds": ConcomitantMedication,
    "flags": Flag,
}

SELECTS: dict[str, Callable[[], Select]] = {
    "subjects": _subjects,
    "eligibility": _eligibility,
    "visits": _visits,
    "infusions": _infusions,
    "platelets": _platelets,
    "adverse_events": _adverse_events,
    "conmeds": _conmeds,
    "flags": _flags,
}


# The session a COPY runs in, set for its transaction only (`set_config(..., true)`) and
# rolled back with it: the cells' output functions assume the ISO DateStyle and the site's
# zone; JIT compilation costs seconds per statement here and gains nothing on expressions
# this simple; the sort of the largest dataset at 10,000 participants (a million platelet
# counts, about 120 MB sorted) stays in memory.
SESSION = (
    "SELECT set_config('DateStyle', 'ISO, YMD', true), set_config('TimeZone', %(zone)s, true), "
    "set_config('jit', 'off', true), set_config('work_mem', '160MB', true)"
)


def copy_statement(name: str, *, today: date) -> tuple[str, dict[str, Any]]:
    """The COPY of one dataset's finished cells (no header) and its parameters, which are
    also SESSION's, to be run first in the same transaction."""
    sql = SELECTS[name]().sql(datasets.DATASETS_BY_NAME[name])
    params = {"today": today, "zone": timezone.get_current_timezone_name()}
    return f"COPY ({sql}) TO STDOUT (FORMAT csv)", params
