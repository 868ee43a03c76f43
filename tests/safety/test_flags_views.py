"""The flags page, acknowledging a deviation, and the open-flags include."""

from __future__ import annotations

import shutil
import subprocess
from datetime import date, datetime, time, timedelta

import pytest
from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from safety.checks import checks_run
from safety.models import Flag, FlagKind
from safety.selectors import open_flags_count, open_flags_for, open_flags_summary
from subjects.models import Participant
from tests.factories import enrolled, schedules_bulk
from visits.models import WindowStatus

pytestmark = pytest.mark.django_db

TODAY = date(2025, 6, 2)
NOW = timezone.make_aware(datetime.combine(TODAY, time(12)))
# Per participant: an out-of-window visit, a missed one, and an overdue one.
VISITS = {
    "V2": (WindowStatus.LATE, -30),
    "V4": (WindowStatus.MISSED, -3),
    "V5-D14": (WindowStatus.OVERDUE, -2),
}
FLAGS_URL = reverse("safety:flags")


def flags_for(participants: int, prefix: str = "P") -> list[int]:
    ids = schedules_bulk(participants=participants, visits=VISITS, today=TODAY, prefix=prefix)
    checks_run(participant_ids=ids, now=NOW)
    return ids


def ack_url(flag: Flag) -> str:
    return reverse("safety:flag_acknowledge", args=[flag.pk])


def a_flag(kind: str) -> Flag:
    return Flag.objects.filter(kind=kind).order_by("pk").first()


def shown(response) -> set[int]:
    return {flag.pk for flag in response.context["page"]}


def test_it_shows_the_open_flags_by_default(client, monitor):
    flags_for(2)
    resolved = a_flag(FlagKind.OVERDUE)
    Flag.objects.filter(pk=resolved.pk).update(resolved_at=NOW)
    client.force_login(monitor)

    response = client.get(FLAGS_URL)

    assert response.status_code == 200
    assert shown(response) == set(Flag.objects.exclude(pk=resolved.pk).values_list("pk", flat=True))
    assert "V4 marked missed: Travelling" in response.content.decode()


@pytest.mark.parametrize(
    "query, expected",
    [
        ({"kind": FlagKind.MISSED_VISIT}, {"missed_visit"}),
        ({"status": "resolved"}, {"overdue"}),
        ({"status": "acknowledged"}, {"out_of_window"}),
        ({"status": "all", "kind": FlagKind.OVERDUE}, {"overdue"}),
    ],
)
def test_it_filters_by_kind_and_status(client, monitor, query, expected):
    flags_for(2)
    Flag.objects.filter(kind=FlagKind.OVERDUE).update(resolved_at=NOW)
    Flag.objects.filter(kind=FlagKind.OUT_OF_WINDOW).update(acknowledged_at=NOW)
    client.force_login(monitor)

    response = client.get(FLAGS_URL, query)

    assert {f.kind for f in response.context["page"]} == expected
    assert len(response.context["page"]) == 2 * len(expected)


def test_it_filters_by_participant(client, monitor):
    first, second = flags_for(2)
    client.force_login(monitor)

    subject_id = Participant.objects.get(pk=second).subject_id

    response = client.get(FLAGS_URL, {"participant": subject_id.lower()})

    assert {f.participant_id for f in response.context["page"]} == {second}
    assert len(response.context["page"]) == 3
    # A text field searched on the server, not a list of every participant.
    html = response.content.decode()
    assert '<input type="text" name="participant"' in html
    assert '<select name="participant"' not in html
    assert f'value="{subject_id.lower()}"' in html  # what was typed, kept


def test_it_says_when_no_participant_has_the_typed_id(client, monitor):
    flags_for(1)
    client.force_login(monitor)

    response = client.get(FLAGS_URL, {"participant": "ITP-999"})

    assert "No participant ITP-999." in response.content.decode()


