"""The set-based import and the per-record one are one set of rules: the same rows give the
same refusals, the same outcomes and the same stored records, and the bulk path's queries
do not grow with its rows.

The study of tests/exchange/study.py is exported, then imported again under new subject ids
and screening numbers (so that every participant is new, the bulk path's case), once each
way.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from exchange.export import study_directory
from exchange.importer import IMPORT_ORDER, import_files
from infusions.models import Infusion
from itp_trial.roles import DATA_MANAGER, INVESTIGATOR
from safety.models import AdverseEvent, ConcomitantMedication
from subjects.models import EligibilityAnswer, Participant
from tests.exchange.conftest import snapshot
from tests.exchange.study import build_study
from tests.factories import user_with_role
from visits.models import PlateletCount, Visit


def _importer():
    user = user_with_role(DATA_MANAGER, username="dm-inv-bulk")
    user.groups.add(*user_with_role(INVESTIGATOR, username="inv-bulk").groups.all())
    return user


def _fresh(user):
    """The user as each request or command loads it: no permission read yet."""
    return type(user).objects.get(pk=user.pk)


def _renumbered(files: dict[str, str], hundred: int) -> dict[str, str]:
    """The files with ITP-0NN and SCR-0NN moved to the given hundred: new participants."""
    return {
        name: re.sub(r"\b(ITP|SCR)-0(\d\d)\b", rf"\g<1>-{hundred}\g<2>", text)
        for name, text in files.items()
    }


@pytest.fixture
def study_files(coordinator, investigator, monitor, tmp_path: Path) -> dict[str, str]:
    build_study(coordinator=coordinator, investigator=investigator)
    study_directory(tmp_path, user=monitor)
    return {
        name: (tmp_path / f"{name}.csv").read_text(encoding="utf-8-sig") for name in IMPORT_ORDER
    }


def _both(files: dict[str, str], user, **options):
    """The results of the two paths on the same rows (each rolled back: a preview)."""
    results = []
    for bulk in (True, False):
        before = snapshot()
        result = import_files(files=files, user=user, preview=True, bulk=bulk, **options)
        assert snapshot() == before
        results.append(result)
    return results


def _outcomes(result) -> list[tuple]:
    return sorted(
        (o.file, o.row, o.record, o.action, tuple(o.changes), o.needs_reason, tuple(o.values))
        for o in result.outcomes
    )


def _records(prefix: str) -> dict[str, list[tuple]]:
    """Every stored clinical value of the participants whose ids start with `prefix`, with
    the ids and keys that differ between two imports taken out."""
    people = Participant.objects.filter(subject_id__startswith=prefix)
    # The version counts saves: the per-record path saves a participant once per step, the
    # bulk path once in all; it is bookkeeping, not data.
    ignore = {
        "id",
        "participant_id",
        "visit_id",
        "related_infusion_id",
        "version",
        "created_at",
        "subject_id",
        "screening_number",
    }

    def rows(model, queryset, order) -> list[tuple]:
        names = [f.attname for f in model._meta.concrete_fields if f.attname not in ignore]
        return [tuple(r) for r in queryset.order_by(*order).values_list(*names)]

    return {
        "participants": rows(Participant, people, ["subject_id"]),
        "answers": rows(
            EligibilityAnswer,
            EligibilityAnswer.objects.filter(participant__in=people),
            ["participant__subject_id", "criterion"],
        ),
        "visits": rows(
            Visit, Visit.objects.filter(participant__in=people), ["participant__subject_id", "code"]
        ),
        "infusions": rows(
            Infusion,
            Infusion.objects.filter(participant__in=people),
            ["participant__subject_id", "number"],
        ),
        "counts": rows(
            PlateletCount,
            PlateletCount.objects.filter(participant__in=people),
            ["participant__subject_id", "sample_date"],
        ),
        "count visits": list(
            PlateletCount.objects.filter(participant__in=people)
            .order_by("participant__subject_id", "sample_date")
            .values_list("visit__code", flat=True)
        ),
        "events": rows(
            AdverseEvent,
            AdverseEvent.objects.filter(participant__in=people),
            ["participant__subject_id", "ae_number"],
        ),
        "event infusions": list(
            AdverseEvent.objects.filter(participant__in=people)
            .order_by("participant__subject_id", "ae_number")
            .values_list("related_infusion__number", flat=True)
        ),
        "conmeds": rows(
            ConcomitantMedication,
            ConcomitantMedication.objects.filter(participant__in=people),
            ["participant__subject_id", "start_date", "drug"],
        ),
    }


@pytest.mark.django_db
def test_both_paths_store_the_same_records_from_the_same_rows(study_files):
    user = _importer()
    bulk = import_files(files=_renumbered(study_files, 1), user=user, reason="R", bulk=True)
    record = import_files(files=_renumbered(study_files, 2), user=user, reason="R", bulk=False)
    assert bulk.issues == record.issues == []
    assert bulk.applied and record.applied
    assert bulk.counts() == record.counts()
    assert {c["new"] for c in bulk.counts().values()} != {0}
    stored_bulk, stored_record = _records("ITP-1"), _records("ITP-2")
    assert stored_bulk["participants"] and stored_bulk["counts"] and stored_bulk["events"]
    for name in stored_bulk:
        assert stored_bulk[name] == stored_record[name], name
    # Every record created set-based has its history, naming the importer.
    for model in (Participant, Visit, PlateletCount, Infusion, AdverseEvent):
        created = model.objects.filter(
            **(
                {"subject_id__startswith": "ITP-1"}
                if model is Participant
                else {"participant__subject_id__startswith": "ITP-1"}
            )
        )
        ids = set(created.values_list("pk", flat=True))
        recorded = set(
            model.history.filter(id__in=ids, history_user=user).values_list("id", flat=True)
        )
        assert recorded == ids, model


@pytest.mark.django_db
def test_the_bulk_path_seals_its_history_and_stores_the_response_as_the_sync_would(
    study_files, django_capture_on_commit_callbacks
):
    """Its history is written already sealed: the chain verifies, entry by entry, over the
    study's every kind of value (dates, times, decimals, aware datetimes); and the stored
    response it sets before writing is what responses_sync computes from the stored rows."""
    from itp_trial.audit import audit_seal, audit_verify
    from visits.models import ParticipantResponse
    from visits.services.sync import responses_sync

    user = _importer()
    audit_seal()  # the study's own entries (its commits are not run in this test)
    with django_capture_on_commit_callbacks(execute=True):
        result = import_files(files=_renumbered(study_files, 1), user=user, reason="R", bulk=True)
    assert result.applied, result.issues[:3]
    audit_seal()  # the flags the checks raised after the commit
    verified = audit_verify()
    assert verified.ok, verified.problem
    assert verified.unsealed == 0
    assert verified.entries == verified.head_seq > 0

    people = Participant.objects.filter(subject_id__startswith="ITP-1")
    responses = list(
        ParticipantResponse.objects.filter(participant__in=people)
        .order_by("participant_id")
        .values_list()
    )
    assert len(responses) == people.count()

    def derived() -> tuple[list, list]:
        counts = PlateletCount.objects.filter(participant__in=people).order_by("pk")
        visits = Visit.objects.filter(participant__in=people).order_by("pk")
        return (
            list(counts.values_list("pk", "response_category")),
            list(
                visits.values_list("pk", "response_cr", "response_r", "response_nr", "response_ne")
            ),
        )

    before = derived()
    assert any(category for _pk, category in before[0])
    assert responses_sync(list(people.values_list("pk", flat=True))) == 0
    assert derived() == before
    assert (
        list(
            ParticipantResponse.objects.filter(participant__in=people)
            .order_by("participant_id")
            .values_list()
        )
        == responses
    )


# Bad rows, each added to the renumbered study: file, row (a dict of cells), the column
# refused. Each is a class of bad input the per-record path refuses.
def _bad_cases(files: dict[str, str]) -> dict[str, tuple[str, dict[str, str], str]]:
    return {
        "a count in the future": (
            "platelets",
            {
                "subject_id": "ITP-102",
                "sample_date": "2999-01-01",
                "visit_code": "UNS",
                "platelets_10e9_l": "40",
            },
            "sample_date",
        ),
        "a count out of range": (
            "platelets",
            {
                "subject_id": "ITP-102",
                "sample_date": "{d-1}",
                "visit_code": "UNS",
                "platelets_10e9_l": "99999",
            },
            "platelets_10e9_l",
        ),
        "an unknown participant": (
            "platelets",
            {
                "subject_id": "ITP-199",
                "sample_date": "{d-1}",
                "visit_code": "UNS",
                "platelets_10e9_l": "40",
            },
            "subject_id",
        ),
        "a sixth infusion": (
            "infusions",
            {
                "subject_id": "ITP-102",
                "infusion_number": "6",
                "infusion_date": "{d-1}",
                "dosing_weight_kg": "60",
                "actual_cells": "6000000000",
                "lot_number": "X",
            },
            "infusion_number",
        ),
        "an infusion for a screen failure": (
            "infusions",
            {
                "subject_id": "ITP-101",
                "infusion_number": "1",
                "infusion_date": "{d-1}",
                "dosing_weight_kg": "60",
                "actual_cells": "6000000000",
                "lot_number": "X",
            },
            "infusion_number",
        ),
        "an AE ending before it starts": (
            "adverse_events",
            {
                "subject_id": "ITP-102",
                "ae_number": "9",
                "term": "Rash",
                "onset_date": "{d-2}",
                "end_date": "{d-5}",
                "ongoing": "N",
                "ctcae_grade": "1",
                "serious": "N",
                "relationship": "possible",
                "action_taken": "none",
                "outcome": "recovered",
                "awareness_at": "{d-2}T10:00:00+08:00",
            },
            "end_date",
        ),
        "a visit of a screen failure": (
            "visits",
            {"subject_id": "ITP-101", "visit_code": "V2", "actual_date": "{d-1}", "missed": "N"},
            "",  # the whole row: the visit is not expected
        ),
        "a conmed ending before it starts": (
            "conmeds",
            {
                "subject_id": "ITP-102",
                "drug": "Paracetamol",
                "indication": "Pain",
                "start_date": "{d-2}",
                "end_date": "{d-9}",
                "rescue": "N",
            },
            "end_date",
        ),
    }


def _add_row(files: dict[str, str], name: str, cells: dict[str, str], today) -> dict[str, str]:
    import csv
    import io
    from datetime import timedelta

    def fill(value: str) -> str:
        match = re.fullmatch(r"\{d([+-]\d+)\}(.*)", value)
        if match:
            return (today + timedelta(days=int(match[1]))).isoformat() + match[2]
        return value

    header = next(csv.reader(io.StringIO(files[name])))
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow([fill(cells.get(c, "")) for c in header])
    text = files[name] if files[name].endswith("\n") else files[name] + "\n"
    return {**files, name: text + out.getvalue()}


@pytest.mark.django_db
def test_both_paths_refuse_each_bad_input_the_same_and_write_nothing(study_files, today):
    user = _importer()
    files = _renumbered(study_files, 1)
    for label, (name, cells, column) in _bad_cases(files).items():
        bad = _add_row(files, name, cells, today)
        bulk, record = _both(bad, user, reason="R")
        assert bulk.issues, label
        assert bulk.issues == record.issues, label
        assert column in {i.column for i in bulk.issues if i.file == f"{name}.csv"}, label
        assert _outcomes(bulk) == _outcomes(record), label
        assert not bulk.applied and not record.applied


@pytest.mark.django_db
def test_both_paths_refuse_a_correction_without_a_reason_the_same(study_files):
    """A V1 row filling the screening CRF is a change needing a reason on both paths."""
    user = _importer()
    bulk, record = _both(_renumbered(study_files, 1), user)
    assert bulk.issues == record.issues
    assert _outcomes(bulk) == _outcomes(record)


@pytest.mark.django_db
def test_the_bulk_path_writes_nothing_when_one_row_is_refused(study_files, today):
    user = _importer()
    files = _add_row(
        _renumbered(study_files, 1), *_bad_cases(study_files)["a count out of range"][:2], today
    )
    before = snapshot()
    result = import_files(files=files, user=user, reason="R", bulk=True)
    assert result.issues and not result.applied
    assert snapshot() == before


def _people_files(n: int, today) -> dict[str, str]:
    """n new participants, each screened, eligible, enrolled, given infusion 1 with a count."""
    from datetime import timedelta

    from tests.factories import all_criteria_met

    consent = (today - timedelta(days=30)).isoformat()
    subjects = [
        "subject_id,screening_number,sex,birth_date,consent_date,consent_version,"
        "guardian_consent,child_assent,itp_diagnosis_date,prior_therapies,splenectomy,"
        "splenectomy_date,height_cm,enrolled_on,planned_first_infusion_date"
    ]
    eligibility, infusions, platelets = (
        ["subject_id,criterion,met"],
        ["subject_id,infusion_number,infusion_date,dosing_weight_kg,actual_cells,lot_number"],
        ["subject_id,sample_date,platelets_10e9_l,who_bleeding_grade,visit_code"],
    )
    infused = (today - timedelta(days=10)).isoformat()
    for i in range(1, n + 1):
        sid = f"ITP-{500 + i}"
        subjects.append(
            f"{sid},SCR-{500 + i},F,1990-01-01,{consent},v1,N,N,2020-01-01,,N,,165,"
            f"{(today - timedelta(days=29)).isoformat()},{infused}"
        )
        for code, met in all_criteria_met().items():
            eligibility.append(f"{sid},{code},{'Y' if met else 'N'}")
        infusions.append(f"{sid},1,{infused},60.0,6000000000,MSC-01")
        for day in range(1, 4):
            platelets.append(f"{sid},{(today - timedelta(days=day)).isoformat()},45,0,UNS")
    return {
        "subjects": "\n".join(subjects) + "\n",
        "eligibility": "\n".join(eligibility) + "\n",
        "infusions": "\n".join(infusions) + "\n",
        "platelets": "\n".join(platelets) + "\n",
    }


@pytest.mark.django_db
def test_the_bulk_import_queries_do_not_grow_with_its_rows(today):
    user = _importer()
    counts = []
    for n in (2, 8):
        files = {
            k: v.replace("ITP-5", f"ITP-{n}").replace("SCR-5", f"SCR-{n}")
            for k, v in _people_files(n, today).items()
        }
        with CaptureQueriesContext(connection) as queries:
            result = import_files(files=files, user=_fresh(user), bulk=True)
        assert result.issues == [], result.issues[:3]
        assert result.applied
        counts.append(_statements(queries))
    assert Participant.objects.count() == 10
    assert counts[0] == counts[1], counts


def _people(n: int, prefix: str, today) -> dict[str, str]:
    """_people_files(n) under ITP-<prefix>NN / SCR-<prefix>NN."""
    return {
        k: v.replace("ITP-5", f"ITP-{prefix}").replace("SCR-5", f"SCR-{prefix}")
        for k, v in _people_files(n, today).items()
    }


def _bad_count(files: dict[str, str], subject_id: str, today) -> dict[str, str]:
    from datetime import timedelta

    day = (today - timedelta(days=5)).isoformat()
    return {**files, "platelets": files["platelets"] + f"{subject_id},{day},99999,0,UNS\n"}


@pytest.mark.django_db
def test_a_multi_chunk_import_refused_in_its_last_chunk_writes_nothing_and_reports_all(today):
    """7 participants, 2 per chunk: a bad count in the first chunk and one in the last.
    The first chunk is refused before anything is written; the later chunks are still
    judged (not written), so both refusals are reported, the same as in one chunk and on
    the per-record path; the transaction is rolled back: nothing is stored."""
    user = _importer()
    files = _bad_count(_people(7, "7", today), "ITP-707", today)
    before = snapshot()
    last_only = import_files(files=files, user=user, reason="R", bulk=True, chunk=2)
    assert not last_only.applied
    assert [i.row for i in last_only.issues] == [22]  # ITP-707's count, the file's last row
    assert snapshot() == before  # nothing written: the tables are written at the file's end

    files = _bad_count(files, "ITP-701", today)
    results = [
        import_files(files=files, user=user, reason="R", bulk=True, chunk=2),
        import_files(files=files, user=user, reason="R", bulk=True, chunk=2, outcomes=False),
        import_files(files=files, user=user, reason="R", bulk=True),
        import_files(files=files, user=user, reason="R", bulk=False),
    ]
    assert snapshot() == before
    assert [(i.file, i.row, i.column) for i in results[0].issues] == [
        ("platelets.csv", 22, "platelets_10e9_l"),
        ("platelets.csv", 23, "platelets_10e9_l"),
    ]
    for result in results:
        assert not result.applied
        assert result.issues == results[0].issues
        assert result.counts() == results[0].counts()
    assert _outcomes(results[0]) == _outcomes(results[2]) == _outcomes(results[3])


@pytest.mark.django_db
def test_a_clean_multi_chunk_import_stores_what_one_chunk_stores(study_files):
    """The study imported 2 participants per chunk, counted only (no outcome kept), and in
    one chunk: the same counts and stored records; the history, sealed chunk by chunk,
    verifies."""
    from itp_trial.audit import audit_seal, audit_verify

    user = _importer()
    audit_seal()
    chunked = import_files(
        files=_renumbered(study_files, 1), user=user, reason="R", chunk=2, outcomes=False
    )
    whole = import_files(files=_renumbered(study_files, 2), user=user, reason="R")
    assert chunked.issues == whole.issues == []
    assert chunked.applied and whole.applied
    assert chunked.counts() == whole.counts()
    assert chunked.outcomes == []  # the study's rows are all new: counted only
    assert Participant.objects.filter(subject_id__startswith="ITP-1").count() > 2
    stored_chunked, stored_whole = _records("ITP-1"), _records("ITP-2")
    for name in stored_chunked:
        assert stored_chunked[name] == stored_whole[name], name
    verified = audit_verify()
    assert verified.ok, verified.problem
    assert verified.unsealed == 0


@pytest.mark.services  # PostgreSQL: each table is written by one COPY for the whole file
@pytest.mark.django_db
def test_the_bulk_import_queries_per_file_do_not_grow_with_its_chunks(today):
    """The queries of an import of new participants are the same for files of one, two
    and three chunks of participants (2 each) and for the largest file in one chunk: the
    rows are judged a chunk at a time, but each table and its history are written once
    per file, their ids taken once per file."""
    user = _importer()
    counts = []
    for n, prefix, chunk in ((2, "2", 2), (4, "4", 2), (6, "6", 2), (6, "7", None)):
        with CaptureQueriesContext(connection) as queries:
            result = import_files(files=_people(n, prefix, today), user=_fresh(user), chunk=chunk)
        assert result.issues == [], result.issues[:3]
        assert result.applied
        counts.append(len(queries.captured_queries))
    assert Participant.objects.count() == 18
    assert counts == [counts[0]] * 4, counts


@pytest.mark.django_db
def test_a_cell_refused_in_a_later_chunk_is_reported_and_nothing_is_written(today):
    """The new participants' rows are parsed when their chunk is judged: a cell that does
    not parse in the last chunk's rows is reported as from one chunk and from the
    per-record path, and nothing is stored."""
    from datetime import timedelta

    user = _importer()
    day = (today - timedelta(days=5)).isoformat()
    files = _people(7, "7", today)
    files["platelets"] += f"ITP-707,{day},many,0,UNS\nITP-701,{day},45,9,UNS\n"
    before = snapshot()
    results = [
        import_files(files=files, user=user, reason="R", chunk=2, outcomes=False),
        import_files(files=files, user=user, reason="R"),
        import_files(files=files, user=user, reason="R", bulk=False),
    ]
    assert snapshot() == before
    assert [(i.file, i.row, i.column) for i in results[0].issues] == [
        ("platelets.csv", 22, "platelets_10e9_l"),
        ("platelets.csv", 23, "who_bleeding_grade"),
    ]
    for result in results:
        assert not result.applied
        assert result.issues == results[0].issues
        assert result.counts() == results[0].counts()


@pytest.mark.django_db
def test_files_given_by_their_paths_import_as_their_text(tmp_path, today):
    """The command gives the files' paths (read streamed): the same refusals, counts and
    stored records as their text."""
    user = _importer()
    files = _people(3, "3", today)
    for name, text in files.items():
        (tmp_path / f"{name}.csv").write_text("\ufeff" + text, encoding="utf-8")
    with transaction.atomic():
        as_text = import_files(files=files, user=user, reason="R", chunk=2)
        stored = _records("ITP-3")
        transaction.set_rollback(True)
    paths = {name: tmp_path / f"{name}.csv" for name in files}
    as_paths = import_files(files=paths, user=user, reason="R", chunk=2)
    assert as_paths.issues == as_text.issues == []
    assert as_paths.applied
    assert as_paths.counts() == as_text.counts()
    assert _records("ITP-3") == stored


def _statements(queries: CaptureQueriesContext) -> int:
    """The queries, one INSERT per table: a database with a limit on the parameters of one
    statement (SQLite) splits a bulk INSERT in batches that grow with the rows; PostgreSQL
    does not, up to the importer's own batch of bulk.BATCH rows."""
    count, previous = 0, None
    for query in queries.captured_queries:
        match = re.match(r'INSERT INTO "(\w+)"', query["sql"])
        table = match[1] if match else None
        if table is None or table != previous:
            count += 1
        previous = table
    return count


