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
    return neutralise_sql(f"({expr})", empty_as_null=True)


def number_cell(expr: str) -> str:
    """A whole number or a stored decimal (finite: the model's validators see to it), left
    to COPY, whose text of it is what `format(Decimal, 'f')` writes, scale kept."""
    return expr


def date_cell(expr: str) -> str:
    """ISO: left to COPY, which writes a date in the session's DateStyle, ISO (`SESSION`)."""
    return expr


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
    """`subjects.rules.age_years`: completed years, a birthday counting on the day itself.
    (date_part, a float, is exact on a date's fields and cheaper than extract's numeric.)"""

    def part(field: str, day: str) -> str:
        return f"date_part('{field}', {day})::int"

    return (
        f"({part('year', on)} - {part('year', birth)} - "
        f"CASE WHEN ({part('month', on)}, {part('day', on)}) < "
        f"({part('month', birth)}, {part('day', birth)}) THEN 1 ELSE 0 END)"
    )


def deviation_pct(actual: str, planned: str) -> str:
    """`infusions.dosing.deviation_pct`: (actual - planned) / planned x 100, rounded half-up
    (away from zero) to 0.01, in exact arithmetic: in bigint (several times cheaper than
    numeric) where the difference times 10,000 cannot overflow it, in numeric otherwise.
    (`/` of bigints truncates, as div of numerics does; both are of positive numbers
    here.)"""

    def hundredths(kind: str, div: str, mod: str) -> str:
        diff = f"((({actual})::{kind} - ({planned})::{kind}) * 10000)"
        over = f"({planned})::{kind}"
        quotient = (
            f"({div.format(f'abs({diff})', over)} + CASE WHEN 2 * "
            f"{mod.format(f'abs({diff})', over)} >= {over} THEN 1 ELSE 0 END)"
        )
        return f"CASE WHEN {diff} < 0 THEN -{quotient} ELSE {quotient} END"

    small = f"({actual}) < {_BIGINT_SAFE} AND ({planned}) < {_BIGINT_SAFE}"
    whole = hundredths("bigint", "({} / {})", "mod({}, {})")
    exact = hundredths("numeric", "div({}, {})", "mod({}, {})")
    return f"((CASE WHEN {small} THEN ({whole})::numeric ELSE {exact} END) / 100)::numeric(40, 2)"


# Below this, a cell count (never negative) times 10,000 is a bigint (< 9.2e18).
_BIGINT_SAFE = 10**14


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
    column's dictionary type (CELLS) or by a formatter of its own (`formats`), read in the
    Python path's order: by subject, then by `order` within a participant.

    The participants are read in subject order (their unique index), each participant's
    rows (`rows`: FROM its table `x`, whose participant_id is theirs) by a LATERAL
    subquery in `order`, joined by a nested loop: nothing is sorted but one participant's
    rows, where no index gives their order, and each participant's own values
    (`participant`, over its row `pp`: the first infusion, and its subject_id, which every
    dataset writes first) are read and formatted once. The statement's ORDER BY is the
    subject; the order within a participant is the nested loop's, which
    `copy_statement` checks in the plan (`keeps_order`), sorting the whole otherwise.

    `rows` None: the participants are the rows (`pp`), as in subjects.
    """

    rows: str | None
    order: tuple[str, ...]
    columns: Mapping[str, str]
    formats: Mapping[str, Callable[[str], str]] = field(default_factory=dict)
    participant: Mapping[str, str] = field(default_factory=dict)
    joins: str = ""  # joined to the participant (`pp`), one row to one

    def sql(self, dataset: datasets.Dataset, *, sorted_whole: bool = False) -> str:
        """`sorted_whole`: the statement orders every key, for a plan that would not keep
        the order of the participant's rows."""
        own = {"subject_cell": text_cell("pp.subject_id"), **self.participant}
        columns = list(enumerate(dataset.columns))
        raw = [f"{self.columns[c.name]} AS c{i}" for i, c in columns if c.name != "subject_id"]
        rows = "p" if self.rows is None else "s"

        def cell(i: int, column: datasets.Column) -> str:
            if column.name == "subject_id":
                return "p.subject_cell"
            return self.formats.get(column.name, CELLS[column.type])(f"{rows}.c{i}")

        cells = ", ".join(cell(i, c) for i, c in columns)
        person = ["pp.id", "pp.subject_id AS o"] + [f"{e} AS {n}" for n, e in own.items()]
        if self.rows is None:  # the participants are the rows
            person += raw
        people = (
            f"(SELECT {', '.join(person)} FROM {_table(Participant)} pp {self.joins} "
            "ORDER BY pp.subject_id) p"
        )
        if self.rows is None:
            return f"SELECT {cells} FROM {people} ORDER BY p.o"
        keys = [f"{key} AS k{j}" for j, key in enumerate(self.order)]
        where = "AND" if " WHERE " in self.rows else "WHERE"
        inner = (
            f"SELECT {', '.join(raw + keys)} {self.rows} {where} x.participant_id = p.id "
            f"ORDER BY {', '.join(self.order)}"
        )
        order = ["p.o"] + ([f"s.k{j}" for j in range(len(keys))] if sorted_whole else [])
        return (
            f"SELECT {cells} FROM {people} CROSS JOIN LATERAL ({inner}) s "
            f"ORDER BY {', '.join(order)}"
        )


