"""The audit trail written by PostgreSQL (exchange.audit_trail_sql) is the Python path's file,
byte for byte: awkward values (formulas, quotes, commas, newlines, Chinese, decimals, times,
date-times in several zones, empty values, flags, keys whose target is gone) and awkward
histories (a record changed many times, deleted, created again, saved with no change)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from exchange import datasets
from exchange.audit_trail import (
    _SHOWN_AS,
    _SKIPPED,
    ACTIONS,
    AUDITED,
    audit_trail_bytes,
    audit_trail_in_sql,
    audit_trail_rows,
)
from exchange.audit_trail_sql import _keeps_order, history_select_sql, iso_datetime, neutralised
from exchange.cells import cell, column_format, neutralise
from exchange.export import FileStats, csv_bytes, dataset_bytes
from infusions.models import Infusion
from safety.checks import checks_run
from safety.dataqueries import query_answer, query_raise
from safety.models import AdverseEvent, ConcomitantMedication, DataQuery, Flag
from subjects.models import Participant
from tests.exchange.study import build_study

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="The SQL path is PostgreSQL's only."
    ),
]

AWKWARD_TEXTS = [
    "=SUM(A1:A9)",
    "+1 tablet",
    "-",
    "@cmd",
    "\ttabbed",
    "\rreturned",
    "'=already quoted",
    "''+twice",
    "'-5",
    "'",
    "-2.5",
    "+.5e-3",
    "-٣",  # an Arabic-Indic digit: a number to Python's \d
    "-３",  # a full-width digit too
    "a, b",
    'said "no"',
    "first line\nsecond line",
    "crlf\r\nline",
    "中文备注：血小板减少",
    "  spaced  ",
    "\\.",
    "back\\slash",
    "",
]


def _both() -> tuple[bytes, bytes]:
    dataset = datasets.AUDIT_TRAIL
    formats = [column_format(c.type) for c in dataset.columns]
    sql = b"".join(
        audit_trail_bytes(header=dataset.header, formats=formats, stats=FileStats("sql"))
    )
    formats = [column_format(c.type) for c in dataset.columns]
    python = b"".join(
        csv_bytes(dataset.header, audit_trail_rows(), stats=FileStats("py"), formats=formats)
    )
    return sql, python


def _assert_same() -> bytes:
    """Both paths' bytes equal, whichever plan PostgreSQL picks: a test's small tables are
    sorted, a study's are read in index order by nested loops (copy_blocks then leaves the
    fields in their list's order), as the planner is made to here."""
    sql, python = _both()
    _assert_lines_equal(sql, python)
    with connection.cursor() as cursor:
        for setting in ("enable_sort", "enable_hashjoin", "enable_mergejoin", "enable_seqscan"):
            cursor.execute(f"SET LOCAL {setting} = off")
        conmeds = next(a for a in AUDITED if a.model is ConcomitantMedication)
        select = history_select_sql(conmeds, skipped=_SKIPPED, shown_as=_SHOWN_AS, actions=ACTIONS)
        cursor.execute(f"EXPLAIN (FORMAT JSON) {select}")
        assert _keeps_order(cursor.fetchone()[0][0]["Plan"])
        nested, _ = _both()
        for setting in ("enable_sort", "enable_hashjoin", "enable_mergejoin", "enable_seqscan"):
            cursor.execute(f"SET LOCAL {setting} = on")
    _assert_lines_equal(nested, python)
    return sql


def _assert_lines_equal(sql: bytes, python: bytes) -> None:
    sql_lines, python_lines = sql.split(b"\r\n"), python.split(b"\r\n")
    differ = [(s, p) for s, p in zip(sql_lines, python_lines, strict=False) if s != p]
    assert not differ[:5]
    assert sql == python