# --- stored participants: the lab upload's path (set-based) and the per-record one -----------


def _lab_rows(files: dict[str, str], today) -> str:
    """platelets.csv of the stored study: every exported count, some corrected, and new
    results of stored participants (what a lab sends)."""
    import csv
    import io
    from datetime import timedelta

    rows = list(csv.DictReader(io.StringIO(files["platelets"])))
    out = io.StringIO()
    header = ["subject_id", "sample_date", "platelets_10e9_l", "who_bleeding_grade", "visit_code"]
    writer = csv.DictWriter(out, header, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for i, row in enumerate(rows):
        if i % 2 == 0:
            row["platelets_10e9_l"] = str(int(row["platelets_10e9_l"]) + 3)  # a correction
        writer.writerow(row)
    for subject_id, days in (("ITP-002", (4, 6, 8)), ("ITP-004", (3, 5)), ("ITP-005", (1,))):
        for day in days:
            sample = (today - timedelta(days=day)).isoformat()
            writer.writerow(dict(zip(header, [subject_id, sample, "77", "0", "UNS"], strict=True)))
    return out.getvalue()


def _stored_counts(prefix: str) -> list[tuple]:
    """Every count of these participants with its version, and its history."""
    counts = PlateletCount.objects.filter(participant__subject_id__startswith=prefix)
    history = PlateletCount.history.filter(participant__subject_id__startswith=prefix)
    return [
        *counts.order_by("participant__subject_id", "sample_date").values_list(
            "participant__subject_id", "sample_date", "platelets", "version"
        ),
        *history.order_by("participant__subject_id", "sample_date", "history_id").values_list(
            "participant__subject_id",
            "sample_date",
            "platelets",
            "version",
            "history_type",
            "history_change_reason",
            "history_user_id",
        ),
    ]


def _applied_both(files: dict[str, str], user, **options):
    """Each path's result and the records it leaves, applied then undone in turn."""
    from django.db import transaction

    found = []
    for bulk in (True, False):
        with transaction.atomic():
            result = import_files(files=files, user=user, bulk=bulk, **options)
            found.append((result, _records("ITP-0"), _stored_counts("ITP-0")))
            transaction.set_rollback(True)
    return found


@pytest.mark.django_db
def test_both_paths_apply_a_lab_upload_of_stored_participants_the_same(study_files, today):
    user = _importer()
    files = {"platelets": _lab_rows(study_files, today)}
    (bulk, bulk_records, bulk_counts), (record, records, counts) = _applied_both(
        files, user, reason="Lab re-run"
    )
    assert bulk.issues == record.issues == []
    assert bulk.applied and record.applied
    assert bulk.counts() == record.counts()
    assert bulk.counts()["platelets.csv"]["new"] == 6
    assert bulk.counts()["platelets.csv"]["changed"] > 0
    assert _outcomes(bulk) == _outcomes(record)
    assert bulk_records == records
    assert bulk_counts == counts
    # Without the reason, both refuse each correction the same and write nothing.
    bulk, record = _both(files, user)
    assert bulk.issues and bulk.issues == record.issues
    assert _outcomes(bulk) == _outcomes(record)


@pytest.mark.django_db
def test_both_paths_refuse_each_bad_lab_row_of_a_stored_participant_the_same(study_files, today):
    from datetime import timedelta

    def d(days: int) -> str:
        return (today + timedelta(days=days)).isoformat()

    user = _importer()
    good = {"platelets": _lab_rows(study_files, today)}
    bad_rows = {
        "after withdrawal": ["ITP-003", d(-10), "40", "0", "UNS"],
        "before consent": ["ITP-002", d(-400), "40", "0", "UNS"],
        "a visit count without its grade": ["ITP-002", d(-3), "40", "", "V2"],
        "a visit before treatment is complete": ["ITP-005", d(-2), "40", "0", "V4"],
        "a visit count made unscheduled": None,
        "an unknown participant": ["ITP-099", d(-2), "40", "0", "UNS"],
    }
    scheduled = PlateletCount.objects.filter(
        participant__subject_id="ITP-002", visit__isnull=False
    ).first()
    bad_rows["a visit count made unscheduled"] = [
        "ITP-002",
        scheduled.sample_date.isoformat(),
        str(scheduled.platelets),
        str(scheduled.who_bleeding_grade),
        "UNS",
    ]
    for label, cells in bad_rows.items():
        lines = [line for line in good["platelets"].splitlines() if f",{cells[1]}," not in line]
        files = {"platelets": "\n".join([*lines, ",".join(cells)]) + "\n"}
        before = snapshot()
        bulk, record = _both(files, user, reason="Lab re-run")
        assert bulk.issues, label
        assert bulk.issues == record.issues, label
        assert _outcomes(bulk) == _outcomes(record), label
        result = import_files(files=files, user=user, reason="Lab re-run", bulk=True)
        assert not result.applied, label
        assert snapshot() == before, label


@pytest.mark.django_db
def test_a_lab_upload_of_stored_participants_queries_do_not_grow_with_its_rows(today):
    from datetime import timedelta

    user = _importer()
    import_files(files=_people_files(12, today), user=user, bulk=True)
    counts = []
    for n, day in ((2, 20), (12, 21)):
        sample = (today - timedelta(days=day)).isoformat()
        lines = ["subject_id,sample_date,platelets_10e9_l,who_bleeding_grade,visit_code"]
        for i in range(1, n + 1):
            lines.append(f"ITP-{500 + i},{sample},50,0,UNS")  # a new result
            old = (today - timedelta(days=1)).isoformat()
            lines.append(f"ITP-{500 + i},{old},{60 + day},0,UNS")  # a correction
        with CaptureQueriesContext(connection) as queries:
            result = import_files(
                files={"platelets": "\n".join(lines) + "\n"}, user=user, reason="R", bulk=True
            )
        assert result.issues == [], result.issues[:3]
        assert result.counts()["platelets.csv"] == {"new": n, "changed": n, "unchanged": 0}
        counts.append(_statements(queries))
    assert counts[0] == counts[1], counts


@pytest.mark.django_db
def test_both_paths_refuse_the_lab_rows_of_a_locked_casebook_the_same(study_files, today):
    from django.utils import timezone

    user = _importer()
    files = {"platelets": _lab_rows(study_files, today)}
    Participant.objects.filter(subject_id="ITP-002").update(locked_at=timezone.now())
    before = snapshot()
    bulk, record = _both(files, user, reason="Lab re-run")
    assert bulk.issues and bulk.issues == record.issues
    assert {i.message for i in bulk.issues} == {
        i.message for i in record.issues if "locked" in i.message
    }
    refused = {i.row for i in bulk.issues}
    lines = files["platelets"].splitlines()[1:]
    assert {lines[r - 1].split(",")[0] for r in refused} == {"ITP-002"}
    assert _outcomes(bulk) == _outcomes(record)
    result = import_files(files=files, user=user, reason="Lab re-run", bulk=True)
    assert not result.applied
    assert snapshot() == before