# Nodes above the join of the participants with their rows that hand its rows on in order.
_PASSING = {"Result", "Subquery Scan", "Limit", "Materialize"}


def keeps_order(plan: dict[str, Any]) -> bool:
    """Whether a plan (EXPLAIN's JSON) writes each participant's rows together in their
    order: its top is the nested loop joining the participants (in subject order) with
    their rows (in their order), with no sort of the whole above it. Below it, any sort
    is of the participants or of one participant's rows, as their subqueries ask."""
    while plan["Node Type"] in _PASSING:
        plan = plan["Plans"][0]
    return plan["Node Type"] == "Nested Loop"


def _first_infusion() -> str:
    """Each participant's infusion 1's date (`pp`: the participant)."""
    return (
        f"(SELECT i1.infusion_date FROM {_table(Infusion)} i1 "
        "WHERE i1.participant_id = pp.id AND i1.number = 1)"
    )


# Each participant's visits as two arrays in the same order (the aggregates of one query
# read its rows in one order): a visit's code is then found among the participant's own,
# a dozen, rather than by a look-up in the whole table for each row.
_VISITS_JOIN = (
    "LEFT JOIN LATERAL (SELECT array_agg(v.id) AS ids, array_agg(v.code) AS codes "
    f"FROM {_table(Visit)} v WHERE v.participant_id = pp.id) pv ON true"
)
_VISIT_ARRAYS = {"visit_ids": "pv.ids", "visit_codes": "pv.codes"}


def _visit_code(key: str) -> str:
    """The code of the visit `key` names, NULL for none: among the participant's visits
    (`_VISITS_JOIN`), or looked up where it is another's."""
    return (
        f"CASE WHEN {key} IS NOT NULL THEN COALESCE("
        f"p.visit_codes[array_position(p.visit_ids, {key})], "
        f"(SELECT v.code FROM {_table(Visit)} v WHERE v.id = {key})) END"
    )


def _subjects() -> Select:
    age = "a.years"  # read once (`joins`)

    def minor_only(field: str) -> str:  # rows._minor_only
        return f"COALESCE(pp.{field}, CASE WHEN {age} >= {protocol.ADULT_AGE_YEARS} THEN false END)"

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
        None,
        (),
        {
            **{name: f"pp.{name}" for name in own},
            **{name: f"r.{name}" for name in stored},
            "guardian_consent": minor_only("guardian_consent"),
            "child_assent": minor_only("child_assent"),
            "age_at_consent": age,
        },
        joins=(
            f"LEFT JOIN {_table(ParticipantResponse)} r ON r.participant_id = pp.id, "
            f"LATERAL (SELECT {age_years('pp.birth_date', 'pp.consent_date')} AS years) a"
        ),
    )


def _eligibility() -> Select:
    order = _case("x.criterion", {c.code: i for i, c in enumerate(protocol.CRITERIA)})
    return Select(
        f"FROM {_table(EligibilityAnswer)} x",
        (order,),
        {"criterion": "x.criterion", "met": "x.met", "version": "x.version"},
    )


