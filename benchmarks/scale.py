"""Benchmark: the system at N participants (default 10,000), measured side by side.

A script, not a test. It creates a fresh PostgreSQL database it owns on the server of
DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres), migrates it, and builds
N participants through the real import (`exchange.importer.import_files`, the set-based
path): each screened, eligible, enrolled, given five infusions, with about 100 platelet
counts and three adverse events. The enrolment cap is raised for this process only
(`protocol.ENROLMENT_CAP`, set in memory here, never in the code's configuration). Then, in
the same run:

- every page of issue 15's table against an authenticated near-empty page (the home page of
  a user without a role): queries and median milliseconds, the ratio, goal <= 3x;
- each dataset's export (`exchange.export.dataset_bytes`) against PostgreSQL's
  `COPY (SELECT * FROM table) TO STDOUT` of its table: COPY time / export time, goal >= 0.5;
- the study zip from the web: time to its first byte, goal < 1 s;
- the import's rows/s against `COPY ... FROM STDIN` of the same CSV text into a scratch
  table, goal >= 10,000 rows/s;
- the full check pass with every stored schedule made stale, in a child process: seconds
  and peak resident memory, goals < 30 s and < 300 MB;
- the import's peak memory, in a child process, from files on the disk (as `import_csv`
  reads them) into an empty scratch database, at N participants and at 1,000: goal, the
  same peak at both sizes (within MEMORY_SLACK_MB);
- the subjects and audit trail exports' peak memory, each in a child process, on this
  database and on a second one of 1,000 participants built the same way (kept as
  `<database>_1000`, reused when kept): goal, the same peak at both sizes (within
  MEMORY_SLACK_MB).

It prints one table and exits 1 when any goal is missed. The database is dropped at the end
unless --keep is given. With --reuse, a database kept by an earlier run of the same size is
measured again without being rebuilt (the import row is then left out); --only limits the
run to some of its parts, for work on one of them.

    .venv/bin/python benchmarks/scale.py [--participants 10000] [--runs 5] [--keep]
        [--reuse] [--only import,pages,exports,zip,memory,import_memory,fullpass]
        [--database NAME]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
BENCH_DB = "itp_scale_bench"
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/postgres"
COUNTS_PER_PARTICIPANT = 100
PARTS = ("import", "pages", "exports", "zip", "memory", "import_memory", "fullpass")
AES_PER_PARTICIPANT = 3
SMALL = 1_000  # the second size of the export memory comparison
MEMORY_SLACK_MB = 10  # "flat": the peak at N may exceed the peak at SMALL by this much


def _url_for(url: str, database: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


def _maxrss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _django(url: str, cap: int) -> None:
    # Connections kept between requests, as production keeps them (CONN_MAX_AGE).
    os.environ["DATABASE_URL"] = f"{url}?conn_max_age=60"
    os.environ["DEBUG"] = "False"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "itp_trial.settings.dev")
    os.environ.pop("CELERY_BROKER_URL", None)  # the checks run in this process
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings

    settings.ALLOWED_HOSTS = ["*"]
    from itp_trial import protocol

    protocol.ENROLMENT_CAP = cap  # this benchmark's database only, in this process only


# --- the data, as contract files ---------------------------------------------------------


def _files(n: int) -> dict[str, str]:
    from django.utils import timezone

    from infusions.dosing import planned_cells
    from itp_trial.protocol import CRITERIA

    today = timezone.localdate()
    consent = today - timedelta(days=250)
    cells = planned_cells(weight_kg=Decimal("60.0"))
    out = {name: io.StringIO() for name in ("subjects", "eligibility", "infusions", "platelets")}
    out["adverse_events"] = io.StringIO()
    out["subjects"].write(
        "subject_id,screening_number,sex,birth_date,consent_date,consent_version,"
        "itp_diagnosis_date,splenectomy,height_cm,enrolled_on,planned_first_infusion_date\n"
    )
    out["eligibility"].write("subject_id,criterion,met\n")
    out["infusions"].write(
        "subject_id,infusion_number,infusion_date,dosing_weight_kg,actual_cells,lot_number\n"
    )
    out["platelets"].write(
        "subject_id,sample_date,platelets_10e9_l,who_bleeding_grade,visit_code\n"
    )
    out["adverse_events"].write(
        "subject_id,ae_number,term,onset_date,ongoing,ctcae_grade,serious,relationship,"
        "action_taken,outcome,awareness_at,end_date\n"
    )
    first = consent + timedelta(days=10)
    for i in range(1, n + 1):
        sid = f"ITP-{i:03d}"
        out["subjects"].write(
            f"{sid},SCR-{i:03d},F,1985-05-01,{consent},2.1,2020-01-01,N,165,"
            f"{consent + timedelta(days=1)},{first}\n"
        )
        for criterion in CRITERIA:
            met = "Y" if criterion.required_answer else "N"
            out["eligibility"].write(f"{sid},{criterion.code},{met}\n")
        for k in range(5):
            day = first + timedelta(days=7 * k)
            out["infusions"].write(f"{sid},{k + 1},{day},60.0,{cells},MSC-{k + 1}\n")
        for d in range(COUNTS_PER_PARTICIPANT):
            day = consent + timedelta(days=2 + 2 * d)
            out["platelets"].write(f"{sid},{day},{20 + (i + d) % 150},0,UNS\n")
        for a in range(1, AES_PER_PARTICIPANT + 1):
            onset = first + timedelta(days=a)
            out["adverse_events"].write(
                f"{sid},{a},Headache,{onset},N,1,N,possible,none,recovered,"
                f"{onset}T10:00:00+08:00,{onset + timedelta(days=1)}\n"
            )
    return {name: text.getvalue() for name, text in out.items()}


# --- measures ----------------------------------------------------------------------------


def _median_ms(fn, runs: int) -> tuple[float, int]:
    from django.db import connection

    fn()  # warm-up
    queries: list[str] = []

    def count(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    # A wrapper, not CaptureQueriesContext: each request resets the debug query log.
    with connection.execute_wrapper(count):
        fn()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), len(queries)


def _pages(runs: int) -> list[tuple[str, float, int, float]]:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.test import Client
    from django.urls import reverse

    from subjects.models import Participant

    users = get_user_model().objects
    admin = users.filter(username="bench-admin").first()
    if admin is None:  # every role: the pages check the roles' permissions, not superuser
        admin = users.create_user("bench-admin", "a@example.org", "x")
        admin.groups.add(*Group.objects.all())
    plain = users.filter(username="bench-plain").first() or users.create_user("bench-plain")
    client, trivial_client = Client(), Client()
    client.force_login(admin)
    trivial_client.force_login(plain)
    someone = Participant.objects.order_by("subject_id").first()

    def get(c, url):
        def run():
            response = c.get(url)
            assert response.status_code == 200, (url, response.status_code)

        return run

    trivial_ms, trivial_q = _median_ms(get(trivial_client, "/"), runs)
    rows = [("trivial page (home, no role)", trivial_ms, trivial_q, 1.0)]
    for name, url in (
        ("trial overview", reverse("subjects:overview")),
        ("worklist", reverse("visits:worklist")),
        ("flags list", reverse("safety:flags")),
        ("queries list", reverse("safety:queries")),
        ("participant list", reverse("subjects:list")),
        ("participant page", reverse("subjects:detail", args=[someone.pk])),
        ("dashboard", reverse("subjects:dashboard", args=[someone.pk])),
    ):
        ms, q = _median_ms(get(client, url), runs)
        rows.append((name, ms, q, ms / trivial_ms))
    return rows


def _exports(url: str) -> list[tuple[str, float, float, float]]:
    import psycopg

    from exchange import datasets
    from exchange.export import FileStats, dataset_bytes

    tables = {
        "subjects": "subjects_participant",
        "eligibility": "subjects_eligibilityanswer",
        "visits": "visits_visit",
        "infusions": "infusions_infusion",
        "platelets": "visits_plateletcount",
        "adverse_events": "safety_adverseevent",
        "conmeds": "safety_concomitantmedication",
        "flags": "safety_flag",
        "signatures": "subjects_signature",
        "locks": "subjects_casebooklock, itp_trial_databaselock",
        "queries": "safety_dataquery, safety_querymessage",
        "sdv": "safety_verification",
    }
    rows = []
    with psycopg.connect(url) as conn:
        for dataset in datasets.DATASETS:
            started = time.perf_counter()
            for _block in dataset_bytes(dataset.name, stats=FileStats(dataset.filename)):
                pass
            ours = time.perf_counter() - started
            if dataset.name in tables:  # its tables, one COPY each
                sql = " ".join(
                    f"COPY (SELECT * FROM {t.strip()}) TO STDOUT (FORMAT csv);"
                    for t in tables[dataset.name].split(",")
                )
            else:  # the audit trail: every history table
                names = [
                    r[0]
                    for r in conn.execute(
                        "SELECT tablename FROM pg_tables WHERE tablename LIKE '%historical%'"
                    )
                ]
                sql = " ".join(f"COPY (SELECT * FROM {t}) TO STDOUT (FORMAT csv);" for t in names)
            started = time.perf_counter()
            with conn.cursor() as cursor:
                for statement in [s for s in sql.split(";") if s.strip()]:
                    with cursor.copy(statement) as copy:
                        for _data in copy:
                            pass
            copy_s = time.perf_counter() - started
            rows.append((dataset.name, ours, copy_s, copy_s / ours if ours else 0.0))
    return rows


def _zip_first_byte() -> float:
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.urls import reverse

    client = Client()
    client.force_login(get_user_model().objects.get(username="bench-admin"))
    started = time.perf_counter()
    response = client.get(reverse("exchange:export_zip"))
    if getattr(response, "streaming", False):
        next(iter(response.streaming_content))
    first = time.perf_counter() - started
    response.close()
    return first


def _copy_from(url: str, files: dict[str, str]) -> tuple[int, float]:
    import psycopg

    rows, started = 0, time.perf_counter()
    with psycopg.connect(url) as conn, conn.cursor() as cursor:
        for name, text in files.items():
            header = text.split("\n", 1)[0].split(",")
            columns = ", ".join(f'"{c}" text' for c in header)
            cursor.execute(f"CREATE TEMP TABLE copy_{name} ({columns})")
            with cursor.copy(f"COPY copy_{name} FROM STDIN (FORMAT csv, HEADER)") as copy:
                copy.write(text)
            rows += text.count("\n") - 1
        conn.rollback()
    return rows, time.perf_counter() - started


def _peak_reset() -> None:
    """The memory high-water mark brought down to what is resident now (Linux), so that
    what is measured after is not what set-up left (a migration's peak)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass  # elsewhere the peak is the process's own


def _import_child(directory: str) -> dict:
    """The import of the contract files of `directory` into this (empty) database, as
    `import_csv` runs it: given their paths, counts and refusals only."""
    import gc

    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    import safety.tasks
    from exchange.importer import import_files

    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_superuser("bench-importer", "i@example.org", "x")
    # The checks queued for the new participants run in the Celery worker, not in the
    # importing process (their own pass is measured by the fullpass row): not run here.
    safety.tasks.checks_run = lambda **kwargs: None
    files = {path.stem: path for path in sorted(Path(directory).glob("*.csv"))}
    gc.collect()
    _peak_reset()
    before = _maxrss_mb()
    started, cpu = time.perf_counter(), time.process_time()
    result = import_files(files=files, user=user, source="benchmark", outcomes=False)
    if result.issues:
        raise SystemExit(f"The import refused {len(result.issues)} row(s): {result.issues[0]}")
    return {
        "seconds": time.perf_counter() - started,
        "cpu_seconds": time.process_time() - cpu,
        "rss_max_mb": _maxrss_mb(),
        "rss_growth_mb": _maxrss_mb() - before,
    }


def child(mode: str, directory: str | None = None) -> dict:
    """Run in a fresh process, for its own memory high-water mark."""
    if mode == "import":
        return _import_child(directory)
    before = _maxrss_mb()
    started = time.perf_counter()
    if mode == "fullpass":
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE visits_visit SET target_date = NULL, window_start = NULL, "
                "window_end = NULL, window_status = 'pending'"
            )
        from safety.checks import checks_run

        started = time.perf_counter()  # the pass, not the UPDATE that made it stale
        checks_run(full=True)
    else:
        from exchange.export import FileStats, dataset_bytes

        for _block in dataset_bytes(mode, stats=FileStats(f"{mode}.csv")):
            pass
    return {
        "seconds": time.perf_counter() - started,
        "rss_max_mb": _maxrss_mb(),
        "rss_growth_mb": _maxrss_mb() - before,
    }


