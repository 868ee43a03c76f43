"""Benchmark: our streamed CSV export of the platelets dataset next to PostgreSQL's COPY.

A script, not a test. It creates a fresh database it owns on the server of DATABASE_URL
(default postgres://postgres@127.0.0.1:5432/postgres), migrates it, loads participants,
their visits, infusion 1, some rescue therapies and 1,000,000 platelet counts with
generate_series (bypassing the services: this measures the export, not data entry), then
measures, in the same run and each in a fresh child process so that one does not inherit the
other's memory high-water mark:

- ours: `exchange.export.dataset_bytes("platelets")`, the generator behind the download
  (database iterator, csv.writer, formatting, neutralisation, sha256, and the derived study
  day, evaluable and IWG category per count);
- ours again under tracemalloc, for the peak of Python allocations (slower, so timed apart);
- PostgreSQL: `COPY (SELECT the raw columns, same order) TO STDOUT (FORMAT csv, HEADER)`
  read through psycopg.

Peak memory: the growth of the child's resident set high-water mark during the export
(VmHWM; 0 means the export never went above what the process already held once Django was
set up), that high-water mark itself, and the peak of Python allocations (tracemalloc). The
database is dropped at the end unless --keep is given.

    .venv/bin/python benchmarks/export_platelets.py [--rows 1000000] [--participants 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
BENCH_DB = "itp_export_bench"
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/postgres"

COPY_SQL = """
COPY (
    SELECT p.subject_id, c.sample_date, c.platelets, c.who_bleeding_grade,
           COALESCE(v.code, 'UNS') AS visit_code
    FROM visits_plateletcount c
    JOIN subjects_participant p ON p.id = c.participant_id
    LEFT JOIN visits_visit v ON v.id = c.visit_id
    ORDER BY p.subject_id, c.sample_date
) TO STDOUT (FORMAT csv, HEADER)
"""


def _url_for(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


def _maxrss_mb() -> float:
    """The process's resident set high-water mark. VmHWM, not getrusage's ru_maxrss: Linux
    carries ru_maxrss over exec, so a child would start at its parent's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ["DEBUG"] = "False"  # DEBUG keeps every query in memory
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "itp_trial.settings.dev")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def _populate(rows: int, participants: int) -> None:
    from django.core.management import call_command
    from django.db import connection

    from itp_trial import protocol

    call_command("migrate", verbosity=0)
    per_participant = rows // participants
    visits = ", ".join(f"('{code}', {i})" for i, code in enumerate(protocol.VISIT_CODES))
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO subjects_participant (
                subject_id, screening_number, sex, birth_date, consent_date, consent_version,
                prior_therapies, splenectomy, treatment_discontinued_reason, withdrawal_reason,
                withdrawal_detail, status, created_at, eligible, enrolled_on,
                planned_first_infusion_date
            )
            SELECT format('ITP-%%s', lpad(g::text, 5, '0')),
                   format('SCR-%%s', lpad(g::text, 5, '0')),
                   CASE WHEN g %% 2 = 0 THEN 'F' ELSE 'M' END, DATE '1980-01-01' + g,
                   DATE '2020-01-01', '2.1', '', false, '', '', '', 'follow_up', now(), true,
                   DATE '2020-01-02', DATE '2020-01-20'
            FROM generate_series(1, %s) g
            """,
            [participants],
        )
        cursor.execute(
            f"""
            INSERT INTO visits_visit (participant_id, code, missed, missed_reason,
                                      physical_exam_findings, provisional, window_status)
            SELECT p.id, v.code, false, '', '', false, 'in_window'
            FROM subjects_participant p CROSS JOIN (VALUES {visits}) AS v(code, position)
            """
        )
        cursor.execute(
            """
            INSERT INTO infusions_infusion (participant_id, number, infusion_date,
                dosing_weight_kg, dose_per_kg, planned_cells, dose_deviation, actual_cells,
                lot_number, interrupted, reaction)
            SELECT id, 1, DATE '2020-01-20', 60.0, 100000000, 6000000000, false, 6000000000,
                   'MSC-01', false, false
            FROM subjects_participant
            """
        )
        cursor.execute(
            """
            INSERT INTO safety_concomitantmedication (participant_id, drug, indication, dose,
                                                      start_date, rescue)
            SELECT id, 'IVIg', 'bleeding', '1 g/kg', DATE '2020-03-01', true
            FROM subjects_participant WHERE id %% %s = 0
            """,
            [10],
        )
        # Day 0 is the baseline visit (V2), the day before infusion 1; then one count a day.
        cursor.execute(
            """
            INSERT INTO visits_plateletcount (participant_id, visit_id, sample_date, platelets,
                                              who_bleeding_grade)
            SELECT p.id, CASE WHEN k = 0 THEN v.id END, DATE '2020-01-19' + k,
                   (p.id * 7919 + k * 104729) %% 241, (p.id + k) %% 5
            FROM subjects_participant p
            JOIN visits_visit v ON v.participant_id = p.id AND v.code = 'V2'
            CROSS JOIN generate_series(0, %s - 1) k
            """,
            [per_participant],
        )
        cursor.execute("ANALYZE")


def measure_ours(traced: bool) -> dict:
    import tracemalloc

    from exchange.export import FileStats, dataset_bytes

    stats = FileStats("platelets.csv")
    size = 0
    if traced:
        tracemalloc.start()
    rss_before = _maxrss_mb()
    started = time.perf_counter()
    for block in dataset_bytes("platelets", stats=stats):
        size += len(block)
    seconds = time.perf_counter() - started
    result = {
        "rows": stats.rows,
        "seconds": seconds,
        "bytes": size,
        "rss_growth_mb": _maxrss_mb() - rss_before,
        "rss_max_mb": _maxrss_mb(),
        "columns": 8,
    }
    if traced:
        result["tracemalloc_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return result


def measure_copy(url: str) -> dict:
    import psycopg

    size = lines = 0
    with psycopg.connect(url) as connection:
        rss_before = _maxrss_mb()
        started = time.perf_counter()
        with connection.cursor() as cursor, cursor.copy(COPY_SQL) as copy:
            for data in copy:
                size += len(data)
                lines += bytes(data).count(b"\n")
        seconds = time.perf_counter() - started
    return {
        "rows": lines - 1,
        "seconds": seconds,
        "bytes": size,
        "rss_growth_mb": _maxrss_mb() - rss_before,
        "rss_max_mb": _maxrss_mb(),
        "columns": 5,
    }


def _child(mode: str, url: str) -> dict:
    output = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--url", url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def _table(results: list[tuple[str, dict]]) -> str:
    lines = [
        f"{'method':<46} {'rows':>9} {'cols':>4} {'seconds':>8} {'rows/s':>10} {'MB out':>7} "
        f"{'RSS +MB':>8} {'RSS max':>8} {'py peak MB':>10}",
    ]
    for name, r in results:
        peak = r.get("tracemalloc_peak_mb")
        seconds = "—" if r.get("untimed") else f"{r['seconds']:.2f}"
        rate = "—" if r.get("untimed") else f"{r['rows'] / r['seconds']:,.0f}"
        lines.append(
            f"{name:<46} {r['rows']:>9,} {r['columns']:>4} {seconds:>8} {rate:>10} "
            f"{r['bytes'] / 2**20:>7.1f} {r['rss_growth_mb']:>8.1f} {r['rss_max_mb']:>8.1f} "
            f"{'—' if peak is None else f'{peak:.1f}':>10}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--participants", type=int, default=1000)
    parser.add_argument("--keep", action="store_true", help="Keep the benchmark database.")
    parser.add_argument("--child", choices=["ours", "ours-traced", "copy"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        if args.child == "copy":
            print(json.dumps(measure_copy(args.url)))
        else:
            _django(args.url)
            print(json.dumps(measure_ours(traced=args.child == "ours-traced")))
        return

    import psycopg

    server = os.environ.get("DATABASE_URL", DEFAULT_URL)
    bench = _url_for(server, BENCH_DB)
    with psycopg.connect(_url_for(server, "postgres"), autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {BENCH_DB}")
        admin.execute(f"CREATE DATABASE {BENCH_DB}")
    try:
        started = time.perf_counter()
        _django(bench)
        _populate(args.rows, args.participants)
        print(
            f"Loaded {args.rows:,} platelet counts of {args.participants:,} participants into "
            f"{BENCH_DB} in {time.perf_counter() - started:.1f} s.",
            flush=True,
        )
        ours = _child("ours", bench)
        traced = {**_child("ours-traced", bench), "untimed": True}
        copy = _child("copy", bench)
        print()
        print(
            _table(
                [
                    ("ours: exchange export (streamed CSV)", ours),
                    ("ours, under tracemalloc (memory only)", traced),
                    ("PostgreSQL COPY (SELECT ...) TO STDOUT", copy),
                ]
            )
        )
        print(
            f"\nours / COPY time: {ours['seconds'] / copy['seconds']:.1f}x. COPY writes the 5 "
            "raw columns; ours adds study_day, evaluable and category (computed per count by "
            "the IWG rules), formats, neutralises and hashes every cell."
        )
    finally:
        if not args.keep:
            from django.db import connections

            connections.close_all()
            with psycopg.connect(_url_for(server, "postgres"), autocommit=True) as admin:
                admin.execute(f"DROP DATABASE IF EXISTS {BENCH_DB}")


if __name__ == "__main__":
    main()
