"""Each role, with Chinese chosen on the login page, walks the pages it can reach and a data
entry form: the visible text holds no English interface text (data, codes aside)."""

from __future__ import annotations

import re
from collections import Counter
from urllib.parse import urlsplit

import pytest
from django.urls import Resolver404, resolve, reverse
from playwright.sync_api import Error as PlaywrightError

from demo.scenario import DEMO_PASSWORD, DEMO_USERS

from .visible_text import data_values, english_left

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


# Not pages: downloads, the switcher's and the logout's POST targets, the admin.
NOT_WALKED = {
    "logout",
    "language_set",
    "javascript_catalog",
    "healthz",
    "exchange:export_zip",
    "exchange:export_dataset",
}
PAGES_PER_VIEW = 1  # each kind of page once: a participant's pages are all alike
MAX_PAGES = 60
CHINESE = re.compile(r"[\u4e00-\u9fff]")


# A few of the demo's courses, enough for every kind of page and record: a serious event
# not yet reported (overdue), a missed visit with rescue therapy, a dose deviation, a
# withdrawal, an infusion planned in the future and a screen failure.
COURSES = ("ITP-004", "ITP-007", "ITP-008", "ITP-009", "ITP-011", "ITP-012")


@pytest.fixture
def demo_trial(transactional_db):
    from django.utils import timezone

    from demo.scenario import COURSES as ALL_COURSES
    from demo.seed import _Player, demo_users_create
    from safety.dataqueries import query_raise
    from subjects.models import Participant

    users = {u.username: u for u in demo_users_create()}
    for course in ALL_COURSES:
        if course.subject_id in COURSES:
            _Player(
                course,
                coordinator=users["coordinator"],
                investigator=users["investigator"],
                today=timezone.localdate(),
            ).play()
    query_raise(
        participant=Participant.objects.get(subject_id="ITP-007"),
        user=users["monitor"],
        question="Please confirm the date of the thrombosis against the discharge letter.",
    )
    return data_values()


def _view_name(path: str) -> str | None:
    try:
        match = resolve(path)
    except Resolver404:
        return None
    return match.view_name


def _login_in_chinese(page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}{reverse('login')}")
    page.click("[data-testid=language-zh-hans]")
    page.wait_for_selector("html[lang=zh-hans]")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("[data-testid=login-form] button[type=submit]")
    page.wait_for_selector("[data-testid=whoami]")


def _check(page, values: set[str], problems: dict[str, list[str]]) -> None:
    assert page.locator("html").get_attribute("lang") == "zh-hans", page.url
    text = page.inner_text("body")
    assert CHINESE.search(text), page.url
    left = english_left(text, values)
    if left:
        problems[urlsplit(page.url).path] = sorted(set(left))


def _walk(page, live_server, values: set[str]) -> tuple[dict[str, list[str]], Counter]:
    problems: dict[str, list[str]] = {}
    seen: Counter = Counter()
    visited: set[str] = set()
    queue = [urlsplit(page.url).path]
    while queue and len(visited) < MAX_PAGES:
        path = queue.pop(0)
        if path in visited:
            continue
        visited.add(path)
        try:
            response = page.goto(f"{live_server.url}{path}")
        except PlaywrightError as error:  # a file (PDF, XML, zip): downloaded, not shown
            if "Download is starting" in str(error):
                continue
            raise
        if response is None or response.status != 200:
            continue
        _check(page, values, problems)
        for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)"):
            parts = urlsplit(href)
            if parts.netloc != urlsplit(live_server.url).netloc or parts.path in visited:
                continue
            name = _view_name(parts.path)
            if name is None or name in NOT_WALKED or name.startswith("admin:"):
                continue
            if "." in parts.path.rsplit("/", 1)[-1]:  # a file: study.zip, odm.xml, *.pdf
                continue
            if seen[name] < PAGES_PER_VIEW:
                seen[name] += 1
                queue.append(parts.path)
    return problems, seen


def test_every_role_sees_the_interface_in_chinese(browser, live_server, demo_trial):
    """One walk per role, each in a browser of its own; the demo trial is seeded once."""
    problems: dict[str, dict[str, list[str]]] = {}
    for username, _role, _first, _last in DEMO_USERS:
        context = browser.new_context()
        page = context.new_page()
        _login_in_chinese(page, live_server, username)
        found, seen = _walk(page, live_server, demo_trial)
        assert len(seen) >= 5, f"{username} reached too few pages: {sorted(seen)}"
        if found:
            problems[username] = found
        if username == "coordinator":
            form_problems = _data_entry_form(page, live_server, demo_trial)
            if form_problems:
                problems["coordinator (form)"] = form_problems
        context.close()
    assert problems == {}


def _data_entry_form(page, live_server, values: set[str]) -> dict[str, list[str]]:
    """A visit form from the worklist, then the same form refused: both in Chinese."""
    page.goto(f"{live_server.url}{reverse('visits:worklist')}")
    page.locator("main a[href*='/visits/']").first.click()
    page.wait_for_selector("main form")
    assert _view_name(urlsplit(page.url).path) == "visits:edit"
    problems: dict[str, list[str]] = {}
    _check(page, values, problems)

    # A date that does not exist: the refusal is shown in Chinese too.
    date_input = page.locator("main form input[name=actual_date]")
    date_input.evaluate("el => { el.type = 'text'; }")
    date_input.fill("2026-13-45")
    page.locator("main form button[type=submit]").last.click()
    page.wait_for_selector("[data-testid=form-errors]")
    assert "2026-13-45" in page.input_value("main form input[name=actual_date]")
    _check(page, values, problems)
    return problems