def _kept_size(server: str, database: str) -> int | None:
    """The participants of a kept benchmark database, or None when there is none."""
    import psycopg

    try:
        with psycopg.connect(_url_for(server, database)) as conn:
            return conn.execute("SELECT count(*) FROM subjects_participant").fetchone()[0]
    except psycopg.Error:
        return None


def _small_database(server: str, database: str) -> str:
    """A kept database of SMALL participants beside the big one, built when missing."""
    name = f"{database}_{SMALL}"
    command = [sys.executable, __file__, "--participants", str(SMALL), "--database", name]
    command += ["--keep", "--reuse", "--only", "import"]
    # Its exit status tells whether its own import met the goal: not what is asked here.
    built = subprocess.run(
        command, capture_output=True, text=True, env=os.environ | {"DATABASE_URL": server}
    )
    if _kept_size(server, name) != SMALL:
        raise SystemExit(f"The {SMALL:,}-participant database was not built:\n{built.stderr}")
    return _url_for(server, name)


def _import_peak(server: str, database: str, size: int) -> dict:
    """The import's peak memory for `size` participants, in a child process, from files on
    the disk into a scratch database (dropped after)."""
    import tempfile

    import psycopg

    name = f"{database}_import"
    with psycopg.connect(_url_for(server, "postgres"), autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.execute(f"CREATE DATABASE {name}")
    try:
        with tempfile.TemporaryDirectory() as directory:
            for dataset, text in _files(size).items():
                (Path(directory) / f"{dataset}.csv").write_text(text, encoding="utf-8")
            return _child("import", _url_for(server, name), size, directory)
    finally:
        with psycopg.connect(_url_for(server, "postgres"), autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name}")


def _child(mode: str, url: str, cap: int, directory: str | None = None) -> dict:
    command = [sys.executable, __file__, "--child", mode, "--url", url, "--participants", str(cap)]
    output = subprocess.run(
        command + (["--directory", directory] if directory else []),
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="Keep the benchmark database.")
    parser.add_argument("--database", default=BENCH_DB)
    parser.add_argument(
        "--reuse", action="store_true", help="Measure a kept database of this size again."
    )
    parser.add_argument(
        "--only", default=",".join(PARTS), help=f"Comma-separated parts of: {', '.join(PARTS)}."
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--directory", help=argparse.SUPPRESS)
    args = parser.parse_args()
    n = args.participants
    if args.child:
        _django(args.url, n)
        print(json.dumps(child(args.child, args.directory)))
        return 0

    import psycopg

    parts = {p.strip() for p in args.only.split(",") if p.strip()}
    if unknown := parts - set(PARTS):
        parser.error(f"unknown part(s): {', '.join(sorted(unknown))}")
    server = os.environ.get("DATABASE_URL", DEFAULT_URL)
    bench = _url_for(server, args.database)
    reused = args.reuse and _kept_size(server, args.database) == n
    if not reused:
        with psycopg.connect(_url_for(server, "postgres"), autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {args.database}")
            admin.execute(f"CREATE DATABASE {args.database}")
    failed: list[str] = []
    lines: list[str] = []

    def row(what: str, measured: str, ratio: str, goal: str, ok: bool | None) -> None:
        verdict = {True: "met", False: "MISSED", None: "—"}[ok]
        if ok is False:
            failed.append(what)
        lines.append(f"| {what} | {measured} | {ratio} | {goal} | {verdict} |")

    try:
        _django(bench, n)
        from django.contrib.auth import get_user_model
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        lines += ["| what | measured | ratio | goal | verdict |", "|---|---|---|---|---|"]
        file_rows = 0
        if not reused:
            importer = get_user_model().objects.create_superuser(
                "bench-importer", "i@example.org", "x"
            )
            files = _files(n)
            file_rows = sum(t.count("\n") - 1 for t in files.values())
            import safety.tasks
            from exchange.importer import import_files

            # The checks the import queues for its participants run in this process at its
            # commit (no broker); in production the Celery worker runs them after the import
            # has returned. Their time is measured apart.
            checks_s = [0.0]
            checks_run = safety.tasks.checks_run

            def timed_checks(**kwargs):
                started = time.perf_counter()
                try:
                    return checks_run(**kwargs)
                finally:
                    checks_s[0] += time.perf_counter() - started

            safety.tasks.checks_run = timed_checks
            started = time.perf_counter()
            # As import_csv calls it: counts and refusals, no outcome kept per row.
            result = import_files(files=files, user=importer, source="benchmark", outcomes=False)
            total_s = time.perf_counter() - started
            safety.tasks.checks_run = checks_run
            import_s = total_s - checks_s[0]
            if result.issues:
                for issue in result.issues[:20]:
                    print(issue, file=sys.stderr)
                raise SystemExit(f"The import refused {len(result.issues)} row(s).")
            print(
                f"Imported {file_rows:,} rows of {n:,} participants in {import_s:.1f} s "
                f"({total_s:.1f} s with the checks queued for them, run here at the commit)."
            )
            if "import" in parts:
                copy_rows, copy_s = _copy_from(bench, files)
                rate = file_rows / import_s
                row(
                    "import_csv path (set-based)",
                    f"{rate:,.0f} rows/s ({file_rows:,} rows, {import_s:.1f} s; the checks "
                    f"queued for the worker {checks_s[0]:.1f} s more, "
                    f"{file_rows / total_s:,.0f} rows/s with them)",
                    f"COPY FROM {copy_rows / copy_s:,.0f} rows/s",
                    "≥ 10,000 rows/s",
                    rate >= 10_000,
                )
            del files
        # The planner's statistics and the visibility map (index-only scans), as autovacuum
        # would have them on a running server (the benchmark server may run without it).
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
        pages = _pages(args.runs) if "pages" in parts else []
        for name, ms, queries, ratio in pages:
            trivial = name.startswith("trivial")
            row(
                name,
                f"{ms:.1f} ms, {queries} queries",
                "1×" if trivial else f"{ratio:.1f}×",
                "—" if trivial else "≤ 3× trivial",
                None if trivial else ratio <= 3,
            )
        total_ours = total_copy = 0.0
        for name, ours, copy_time, ratio in _exports(bench) if "exports" in parts else []:
            total_ours, total_copy = total_ours + ours, total_copy + copy_time
            row(
                f"export {name}",
                f"{ours:.2f} s (COPY {copy_time:.2f} s)",
                f"{ratio:.2f}×",
                "≥ 0.5× COPY",
                ratio >= 0.5,
            )
        if "exports" in parts:
            row(
                "export, whole study",
                f"{total_ours:.1f} s (COPY {total_copy:.1f} s)",
                f"{total_copy / total_ours:.2f}×",
                "≥ 0.5× COPY",
                total_copy / total_ours >= 0.5,
            )
        if "zip" in parts:
            first = _zip_first_byte()
            row("study zip, first byte", f"{first * 1000:.0f} ms", "—", "< 1 s", first < 1)
        small = _small_database(server, args.database) if "memory" in parts else ""
        for name in ("subjects", "audit_trail") if "memory" in parts else ():
            big, little = _child(name, bench, n), _child(name, small, SMALL)
            row(
                f"export memory, {name}",
                f"{big['rss_max_mb']:.0f} MB peak at {n:,}, "
                f"{little['rss_max_mb']:.0f} MB at {SMALL:,}",
                f"{big['rss_max_mb'] - little['rss_max_mb']:+.0f} MB",
                f"flat (within {MEMORY_SLACK_MB} MB)",
                big["rss_max_mb"] - little["rss_max_mb"] <= MEMORY_SLACK_MB,
            )
        if "import_memory" in parts:
            big, little = (
                _import_peak(server, args.database, n),
                _import_peak(server, args.database, SMALL),
            )
            row(
                "import memory (import_csv, set-based)",
                f"{big['rss_max_mb']:.0f} MB peak at {n:,} ({big['seconds']:.0f} s), "
                f"{little['rss_max_mb']:.0f} MB at {SMALL:,} ({little['seconds']:.0f} s)",
                f"{big['rss_max_mb'] - little['rss_max_mb']:+.0f} MB",
                f"flat (within {MEMORY_SLACK_MB} MB)",
                big["rss_max_mb"] - little["rss_max_mb"] <= MEMORY_SLACK_MB,
            )
        if "fullpass" in parts:
            full = _child("fullpass", bench, n)
            row(
                "run_checks --full, every schedule stale",
                f"{full['seconds']:.1f} s, {full['rss_max_mb']:.0f} MB peak",
                "—",
                "< 30 s, < 300 MB",
                full["seconds"] < 30 and full["rss_max_mb"] < 300,
            )
        built = "a kept database" if reused else f"{file_rows:,} imported rows"
        print(f"\nAt {n:,} participants ({built}):\n")
        print("\n".join(lines))
        if failed:
            print(f"\n{len(failed)} goal(s) missed: {', '.join(failed)}.")
        return 1 if failed else 0
    finally:
        if not args.keep:
            from django.db import connections

            connections.close_all()
            with psycopg.connect(_url_for(server, "postgres"), autocommit=True) as admin:
                admin.execute(f"DROP DATABASE IF EXISTS {args.database}")
                if "memory" in parts:
                    admin.execute(f"DROP DATABASE IF EXISTS {args.database}_{SMALL}")


if __name__ == "__main__":
    sys.exit(main())