def _version(
    model: type, pk: int, *, kind: str = "~", at: datetime, user: Any, reason: str = "", **values
):
    """One more history row of a record: its last one, changed, as `kind`."""
    history = model.history.model
    last = history.objects.filter(id=pk).order_by("-history_date", "-history_id").first()
    fields = {f.attname: getattr(last, f.attname) for f in history.tracked_fields}
    fields.update(values)
    return history.objects.create(
        **fields,
        history_type=kind,
        history_date=at,
        history_user=user,
        history_change_reason=reason,
    )


@pytest.fixture
def study(coordinator, investigator, monitor):
    build_study(coordinator=coordinator, investigator=investigator)
    checks_run(now=timezone.now())  # flags raised
    query = query_raise(
        participant=Participant.objects.first(), user=monitor, question="=Weight at V2?"
    )
    query_answer(query_id=query.pk, user=coordinator, answer='"62,7 kg"\nchecked')
    assert Flag.objects.exists()
    return coordinator, investigator


def test_it_is_used_on_postgresql():
    assert audit_trail_in_sql()


def test_it_writes_the_study_as_the_python_path_does(study):
    content = _assert_same()

    assert content.count(b"\r\n") > 50
    assert b",changed," in content and b",created," in content


def test_it_writes_awkward_texts_as_the_python_path_does(study):
    coordinator, investigator = study
    conmed = ConcomitantMedication.objects.first()
    start = timezone.now().replace(microsecond=0) - timedelta(days=30)
    for i, text in enumerate(AWKWARD_TEXTS):
        _version(
            ConcomitantMedication,
            conmed.pk,
            at=start + timedelta(hours=i, microseconds=i * 7),
            user=coordinator if i % 2 else investigator,
            indication=text,
            dose=AWKWARD_TEXTS[-1 - i],
            reason=text,
        )
    # Formula-like and odd texts as the record's own key (the drug) and its owner's notes.
    _version(ConcomitantMedication, conmed.pk, at=start + timedelta(days=2), user=None, drug="=cmd")
    participant = Participant.objects.first()
    for i, text in enumerate(AWKWARD_TEXTS):
        _version(
            Participant,
            participant.pk,
            at=start + timedelta(days=3, minutes=i),
            user=coordinator,
            prior_therapies=text,
            withdrawal_detail=text[::-1],
        )

    _assert_same()


def test_it_writes_numbers_times_and_flags_as_the_python_path_does(study):
    coordinator, _ = study
    participant = Participant.objects.first()
    infusion = Infusion.objects.first()
    start = timezone.now() - timedelta(days=20)
    for i, (height, eligible, first_time, created_at) in enumerate(
        [
            (Decimal("170.5"), None, time(9, 0), datetime(2025, 1, 1, 0, 0, tzinfo=UTC)),
            (Decimal("0.0"), True, time(9, 0, 0, 500), datetime(1900, 6, 1, 12, tzinfo=UTC)),
            (None, False, time(23, 59, 59, 999999), datetime(1975, 3, 1, 12, 30, 5, 1, UTC)),
            (Decimal("99.9"), True, None, datetime(2026, 7, 1, 3, 4, 5, 120000, tzinfo=UTC)),
        ]
    ):
        at = start + timedelta(hours=i)
        _version(
            Participant,
            participant.pk,
            at=at,
            user=coordinator,
            height_cm=height,
            eligible=eligible,
            created_at=created_at,
            splenectomy=bool(i % 2),
        )
        _version(Infusion, infusion.pk, at=at, user=coordinator, start_time=first_time)
    # A save that changed nothing lists nothing; a version with no microseconds.
    _version(Participant, participant.pk, at=start.replace(microsecond=0), user=coordinator)

    _assert_same()
    with timezone.override("America/St_Johns"):  # -03:30, and -02:30 in summer
        _assert_same()


