"""The language switcher, the language remembered per user, ISO dates in both languages,
and the system's stored sentences shown in the reader's language."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import formats, timezone, translation

from itp_trial import stored_text
from itp_trial.models import UserPreference
from safety import flag_text
from tests.factories import PASSWORD, enrolled

ZH = "zh-hans"


def _login(client, username, **extra):
    return client.post(
        reverse("login"), {"username": username, "password": PASSWORD}, follow=True, **extra
    )


def _switch(client, language, next_url="/"):
    return client.post(reverse("language_set"), {"language": language, "next": next_url})


@pytest.mark.django_db
def test_the_login_page_offers_both_languages_each_in_its_own_words(client):
    page = client.get(reverse("login")).content.decode()
    assert 'data-testid="language-switcher"' in page
    assert "English" in page and "简体中文" in page


@pytest.mark.django_db
def test_choosing_chinese_on_the_login_page_translates_it(client):
    response = _switch(client, ZH, reverse("login"))
    assert response.status_code == 302
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == ZH

    page = client.get(reverse("login")).content.decode()
    assert "登录" in page and "连续五次登录失败后账户将被锁定" in page
    assert "Log in" not in page


def test_a_choice_on_the_login_page_is_saved_on_the_account_that_signs_in(client, coordinator):
    _switch(client, ZH, reverse("login"))
    page = _login(client, "coordinator").content.decode()

    assert UserPreference.objects.get(user=coordinator).language == ZH
    assert "待办清单" in page and "退出登录" in page


def test_the_saved_language_follows_the_user_to_another_browser(
    client, coordinator, django_user_model
):
    client.force_login(coordinator)
    response = _switch(client, ZH, reverse("visits:worklist"))
    assert response.status_code == 302 and response["Location"] == reverse("visits:worklist")
    assert UserPreference.objects.get(user=coordinator).language == ZH

    from django.test import Client

    elsewhere = Client(headers={"accept-language": "en"})  # no cookie, English browser
    page = _login(elsewhere, "coordinator").content.decode()
    assert "待办清单" in page
    assert 'lang="zh-hans"' in page


def test_english_stays_the_default_and_complete(client, coordinator):
    page = _login(client, "coordinator").content.decode()
    assert "Worklist" in page and "Log out" in page
    assert not UserPreference.objects.filter(user=coordinator).exists()

    client.post(reverse("language_set"), {"language": ZH})
    client.post(reverse("language_set"), {"language": "en"})
    page = client.get(reverse("visits:worklist")).content.decode()
    assert UserPreference.objects.get(user=coordinator).language == "en"
    assert "Worklist" in page and "待办清单" not in page


def test_each_users_language_is_their_own(client, coordinator, investigator):
    UserPreference.objects.create(user=investigator, language=ZH)
    client.force_login(coordinator)
    assert "Worklist" in client.get(reverse("visits:worklist")).content.decode()
    client.force_login(investigator)
    assert "受试者" in client.get(reverse("subjects:list")).content.decode()


@pytest.mark.django_db
def test_an_unknown_language_or_a_foreign_next_is_ignored(client):
    response = _switch(client, "klingon", reverse("login"))
    assert settings.LANGUAGE_COOKIE_NAME not in response.cookies
    response = _switch(client, ZH, "https://evil.example/")
    assert response["Location"] == "/"


@pytest.mark.parametrize("language", ["en", ZH])
def test_dates_stay_iso_8601_in_both_languages(language):
    moment = timezone.make_aware(datetime(2026, 3, 1, 14, 30))
    with translation.override(language):
        assert formats.date_format(date(2026, 3, 1)) == "2026-03-01"
        assert formats.date_format(date(2026, 3, 1), "SHORT_DATE_FORMAT") == "2026-03-01"
        assert formats.date_format(timezone.localtime(moment), "DATETIME_FORMAT") == (
            "2026-03-01 14:30"
        )
        assert formats.get_format("DATE_INPUT_FORMATS")[0] == "%Y-%m-%d"


@pytest.mark.django_db
def test_the_javascript_catalogue_translates_the_scripts_words(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = ZH
    script = client.get(reverse("javascript_catalog")).content.decode()
    assert "\\u6b64\\u6b65\\u9aa4" in script or "此步骤" in script  # 此步骤不可撤销
    assert "study day" in script  # the msgid, mapped to its translation


# --- The system's sentences: stored in English, shown translated. ---


def test_a_flag_detail_is_shown_in_the_readers_language():
    stored = flag_text.OVERDUE % {"visit": "V2", "end": "2026-03-01"}
    with translation.override(ZH):
        assert stored_text.display(stored) == "V2 未完成；其访视窗已于 2026-03-01 结束。"
    with translation.override("en"):
        assert stored_text.display(stored) == stored


def test_a_reopened_flag_translates_the_detail_inside_the_note():
    inner = flag_text.MISSED % {"visit": "V5-M1", "reason": "Patient travelling"}
    stored = flag_text.REOPENED % {
        "detail": flag_text.REOPENED
        % {"detail": inner, "resolved": "2026-03-02", "reopened": "2026-03-05"},
        "resolved": "2026-03-08",
        "reopened": "2026-03-09",
    }
    with translation.override(ZH):
        shown = stored_text.display(stored)
    assert shown == (
        "V5-M1 已标记为缺失：Patient travelling"
        "［2026-03-02 已解决，2026-03-05 重新开启］［2026-03-08 已解决，2026-03-09 重新开启］"
    )


def test_a_users_own_words_are_shown_as_typed():
    with translation.override(ZH):
        assert stored_text.display("Corrected after source data verification") == (
            "Corrected after source data verification"
        )
        assert stored_text.display("") == ""


def test_the_checks_store_english_even_when_run_in_chinese(coordinator):
    from safety.checks import checks_run
    from safety.models import Flag, FlagKind

    today = timezone.localdate()
    participant = enrolled(coordinator, planned=today - timedelta(days=10), today=today)
    with translation.override(ZH):
        checks_run(participant_ids=[participant.pk])
    flag = Flag.objects.filter(kind=FlagKind.OVERDUE).first()
    assert flag is not None
    assert "not done; its window ended" in flag.detail
    history = flag.history.first()
    assert history.history_change_reason == "Raised by the checks"
    with translation.override(ZH):
        assert "未完成；其访视窗已于" in flag.detail_display


def test_a_history_reason_of_the_system_is_shown_translated(client, coordinator):
    UserPreference.objects.create(user=coordinator, language=ZH)
    participant = enrolled(coordinator)
    assert participant.history.first().history_change_reason == "Enrolment"
    client.force_login(coordinator)
    page = client.get(reverse("subjects:detail", args=[participant.pk])).content.decode()
    history = page[page.index('data-testid="history"') :]
    assert "<td>入组</td>" in history


def test_each_recipient_reads_the_e_mail_in_their_language(coordinator, investigator):
    from django.core import mail

    from safety.models import Flag, FlagKind
    from safety.notifications import flags_digest_send

    UserPreference.objects.create(user=investigator, language=ZH)
    participant = enrolled(coordinator, planned=timezone.localdate() - timedelta(days=10))
    visit = participant.visits.get(code="V2")
    now = timezone.now()
    Flag.objects.create(
        kind=FlagKind.OVERDUE,
        participant=participant,
        visit=visit,
        detail=flag_text.OVERDUE % {"visit": "V2", "end": "2026-03-01"},
        raised_at=now,
    )
    mail.outbox.clear()
    with translation.override("en"):  # the language of the run does not matter
        assert flags_digest_send(now=now) == 2

    by_address = {m.to[0]: m for m in mail.outbox}
    chinese, english = by_address[investigator.email], by_address[coordinator.email]
    assert "每日摘要" in chinese.subject
    assert "V2 未完成；其访视窗已于 2026-03-01 结束。" in chinese.body
    assert "访视逾期" in chinese.body
    assert "Daily digest" in english.subject
    assert "V2 not done; its window ended 2026-03-01." in english.body


def test_the_saved_language_costs_no_query_per_page(client, coordinator):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    UserPreference.objects.create(user=coordinator, language=ZH)
    client.force_login(coordinator)  # the login copies the preference into the session
    with CaptureQueriesContext(connection) as queries:
        page = client.get(reverse("visits:worklist")).content.decode()
    assert "待办清单" in page
    assert not [q for q in queries if UserPreference._meta.db_table in q["sql"]]