def _visits() -> Select:
    """Each visit record under a protocol code, with the schedule stored on it
    (visits.services.schedule_sync); an infusion visit's date is its infusion's. The status
    stored as pending or overdue is the one rule of the schedule that moves with the day
    alone: overdue once the window has ended before the export's day."""
    codes = {d.code: i for i, d in enumerate(protocol.VISITS)}
    numbers = {code: n for n, code in protocol.INFUSION_VISIT_CODES.items()}
    infusion_date = (
        f"(SELECT i.infusion_date FROM {_table(Infusion)} i WHERE i.participant_id = p.id "
        f"AND i.number = {_case('x.code', numbers)})"
    )
    actual = f"CASE WHEN x.code IN ({_codes(numbers)}) THEN {infusion_date} ELSE x.actual_date END"
    waiting = f"'{WindowStatus.PENDING.value}', '{WindowStatus.OVERDUE.value}'"
    status = (
        f"CASE WHEN x.window_status IN ({waiting}) THEN "
        f"CASE WHEN x.window_end < %(today)s THEN '{WindowStatus.OVERDUE.value}' "
        f"ELSE '{WindowStatus.PENDING.value}' END ELSE x.window_status END"
    )
    crf = {name: f"x.{name}" for name in (*_visit_crf(), "version")}
    actual_date = f"c{[c.name for c in datasets.VISITS.columns].index('actual_date')}"
    return Select(
        f"FROM {_table(Visit)} x WHERE x.code IN ({_codes(codes)})",
        (_case("x.code", codes),),
        {
            "visit_code": "x.code",
            "actual_date": actual,
            "missed": "x.missed",
            "missed_reason": "x.missed_reason",
            "target_date": "x.target_date",
            "window_start": "x.window_start",
            "window_end": "x.window_end",
            "window_status": status,
            "study_day": "NULL",  # from the actual date, once read (`formats`)
            **crf,
        },
        {"study_day": lambda _: study_day(f"s.{actual_date}", "p.first_infusion")},
        participant={"first_infusion": _first_infusion()},
    )


def _visit_crf() -> tuple[str, ...]:
    from .rows import VISIT_CRF_FIELDS

    return VISIT_CRF_FIELDS


