"""audit_trail.csv: every change of the review records too — flags through their lifecycle,
eligibility decisions, sign-offs, data queries — and the manifest's audit chain head."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, time, timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from exchange.export import FileStats, dataset_bytes
from itp_trial import protocol
from itp_trial.audit import audit_head, audit_seal, audit_verify
from safety.checks import checks_run
from safety.dataqueries import query_answer, query_close, query_raise
from safety.models import Flag, FlagKind
from safety.services import flag_acknowledge
from safety.signatures import casebook_sign
from subjects.services import eligibility_record
from tests.exchange.study import build_study
from tests.factories import PASSWORD, all_criteria_met, enrolled, screened
from visits.models import Visit
from visits.services import schedule_sync

pytestmark = pytest.mark.django_db

T0 = date(2025, 3, 3)


def noon(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(12)))


def trail() -> list[dict[str, str]]:
    content = b"".join(dataset_bytes("audit_trail", stats=FileStats("audit_trail"))).decode()
    return list(csv.DictReader(io.StringIO(content, newline="")))


def rows_of(rows, dataset: str) -> list[tuple[str, str, str, str, str]]:
    return [
        (r["action"], r["user"], r["field"], r["old_value"], r["new_value"])
        for r in rows
        if r["dataset"] == dataset
    ]


def enter(participant, code: str, *, today: date, **fields) -> None:
    Visit.objects.filter(participant=participant, code=code).update(**fields)
    schedule_sync(participant_ids=[participant.pk], today=today)


def test_it_lists_a_flag_raised_resolved_reopened_and_acknowledged(coordinator, monitor):
    participant = enrolled(coordinator, today=T0, planned=T0 + timedelta(days=7))
    checks_run(now=noon(T0 + timedelta(days=8)))  # V2 overdue: raised
    enter(participant, "V2", today=T0 + timedelta(days=9), actual_date=T0 + timedelta(days=9))
    checks_run(now=noon(T0 + timedelta(days=9)))  # entered late: resolved, out of window raised
    enter(participant, "V2", today=T0 + timedelta(days=10), actual_date=None)
    checks_run(now=noon(T0 + timedelta(days=10)))  # cleared again: reopened
    late = Flag.objects.get(kind=FlagKind.OUT_OF_WINDOW)
    flag_acknowledge(flag_id=late.pk, user=monitor, comment="Patient travelled")

    flags = [r for r in trail() if r["dataset"] == "flags"]

    overdue = [r["action"] for r in flags if r["record"] == FlagKind.OVERDUE]
    assert overdue[0] == "raised"
    assert "resolved" in overdue and "reopened" in overdue
    assert overdue.index("resolved") < overdue.index("reopened")
    resolved = next(r for r in flags if r["action"] == "resolved")
    assert (resolved["field"], resolved["old_value"]) == ("resolved_at", "")
    acknowledged = [r for r in flags if r["action"] == "acknowledged"]
    assert {r["field"] for r in acknowledged} >= {"acknowledged_by", "acknowledgement_comment"}
    assert all(r["user"] == "monitor" for r in acknowledged)
    assert all(r["reason"] == "Patient travelled" for r in acknowledged)
    assert ("acknowledged_by", "monitor") in {(r["field"], r["new_value"]) for r in acknowledged}


def test_it_lists_the_eligibility_decision_with_its_user_and_reason(coordinator, investigator):
    participant = screened(coordinator)
    answers = all_criteria_met()
    code = next(iter(answers))
    eligibility_record(participant=participant, user=coordinator, answers=answers)
    eligibility_record(
        participant=participant,
        user=investigator,
        answers={**answers, code: not answers[code]},
        reason="Criterion re-read",
    )

    decisions = [r for r in trail() if r["dataset"] == "subjects" and r["field"] == "eligible"]

    assert [(r["action"], r["user"], r["old_value"], r["new_value"]) for r in decisions] == [
        ("eligibility decided", "coordinator", "", "Y"),
        ("eligibility decided", "investigator", "Y", "N"),
    ]
    assert decisions[1]["reason"] == "Criterion re-read"


def test_it_lists_signatures_and_data_queries(coordinator, investigator, monitor):
    participant = enrolled(coordinator)
    meaning = next(iter(protocol.SIGNATURE_MEANING_TEXT))
    casebook_sign(
        participant_id=participant.pk, user=investigator, password=PASSWORD, meaning=meaning
    )
    query = query_raise(participant=participant, user=monitor, question="Weight at V2?")
    query_answer(query_id=query.pk, user=coordinator, answer="62.7 kg, checked")
    query_close(query_id=query.pk, user=monitor)

    rows = trail()

    signed = rows_of(rows, "signatures")
    assert signed[0][:3] == ("signed", "investigator", "")
    assert signed[0][4]  # the statement signed
    queries = rows_of(rows, "queries")
    assert queries[0] == ("raised", "monitor", "", "", "Weight at V2?")
    answered = {(r[0], r[1], r[2], r[4]) for r in queries[1:]}
    assert ("answered", "coordinator", "answer", "62.7 kg, checked") in answered
    assert ("answered", "coordinator", "answered_by", "coordinator") in answered
    assert ("closed", "monitor", "state", "closed") in answered
    assert {r["subject_id"] for r in rows if r["dataset"] in ("signatures", "queries")} == {
        participant.subject_id
    }


def test_the_manifest_records_the_audit_chain_head(coordinator, investigator, monitor, tmp_path):
    build_study(coordinator=coordinator, investigator=investigator)
    audit_seal()  # what each committed transaction does (tests roll back instead)
    seq, head = audit_head()
    assert seq > 0

    call_command("export_csv", str(tmp_path), "--user", monitor.username, stdout=io.StringIO())

    with open(tmp_path / "manifest.csv", newline="", encoding="utf-8") as f:
        manifest = list(csv.DictReader(f))
    assert {(m["audit_chain_seq"], m["audit_chain_head"]) for m in manifest} == {(str(seq), head)}
    assert audit_verify().head_hash == head