def test_it_paginates(client, monitor):
    from safety.views.flags import FLAGS_PER_PAGE

    flags_for(20)  # 60 flags
    client.force_login(monitor)

    first = client.get(FLAGS_URL)
    second = client.get(FLAGS_URL, {"page": 2})
    last = client.get(FLAGS_URL, {"page": 60 // FLAGS_PER_PAGE + 1})

    assert len(first.context["page"]) == len(second.context["page"]) == FLAGS_PER_PAGE
    assert len(last.context["page"]) == 60 % FLAGS_PER_PAGE
    assert not shown(first) & shown(second)
    assert "page=2" in first.content.decode()


def test_it_takes_the_same_number_of_queries_for_3_and_60_flags(client, investigator):
    client.force_login(investigator)
    flags_for(1, prefix="A")
    Flag.objects.filter(kind=FlagKind.OUT_OF_WINDOW).update(
        acknowledged_at=NOW, acknowledged_by=investigator, acknowledgement_comment="Fine"
    )
    client.get(FLAGS_URL)  # warm the session and permission caches alike for both

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(FLAGS_URL, {"status": "all"})
        assert response.status_code == 200
        return len(ctx.captured_queries)

    few = queries()
    flags_for(19, prefix="B")
    Flag.objects.filter(kind=FlagKind.OUT_OF_WINDOW).update(
        acknowledged_at=NOW, acknowledged_by=investigator, acknowledgement_comment="Fine"
    )
    many = queries()

    assert Flag.objects.count() == 60
    assert many == few


def test_it_acknowledges_a_deviation_with_the_comment_user_and_time(client, investigator):
    flags_for(1)
    flag = a_flag(FlagKind.MISSED_VISIT)
    client.force_login(investigator)

    response = client.post(
        ack_url(flag), {"comment": " Patient travelling; agreed with sponsor. ", "next": FLAGS_URL}
    )

    assert response.status_code == 302 and response.url == FLAGS_URL
    flag.refresh_from_db()
    assert flag.acknowledged_by == investigator
    assert flag.acknowledged_at is not None
    assert flag.acknowledgement_comment == "Patient travelling; agreed with sponsor."
    assert flag.status == "acknowledged"
    last = flag.history.first()
    assert last.history_user == investigator and last.acknowledged_at == flag.acknowledged_at


def test_it_lets_a_monitor_acknowledge(client, monitor):
    flags_for(1)
    flag = a_flag(FlagKind.OUT_OF_WINDOW)
    client.force_login(monitor)

    client.post(ack_url(flag), {"comment": "Within tolerance agreed in the monitoring plan."})

    flag.refresh_from_db()
    assert flag.acknowledged_by == monitor


@pytest.mark.parametrize("role", ["coordinator", "data_manager"])
def test_it_refuses_acknowledgement_to_other_roles(client, request, role):
    flags_for(1)
    flag = a_flag(FlagKind.MISSED_VISIT)
    client.force_login(request.getfixturevalue(role))

    response = client.post(ack_url(flag), {"comment": "Seen"})

    assert response.status_code == 403
    flag.refresh_from_db()
    assert flag.acknowledged_at is None and flag.acknowledgement_comment == ""


def test_it_requires_a_comment(client, investigator):
    flags_for(1)
    flag = a_flag(FlagKind.MISSED_VISIT)
    client.force_login(investigator)

    response = client.post(ack_url(flag), {"comment": "   "})

    assert response.status_code == 200
    assert response.context["form"].errors
    flag.refresh_from_db()
    assert flag.acknowledged_at is None and flag.acknowledged_by is None


def test_it_refuses_to_acknowledge_a_flag_that_resolves_itself(client, investigator):
    flags_for(1)
    flag = a_flag(FlagKind.OVERDUE)
    client.force_login(investigator)

    response = client.post(ack_url(flag), {"comment": "Seen"})

    assert response.status_code == 200
    assert "resolves itself" in response.content.decode()
    flag.refresh_from_db()
    assert flag.acknowledged_at is None and flag.acknowledgement_comment == ""


def test_it_does_not_acknowledge_twice(client, investigator, monitor):
    flags_for(1)
    flag = a_flag(FlagKind.MISSED_VISIT)
    client.force_login(investigator)
    client.post(ack_url(flag), {"comment": "First"})
    client.force_login(monitor)

    client.post(ack_url(flag), {"comment": "Second"})

    flag.refresh_from_db()
    assert (flag.acknowledged_by, flag.acknowledgement_comment) == (investigator, "First")


def test_it_ignores_a_next_url_off_the_site(client, investigator):
    flags_for(1)
    client.force_login(investigator)

    response = client.post(
        ack_url(a_flag(FlagKind.MISSED_VISIT)), {"comment": "Ok", "next": "https://evil.test/"}
    )

    assert response.url == FLAGS_URL


def test_it_offers_acknowledgement_with_a_confirmation_only_to_reviewers(
    client, investigator, coordinator
):
    flags_for(1)
    client.force_login(investigator)
    page = client.get(FLAGS_URL).content.decode()
    client.force_login(coordinator)
    coordinator_page = client.get(FLAGS_URL).content.decode()

    # Two acknowledgeable flags (out of window, missed); the overdue one has no form.
    assert page.count('name="comment"') == 2 and page.count("data-confirm") == 2
    assert 'name="comment"' not in coordinator_page


def test_it_selects_the_open_flags_of_participants(investigator):
    first, second = flags_for(2)
    Flag.objects.filter(participant_id=first, kind=FlagKind.OVERDUE).update(resolved_at=NOW)

    assert open_flags_count(participant_ids=[first]) == 2
    assert open_flags_count() == 5
    assert {f.participant_id for f in open_flags_for(participant_ids=[second])} == {second}
    summary = open_flags_summary(participant_ids=[first, second], limit=3)
    assert len(summary["open_flags"]) == 3 and summary["open_flags_count"] == 5


def test_it_renders_the_open_flags_include(rf, investigator):
    (participant_id,) = flags_for(1)
    request = rf.get("/")
    request.user = investigator

    html = render_to_string(
        "safety/_open_flags.html",
        open_flags_summary(participant_ids=[participant_id], limit=2),
        request=request,
    )

    assert 'data-testid="open-flags"' in html
    assert "3 open flags in all" in html
    # In triage order: the overdue visit, then the missed one; the out-of-window V2 is third.
    assert html.index("V5-D14") < html.index("V4") and "V2" not in html


def test_it_shows_the_open_flags_on_the_worklist_and_the_participant_page(client, coordinator):
    today = timezone.localdate()
    participant = enrolled(coordinator, today=today - timedelta(days=10), planned=today)
    checks_run()
    flag = Flag.objects.get(participant=participant)
    client.force_login(coordinator)

    worklist = client.get(reverse("visits:worklist"))
    detail = client.get(reverse("subjects:detail", args=[participant.pk]))

    for response in (worklist, detail):
        assert response.status_code == 200
        assert [f.pk for f in response.context["open_flags"]] == [flag.pk]
        html = response.content.decode()
        assert 'data-testid="open-flags"' in html and flag.detail in html
    assert f"?participant={participant.subject_id}" in detail.content.decode()


@pytest.mark.skipif(shutil.which("fc-list") is None, reason="fontconfig is not installed")
def test_its_icons_are_drawn_by_an_installed_font_not_only_by_an_emoji_font():
    from safety.triage import KIND_ICONS, OTHER_KIND_ICON, SAE_CLOCK_ICON

    for icon in {*KIND_ICONS.values(), OTHER_KIND_ICON, SAE_CLOCK_ICON}:
        found = subprocess.run(
            ["fc-list", f":charset={ord(icon):04x}", "family"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
        assert [f for f in found if "emoji" not in f.lower()], f"{icon} U+{ord(icon):04X}"


def test_it_counts_a_long_list_only_so_far_and_says_so(client, investigator, monkeypatch):
    from itp_trial import paging
    from safety.views import flags

    monkeypatch.setattr(paging, "COUNT_AHEAD", 4)
    monkeypatch.setattr(flags, "FLAGS_PER_PAGE", 2)
    first = flags_for(3)[0]  # nine open flags, three each
    client.force_login(investigator)

    response = client.get(FLAGS_URL)

    paginator = response.context["page"].paginator
    assert (paginator.more, paginator.bound) == (True, 4)
    html = response.content.decode()
    assert "More than 4 flags" in html
    assert len(response.context["rows"]) == 2
    assert "Page 1 of at least 3" in html
    # Filtered to one participant, the count is small enough to be exact.
    subject_id = Participant.objects.get(pk=first).subject_id
    response = client.get(FLAGS_URL, {"participant": subject_id})
    assert response.context["page"].paginator.more is False
    assert "3 flags" in response.content.decode()
    assert "Page 1 of 2" in response.content.decode()


def test_each_row_is_the_flag_as_every_page_shows_it(client, investigator):
    flags_for(1)
    deviation = a_flag(FlagKind.OUT_OF_WINDOW)
    overdue = a_flag(FlagKind.OVERDUE)
    client.force_login(investigator)

    html = client.get(FLAGS_URL).content.decode()

    # The acknowledge form of a deviation, posting its version back to the page.
    assert f'action="{ack_url(deviation)}"' in html
    assert f'action="{ack_url(overdue)}"' not in html  # resolves itself: no form
    assert 'data-kind="overdue" data-severity="high"' in html  # long overdue by now
    assert f'href="{reverse("subjects:detail", args=[overdue.participant_id])}"' in html
    # The same line as the participant's page and the dashboard show (the flag_line tag).
    from django.template import engines

    tag = engines["django"].from_string("{% load flags %}{% flag_line flag %}")
    line = tag.render({"flag": Flag.objects.get(pk=overdue.pk)})
    assert line.startswith('<span class="flag-line" data-kind="overdue"')
    assert line in html


def test_the_open_flags_panel_reads_what_it_shows_in_its_own_queries(rf, coordinator):
    # A flag about a visit (overdue), an infusion (dose deviation) and an adverse event
    # (SAE report overdue): the panel's narrow read holds what each line shows, so drawing
    # them reads nothing more.
    from tests.factories import adverse_event_onset, infused

    today = timezone.localdate()
    participant = enrolled(
        coordinator, today=today - timedelta(days=30), planned=today - timedelta(days=20)
    )
    given = infused(coordinator, participant, 1, actual=1, today=today)
    adverse_event_onset(coordinator, participant, infusion=given, serious=True)
    checks_run()
    kinds = set(Flag.objects.values_list("kind", flat=True))
    assert {FlagKind.OVERDUE, FlagKind.DOSE_DEVIATION, FlagKind.SAE_REPORT_OVERDUE} <= kinds
    request = rf.get("/")
    request.user = coordinator
    summary = open_flags_summary(participant_ids=[participant.pk])
    records = ("safety_flag", "subjects_participant", "visits_visit", "infusions_")
    records += ("safety_adverseevent",)

    with CaptureQueriesContext(connection) as queries:
        html = render_to_string("safety/_open_flags.html", summary, request=request)

    # The panel's `perms` may read the user's groups; no flag or record is read again.
    again = [q["sql"] for q in queries if any(table in q["sql"] for table in records)]
    assert again == []
    assert html.count('data-testid="open-flag"') == Flag.objects.filter(resolved_at=None).count()
    assert "V3-INF1" in html and "AE 1" in html and "SAE report overdue by" in html
    assert participant.subject_id in html
