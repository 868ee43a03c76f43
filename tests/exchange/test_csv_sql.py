"""PostgreSQL's CSV (exchange.csv_sql) against Python's (exchange.rows and exchange.cells).

On PostgreSQL the clinical datasets are written by the database; the Python path writes
them elsewhere (SQLite) and feeds the standards. Both must write the same bytes: here on
awkward values, cell by cell and whole datasets, and on the derived values whose rule the
SQL repeats (age, study day, evaluability, dose deviation, SAE deadline, schedule status).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import partial
from itertools import cycle
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone

from exchange import csv_sql
from exchange.cells import cell
from exchange.export import FileStats, dataset_bytes
from exchange.rows import _to_second
from infusions.dosing import deviation_pct
from infusions.models import Infusion
from itp_trial.roles import COORDINATOR, INVESTIGATOR
from safety.checks import checks_run
from safety.models import AdverseEvent, ConcomitantMedication, Flag
from subjects.models import Participant
from tests.exchange.study import build_study
from tests.factories import user_with_role
from visits.models import PlateletCount, Visit

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="PostgreSQL writes its own CSV only there"
    ),
]

TODAY = date(2026, 6, 15)
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=ZoneInfo("Asia/Shanghai"))

AWKWARD_TEXTS = [
    "=1+1",
    '=HYPERLINK("http://evil.test","x")',
    "+1",
    "-1",
    "-1.5e3",
    "+.5",
    "-.5e",
    "1e",
    "@SUM(1,2)",
    "\t=1",
    "\r=1",
    "'=x",
    "''+x",
    "'-1",
    "'",
    "''",
    "-",
    "+",
    "a,b",
    'say "hi"',
    '"',
    "line\nbreak",
    "line\r\nbreak",
    "中文,逗号",
    "=中文",
    "-١٢",  # digits of another script: not a number to a spreadsheet
    "",
    " =1",
    "\\.",
    "plain",
]


def _sql_cells(kind: str, values: list[object], sql_type: str, formatting=None) -> list[str | None]:
    """Each value through csv_sql's formatting of `kind` (or `formatting`), in one query,
    as the text COPY writes of it: its type's output (a number or a date is left to it)."""
    formatted = f"({(formatting or csv_sql.CELLS[kind])('v.x')})::text"
    params = {"values": values, "zone": timezone.get_current_timezone_name()}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(csv_sql.SESSION, params)  # as the export runs them
        cursor.execute(
            f"SELECT {formatted} FROM unnest(%(values)s::{sql_type}[]) WITH ORDINALITY "
            "AS v(x, n) ORDER BY v.n",
            params,
        )
        cells = [row[0] for row in cursor.fetchall()]
        transaction.set_rollback(True)
    return cells


def _python_cells(values: list[object]) -> list[str | None]:
    """cells.cell, with PostgreSQL's NULL for the empty cell (both are written empty)."""
    return [cell(v) or None for v in values]


def test_a_text_is_neutralised_as_python_neutralises_it():
    assert _sql_cells("text", AWKWARD_TEXTS, "text") == _python_cells(AWKWARD_TEXTS)


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "America/St_Johns", "Asia/Kathmandu", "UTC"])
def test_a_date_time_is_written_as_python_writes_it(zone):
    utc = ZoneInfo("UTC")
    values = [
        datetime(2026, 3, 1, 6, 30, tzinfo=utc),
        datetime(2026, 3, 1, 6, 30, 0, 123456, tzinfo=utc),
        datetime(2026, 7, 1, 23, 59, 59, 1, tzinfo=utc),  # summer time where there is one
        datetime(2026, 12, 31, 16, 0, tzinfo=utc),  # the next day in Asia
        datetime(1900, 1, 1, 0, 0, tzinfo=utc),  # local mean time: an offset with seconds
        None,
    ]
    with timezone.override(zone):
        assert _sql_cells("datetime", values, "timestamptz") == _python_cells(values)
        to_second = partial(csv_sql.datetime_cell, to_second=True)
        assert _sql_cells("datetime", values, "timestamptz", to_second) == _python_cells(
            [_to_second(v) for v in values]
        )


def test_dates_times_decimals_numbers_and_flags_are_written_as_python_writes_them():
    dates = [date(2026, 1, 2), date(999, 12, 31), date(2024, 2, 29), None]
    times = [time(8, 5), time(23, 59, 59), time(0, 0, 0, 500000), time(12, 0, 0, 1), None]
    decimals = [Decimal("70.50"), Decimal("0.0"), Decimal("-2.50"), Decimal("1E+2"), None]
    numbers = [0, -1, 6_050_000_000, None]
    flags = [True, False, None]
    assert _sql_cells("date", dates, "date") == _python_cells(dates)
    assert _sql_cells("time", times, "time") == _python_cells(times)
    assert _sql_cells("decimal", decimals, "numeric") == _python_cells(decimals)
    assert _sql_cells("integer", numbers, "bigint") == _python_cells(numbers)
    assert _sql_cells("boolean", flags, "boolean") == _python_cells(flags)