def test_it_writes_keys_as_the_python_path_does(study):
    coordinator, investigator = study
    event = AdverseEvent.objects.first()
    infusion = Infusion.objects.filter(participant=event.participant).first()
    gone = Infusion.objects.order_by("-pk").first().pk + 1000 + infusion.number
    start = timezone.now() - timedelta(days=10)
    for i, related in enumerate([infusion.pk, None, gone, infusion.pk, infusion.number]):
        _version(
            AdverseEvent,
            event.pk,
            at=start + timedelta(hours=i),
            user=investigator,
            related_infusion_id=related,
            awareness_at=start + timedelta(minutes=i, microseconds=i),
        )
    flag = Flag.objects.first()
    for i, (user_id, resolved) in enumerate(
        [(coordinator.pk, start), (None, None), (investigator.pk + 999, start), (None, start)]
    ):
        _version(
            Flag,
            flag.pk,
            at=start + timedelta(days=1, hours=i),
            user=coordinator,
            acknowledged_by_id=user_id,
            acknowledged_at=start if user_id else None,
            resolved_at=resolved,
        )

    _assert_same()


def test_it_writes_deletions_and_recreations_as_the_python_path_does(study):
    coordinator, investigator = study
    conmed = ConcomitantMedication.objects.first()
    start = timezone.now() - timedelta(days=5)
    _version(ConcomitantMedication, conmed.pk, kind="-", at=start, user=coordinator)
    _version(
        ConcomitantMedication,
        conmed.pk,
        kind="+",
        at=start + timedelta(hours=1),
        user=coordinator,
        dose="2 mg",
    )
    _version(
        ConcomitantMedication, conmed.pk, at=start + timedelta(hours=2), user=None, dose="3 mg"
    )
    # Two versions at the same instant: the history id orders them.
    for dose in ("4 mg", "5 mg"):
        _version(
            ConcomitantMedication, conmed.pk, at=start + timedelta(hours=3), user=None, dose=dose
        )
    query = DataQuery.objects.get()
    for i, state in enumerate(["answered", "open", "closed", "closed", "=odd"]):
        _version(DataQuery, query.pk, at=start + timedelta(days=1, hours=i), user=None, state=state)

    _assert_same()


def test_it_leaves_the_connections_zone_and_settings_as_they_were(study):
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('TimeZone'), current_setting('jit')")
        before = cursor.fetchone()

        content = b"".join(dataset_bytes("audit_trail", stats=FileStats("audit_trail")))
        cursor.execute("SELECT current_setting('TimeZone'), current_setting('jit')")

        assert cursor.fetchone() == before
    assert content


def test_the_sql_neutralises_as_cells_does():
    texts = AWKWARD_TEXTS + ["1e5", "-1e5", ".5", "+1.", "-.", "'''=x", "@", "'\t"]
    rows = ", ".join(["(%s)"] * len(texts))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {neutralised('v.t')} FROM (VALUES {rows}) v(t)", texts)
        written = [r[0] for r in cursor.fetchall()]

    assert written == [neutralise(t) for t in texts]


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "America/St_Johns", "Africa/Monrovia", "UTC"])
def test_the_sql_writes_date_times_as_cells_does(zone):
    instants = [
        datetime(2026, 6, 15, 4, 0, tzinfo=UTC),
        datetime(2026, 1, 15, 4, 0, 0, 1, tzinfo=UTC),
        datetime(2026, 6, 15, 4, 0, 0, 120000, tzinfo=UTC),
        datetime(1979, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(1971, 6, 1, tzinfo=UTC),  # Monrovia: -00:44:30
        datetime(1900, 1, 1, tzinfo=UTC),  # local mean time, an offset with seconds
    ]
    rows = ", ".join(["(%s::timestamptz)"] * len(instants))
    with timezone.override(zone), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('TimeZone', %s, true)", [zone])
        cursor.execute(f"SELECT {iso_datetime('v.t')} FROM (VALUES {rows}) v(t)", instants)
        written = [r[0] for r in cursor.fetchall()]

        assert written == [cell(i) for i in instants]


def test_a_streamed_export_reads_no_more_than_its_tables(study, django_assert_max_num_queries):
    with django_assert_max_num_queries(60):
        content = b"".join(dataset_bytes("audit_trail", stats=FileStats("audit_trail")))
    assert io.BytesIO(content).readline().startswith(b"timestamp,")
