"""The participant list, a participant's schedule and dashboard, the worklist and the flags
and queries lists read with a fixed number of queries, whatever the number of participants."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from itp_trial import protocol
from safety.checks import checks_run
from safety.models import DataQuery, Flag
from safety.views.flags import FLAGS_PER_PAGE
from subjects.models import Participant
from visits.models import PlateletCount, Visit
from visits.services import schedule_sync

pytestmark = pytest.mark.django_db


def days(n: int) -> timedelta:
    return timedelta(days=n)


def participants_bulk(count: int, *, first: int, today: date) -> list[int]:
    """Enrolled participants written in bulk, their schedules stored by the real engine.

    Infusion 1 is planned from 15 days ago to 14 days ahead, so that the worklist has
    visits overdue, in window and due.
    """
    consent = today - days(40)
    participants = Participant.objects.bulk_create(
        Participant(
            subject_id=f"Q-{first + n:04d}",
            screening_number=f"QS-{first + n:04d}",
            sex="F" if n % 2 else "M",
            birth_date=date(1980, 1, 1),
            consent_date=consent,
            consent_version="2.1",
            eligible=True,
            enrolled_on=consent,
            planned_first_infusion_date=today + days((first + n) % 30 - 15),
        )
        for n in range(count)
    )
    Visit.objects.bulk_create(
        Visit(participant=p, code=code, actual_date=consent if code == "V1" else None)
        for p in participants
        for code in protocol.VISIT_CODES
    )
    PlateletCount.objects.bulk_create(
        PlateletCount(participant=p, sample_date=consent, platelets=20, who_bleeding_grade=1)
        for p in participants
    )
    ids = [p.pk for p in participants]
    schedule_sync(participant_ids=ids, today=today)
    # The background checks raise the flags (the overdue visits); a data query each.
    checks_run(participant_ids=ids)
    raiser = get_user_model().objects.get(username="coordinator")
    DataQuery.objects.bulk_create(
        DataQuery(participant_id=pk, question="Please check.", raised_by=raiser) for pk in ids
    )
    return ids


def queries_of(client, url: str) -> int:
    client.get(url)  # warm the per-process caches (content types, permissions)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured)


def test_it_reads_the_pages_with_the_same_queries_for_5_or_200_participants(client, coordinator):
    today = timezone.localdate()
    client.force_login(coordinator)
    ids = participants_bulk(5, first=0, today=today)
    urls = {
        "list": reverse("subjects:list"),
        "schedule": reverse("subjects:detail", args=[ids[0]]),
        "dashboard": reverse("subjects:dashboard", args=[ids[0]]),
        "worklist": reverse("visits:worklist"),
        "flags": reverse("safety:flags"),
        "queries": reverse("safety:queries"),
    }
    small = {name: queries_of(client, url) for name, url in urls.items()}
    small_worklist = client.get(urls["worklist"]).context["worklist"]
    small_rows = len(client.get(urls["list"]).context["rows"])
    small_flags = client.get(urls["flags"]).context["page"].paginator.count

    participants_bulk(195, first=5, today=today)
    PlateletCount.objects.bulk_create(
        PlateletCount(participant_id=ids[0], sample_date=today - days(n), platelets=30 + n)
        for n in range(1, 30)
    )
    large = {name: queries_of(client, url) for name, url in urls.items()}

    assert large == small
    # The pages did grow: the same queries now carry many more rows.
    large_worklist = client.get(urls["worklist"]).context["worklist"]
    assert len(large_worklist.overdue) > len(small_worklist.overdue)
    assert len(large_worklist.in_window) > len(small_worklist.in_window)
    assert len(large_worklist.due) > len(small_worklist.due)
    assert (small_rows, len(client.get(urls["list"]).context["rows"])) == (5, 25)
    assert client.get(urls["flags"]).context["page"].paginator.count > small_flags > 0
    flags_page = client.get(urls["flags"]).context["page"]
    assert len(flags_page) == min(Flag.objects.count(), FLAGS_PER_PAGE)
    assert client.get(urls["queries"]).context["page"].paginator.count == 200
    assert len(client.get(urls["schedule"]).context["page"].platelets) == 30


def _main_table(sql: str) -> str:
    """The table a statement reads from: the FROM nearest its top (the parts of a UNION sit
    one parenthesis down; a scalar subquery deeper)."""
    found, depth = [], 0
    for n, char in enumerate(sql):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if sql.startswith('FROM "', n):
            found.append((depth, sql[n + 6 : sql.index('"', n + 6)]))
    return min(found)[1] if found else ""


def _tables_read(client, url: str) -> tuple[int, dict[str, int]]:
    """The page's queries, and how many of them read each of the lists' tables."""
    client.get(url)
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    # The savepoints are the test's transaction around the session's save.
    sqls = [q["sql"] for q in captured.captured_queries if "SAVEPOINT" not in q["sql"]]
    tables = [_main_table(sql) for sql in sqls]
    wanted = ("visits_visit", "safety_flag", "safety_dataquery")
    return len(tables), {table: tables.count(table) for table in wanted}


def test_the_worklist_reads_its_sections_in_one_query_and_its_flags_with_their_count(
    client, coordinator
):
    today = timezone.localdate()
    client.force_login(coordinator)
    participants_bulk(30, first=0, today=today)

    total, tables = _tables_read(client, reverse("visits:worklist"))

    # The sections: their counts, then the page of every section (a UNION ALL).
    assert tables["visits_visit"] == 2
    # The open flags with their count; the site's open queries: the navigation's counts
    # (the panel's count too) and the panel's rows.
    assert (tables["safety_flag"], tables["safety_dataquery"]) == (1, 2)
    # The session, the user, the two permission reads, the role, the session's save, the
    # SAE clocks: 12 in all.
    assert total == 12
    response = client.get(reverse("visits:worklist"))
    assert response.context["worklist_queries_count"] == response.context["nav_query_counts"][
        "open"
    ] == DataQuery.objects.filter(state="open").count()


def test_the_flags_list_reads_a_page_of_flags_with_their_records_in_one_query(
    client, coordinator, investigator
):
    today = timezone.localdate()
    client.force_login(investigator)
    participants_bulk(30, first=0, today=today)

    total, tables = _tables_read(client, reverse("safety:flags"))

    assert tables["safety_flag"] == 2  # the bounded count, then the page
    assert total == 9
    page = client.get(reverse("safety:flags")).context["page"]
    shown = {flag.pk: flag for flag in page}
    for flag in Flag.objects.filter(pk__in=shown).select_related("participant", "visit"):
        row = shown[flag.pk]
        assert (row.participant.subject_id, row.visit.code, row.detail_display) == (
            flag.participant.subject_id,
            flag.visit.code,
            flag.detail_display,
        )