@pytest.mark.parametrize(
    ("actual", "planned"),
    [
        (87_500_000, 100_000_000),
        (100_000_000, 100_000_000),
        (1, 3),
        (2, 3),
        (5, 3),
        (100_005, 100_000),  # exactly half a hundredth: away from zero
        (99_995, 100_000),
        (0, 7),
        (10**14 - 1, 3),  # the largest counts computed in bigint
        (10**17 + 5, 7 * 10**16),  # beyond: in numeric
        (1, 10**18),
    ],
)
def test_the_dose_deviation_is_rounded_as_python_rounds_it(actual, planned):
    sql = csv_sql.deviation_pct("%(actual)s", "%(planned)s")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT ({sql})::text", {"actual": actual, "planned": planned})
        written = cursor.fetchone()[0]
    assert written == cell(deviation_pct(actual_cells=actual, planned_cells=planned))


def _exports_agree(today: date = TODAY) -> dict[str, bytes]:
    written = {}
    for name in csv_sql.SELECTS:
        ours = b"".join(dataset_bytes(name, stats=FileStats(name), today=today, in_database=True))
        python = b"".join(
            dataset_bytes(name, stats=FileStats(name), today=today, in_database=False)
        )
        assert ours == python, name
        written[name] = ours
    return written


def _awkward(model, *fields: str, texts=AWKWARD_TEXTS) -> None:
    """Each record's text fields set to the awkward texts in turn (straight to the table:
    only their export is under test)."""
    values = cycle(texts)
    for pk in model.objects.order_by("pk").values_list("pk", flat=True):
        model.objects.filter(pk=pk).update(**{f: next(values) for f in fields})


@time_machine.travel(NOW, tick=False)
def test_every_dataset_is_written_the_same_by_postgresql_and_by_python():
    coordinator = user_with_role(COORDINATOR, username="coordinator", first_name="Chen")
    investigator = user_with_role(INVESTIGATOR, username="investigator", first_name="Wang")
    build_study(coordinator=coordinator, investigator=investigator, today=TODAY)
    checks_run(full=True)  # flags of every kind the study raises
    assert Flag.objects.exists()
    _exports_agree()  # the study as the services wrote it

    _awkward(
        Participant,
        "consent_version",
        "prior_therapies",
        "withdrawal_detail",
        "treatment_discontinued_reason",
    )
    _awkward(Visit, "missed_reason", "physical_exam_findings")
    _awkward(Infusion, "lot_number")
    _awkward(ConcomitantMedication, "indication", "dose")
    _awkward(AdverseEvent, "term", "serious_criteria")
    _awkward(Flag, "detail", "acknowledgement_comment")
    get_user_model().objects.filter(username="coordinator").update(username="=coordinator,中")
    Flag.objects.filter(pk=Flag.objects.order_by("pk").values("pk")[:1]).update(
        acknowledged_at=NOW - timedelta(microseconds=250), acknowledged_by=coordinator
    )
    AdverseEvent.objects.update(awareness_at=NOW - timedelta(days=1, microseconds=7), serious=True)
    Infusion.objects.update(start_time=time(9, 30, 0, 5), end_time=time(10, 0))
    # A count the day before infusion 1, on it, and on the day a rescue ends its effect.
    first = Infusion.objects.filter(number=1).order_by("pk").first()
    rescue = ConcomitantMedication.objects.filter(participant=first.participant_id).first()
    if rescue is not None:
        ConcomitantMedication.objects.filter(pk=rescue.pk).update(
            rescue=True, start_date=first.infusion_date + timedelta(days=3)
        )
    for days in (-1, 0, 31, 32):
        PlateletCount.objects.get_or_create(
            participant_id=first.participant_id,
            sample_date=first.infusion_date + timedelta(days=days),
            defaults={"platelets": 45, "who_bleeding_grade": None},
        )
    written = _exports_agree()
    # Later days: the schedule stored on the day it was synced says pending where the
    # export's day says overdue.
    later = [_exports_agree(TODAY + timedelta(days=days))["visits"] for days in (20, 400)]
    assert b",pending," in written["visits"] and b",overdue," in later[-1]
    assert b"'=1+1" in written["visits"]
    assert b'"line\nbreak"' in written["visits"]  # a row with a line feed inside a cell
    assert '"中文,逗号"'.encode() in written["visits"]
    assert b".000005," in written["infusions"]
    assert b"'=coordinator" in written["flags"]