def _infusions() -> Select:
    from .rows import INFUSION_CRF_FIELDS

    return Select(
        f"FROM {_table(Infusion)} x",
        ("x.number",),
        {
            "infusion_number": "x.number",
            **{
                name: f"x.{name}"
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
            "deviation_pct": deviation_pct("x.actual_cells", "x.planned_cells"),
            "dose_deviation": "x.dose_deviation",
        },
    )


def _platelets() -> Select:
    """Evaluability as `visits.response.is_evaluable`, after infusion 1 only: no rescue
    therapy started from RESCUE_NOT_EVALUABLE_DAYS before the sample to its day."""
    # The rescue starts of each participant as one array, read once (most have none).
    evaluable = (
        "CASE WHEN x.sample_date > p.first_infusion THEN p.rescues IS NULL OR NOT EXISTS ("
        "SELECT 1 FROM unnest(p.rescues) AS r(start) WHERE r.start <= x.sample_date "
        f"AND x.sample_date <= r.start + {protocol.RESCUE_NOT_EVALUABLE_DAYS}) END"
    )
    rescues = (
        f"(SELECT array_agg(m.start_date) FROM {_table(ConcomitantMedication)} m "
        "WHERE m.participant_id = pp.id AND m.rescue)"
    )
    return Select(
        f"FROM {_table(PlateletCount)} x",
        ("x.sample_date",),
        {
            "sample_date": "x.sample_date",
            "platelets_10e9_l": "x.platelets",
            "who_bleeding_grade": "x.who_bleeding_grade",
            "visit_code": (
                f"COALESCE(NULLIF({_visit_code('x.visit_id')}, ''), "
                f"'{protocol.UNSCHEDULED_VISIT_CODE}')"
            ),
            "study_day": study_day("x.sample_date", "p.first_infusion"),
            "evaluable": evaluable,
            "category": "x.response_category",
            "version": "x.version",
        },
        participant={"first_infusion": _first_infusion(), "rescues": rescues, **_VISIT_ARRAYS},
        joins=_VISITS_JOIN,
    )


def _adverse_events() -> Select:
    own = (
        "ae_number term onset_date end_date ongoing ctcae_grade serious serious_criteria "
        "relationship action_taken outcome awareness_at reported_at version"
    ).split()
    related = f"(SELECT ri.number FROM {_table(Infusion)} ri WHERE ri.id = x.related_infusion_id)"
    return Select(
        f"FROM {_table(AdverseEvent)} x",
        ("x.ae_number",),
        {
            **{name: f"x.{name}" for name in own},
            "related_infusion": related,
            # safety.rules.sae_report_due: awareness + SAE_REPORT_HOURS, serious events only
            "report_due_at": (
                "CASE WHEN x.serious AND x.awareness_at IS NOT NULL THEN x.awareness_at + "
                f"interval '{protocol.SAE_REPORT_HOURS} hours' END"
            ),
            # safety.rules.is_treatment_emergent: onset on or after infusion 1
            "treatment_emergent": (
                "(p.first_infusion IS NOT NULL AND x.onset_date >= p.first_infusion)"
            ),
        },
        participant={"first_infusion": _first_infusion()},
    )


def _conmeds() -> Select:
    own = "drug indication start_date end_date rescue dose version".split()
    return Select(
        f"FROM {_table(ConcomitantMedication)} x",
        ("x.start_date", "x.drug"),
        {**{name: f"x.{name}" for name in own}},
    )


def _flags() -> Select:
    """A check's timestamps to the second (rows._to_second); the status by Flag.status."""
    infusion_codes = {str(n): code for n, code in protocol.INFUSION_VISIT_CODES.items()}
    status = (
        f"CASE WHEN x.acknowledged_at IS NOT NULL THEN '{FlagStatus.ACKNOWLEDGED.value}' "
        f"WHEN x.resolved_at IS NOT NULL THEN '{FlagStatus.RESOLVED.value}' "
        f"ELSE '{FlagStatus.OPEN.value}' END"
    )

    def looked_up(key: str, value: str, model: Any) -> str:
        """The value of the record `key` names, read only where there is one."""
        return (
            f"CASE WHEN x.{key} IS NOT NULL THEN "
            f"(SELECT {value} FROM {_table(model)} t WHERE t.id = x.{key}) END"
        )

    infusion_visit = _case("t.number::text", infusion_codes, quoted_values=True)
    return Select(
        f"FROM {_table(Flag)} x",
        ("x.raised_at", "x.id"),
        {
            "kind": "x.kind",
            "visit_code": (
                f"COALESCE({_visit_code('x.visit_id')}, "
                f"{looked_up('infusion_id', infusion_visit, Infusion)})"
            ),
            "status": status,
            "detail": "x.detail",
            "ae_number": looked_up("adverse_event_id", "t.ae_number", AdverseEvent),
            "acknowledged_by": looked_up("acknowledged_by_id", "t.username", get_user_model()),
            "acknowledgement_comment": "x.acknowledgement_comment",
            **{name: f"x.{name}" for name in ("raised_at", "resolved_at", "acknowledged_at")},
        },
        {
            name: partial(datetime_cell, to_second=True)
            for name in ("raised_at", "resolved_at", "acknowledged_at")
        },
        participant=_VISIT_ARRAYS,
        joins=_VISITS_JOIN,
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
# this simple; a sort of a whole dataset (`Select.sql`, sorted_whole: a million platelet
# counts, about 120 MB) stays in memory.
SESSION = (
    "SELECT set_config('DateStyle', 'ISO, YMD', true), set_config('TimeZone', %(zone)s, true), "
    "set_config('jit', 'off', true), set_config('work_mem', '160MB', true)"
)


def copy_params(*, today: date) -> dict[str, Any]:
    """The parameters of SESSION and of the COPY."""
    return {"today": today, "zone": timezone.get_current_timezone_name()}


def copy_statement(name: str, *, params: dict[str, Any], cursor: Any) -> str:
    """The COPY of one dataset's finished cells (no header), to run with `params` on
    `cursor` after SESSION in the same transaction. Its plan is read first: where it
    would not keep each participant's rows in their order (`keeps_order`), the statement
    sorts every key."""
    select, dataset = SELECTS[name](), datasets.DATASETS_BY_NAME[name]
    sql = select.sql(dataset)
    if select.rows is not None:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        if not keeps_order(cursor.fetchone()[0][0]["Plan"]):
            sql = select.sql(dataset, sorted_whole=True)
    return f"COPY ({sql}) TO STDOUT (FORMAT csv)"
