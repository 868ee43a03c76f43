"""The coordinator's participant pages, through the views (subjects/views/participants.py)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from itp_trial import protocol
from subjects.models import EligibilityAnswer, Participant, SequenceCounter
from tests.factories import all_criteria_met, eligible, enrolled, screened
from visits.models import Visit

pytestmark = pytest.mark.django_db


def days(n: int) -> timedelta:
    return timedelta(days=n)


def today() -> date:
    return timezone.localdate()


def screening_post(**overrides) -> dict:
    consent = overrides.pop("consent_date", today() - days(2))
    data = {
        "screening_date": consent.isoformat(),
        "consent_date": consent.isoformat(),
        "consent_version": "2.1",
        "sex": "F",
        "birth_date": date(consent.year - 36, 3, 15).isoformat(),
        "itp_diagnosis_date": date(consent.year - 4, 6, 1).isoformat(),
        "prior_therapies": "Prednisone, IVIg, eltrombopag, rituximab",
        "height_cm": "162.0",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def errors_of(response) -> list[str]:
    form = response.context["form"]
    return [str(m) for messages in form.errors.values() for m in messages]


@pytest.fixture
def as_coordinator(client, coordinator):
    client.force_login(coordinator)
    return client


def assert_nothing_screened(response, text: str) -> None:
    assert response.status_code == 200
    assert any(text in e for e in errors_of(response)), errors_of(response)
    assert not Participant.objects.exists()
    assert not Visit.objects.exists()
    assert not SequenceCounter.objects.filter(value__gt=0).exists()


# Screening.


def test_it_screens_a_participant_and_allocates_the_identifiers(as_coordinator):
    response = as_coordinator.post(reverse("subjects:screen"), screening_post())

    participant = Participant.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("subjects:detail", args=[participant.pk])
    assert (participant.subject_id, participant.screening_number) == ("ITP-001", "SCR-001")
    assert participant.status == "screening"
    assert participant.guardian_consent is None  # an adult: not applicable
    assert participant.visits.count() == len(protocol.VISITS)
    assert participant.visits.get(code="V1").actual_date == today() - days(2)


def test_it_refuses_a_consent_date_in_the_future(as_coordinator):
    response = as_coordinator.post(
        reverse("subjects:screen"),
        screening_post(consent_date=today() + days(1)),
    )
    assert_nothing_screened(response, "The date cannot be in the future.")


def test_it_refuses_a_screening_visit_before_consent(as_coordinator):
    response = as_coordinator.post(
        reverse("subjects:screen"),
        screening_post(screening_date=(today() - days(3)).isoformat()),
    )
    assert_nothing_screened(response, "The visit cannot be before the consent date.")


CONSENT = date(2025, 3, 10)


@pytest.mark.parametrize(
    ("birth", "age"),
    [
        (date(2021, 3, 11), protocol.AGE_MIN_YEARS - 1),  # four years old the next day
        (date(1949, 3, 10), protocol.AGE_MAX_YEARS + 1),  # 76 on the day of consent
    ],
)
def test_it_refuses_an_age_outside_the_protocol_range(as_coordinator, birth, age):
    response = as_coordinator.post(
        reverse("subjects:screen"),
        screening_post(
            consent_date=CONSENT,
            birth_date=birth.isoformat(),
            itp_diagnosis_date=None,
            guardian_consent="on",
            child_assent="on",
        ),
    )
    assert_nothing_screened(
        response,
        f"Age at consent is {age} years; the trial takes ages "
        f"{protocol.AGE_MIN_YEARS} to {protocol.AGE_MAX_YEARS}.",
    )


def test_it_requires_guardian_consent_and_assent_under_18(as_coordinator):
    consent = today() - days(2)
    response = as_coordinator.post(
        reverse("subjects:screen"),
        screening_post(
            consent_date=consent,
            birth_date=date(consent.year - 10, 1, 1).isoformat(),
            itp_diagnosis_date=date(consent.year - 2, 1, 1).isoformat(),
        ),
    )
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"guardian_consent", "child_assent"}
    assert not Participant.objects.exists()


def test_it_shows_the_computed_age_when_the_form_comes_back(as_coordinator):
    consent = today() - days(2)
    response = as_coordinator.post(
        reverse("subjects:screen"),
        screening_post(consent_date=consent, height_cm="300"),
    )
    assert response.context["age"] == 36
    assert "cm" in response.context["form"].errors["height_cm"][0]
    assert not Participant.objects.exists()


# The list.


def test_it_lists_filters_and_searches_participants(as_coordinator, coordinator):
    first = screened(coordinator)
    second = enrolled(coordinator)

    listed = as_coordinator.get(reverse("subjects:list"))
    assert [p.pk for p, _age in listed.context["rows"]] == [first.pk, second.pk]

    by_status = as_coordinator.get(reverse("subjects:list"), {"status": "screening"})
    assert [p.pk for p, _age in by_status.context["rows"]] == [first.pk]

    by_number = as_coordinator.get(reverse("subjects:list"), {"q": second.screening_number})
    assert [p.pk for p, _age in by_number.context["rows"]] == [second.pk]


def test_it_pages_the_list_by_25(as_coordinator, coordinator):
    for _ in range(26):
        screened(coordinator)

    page_two = as_coordinator.get(reverse("subjects:list"), {"page": 2})

    assert [p.subject_id for p, _age in page_two.context["rows"]] == ["ITP-026"]
    assert page_two.context["page"].paginator.num_pages == 2

    first = as_coordinator.get(reverse("subjects:list"), {"status": "screening"}).content.decode()
    assert "Page 1 of 2" in first
    assert 'href="?status=screening&amp;page=2"' in first


# The record page.


def test_it_shows_the_schedule_on_the_record_page(as_coordinator, coordinator):
    planned = today() + days(7)
    participant = enrolled(coordinator, planned=planned)

    response = as_coordinator.get(reverse("subjects:detail", args=[participant.pk]))

    assert response.status_code == 200
    rows = {r.scheduled.code: r.scheduled for r in response.context["page"].schedule}
    assert list(rows) == list(protocol.VISIT_CODES)
    assert rows["V2"].window_start == planned - days(6 + 1)
    content = response.content.decode()
    assert 'data-visit="V5-M12"' in content
    assert 'class="provisional"' in content
    assert reverse("subjects:withdraw", args=[participant.pk]) in content
    assert reverse("subjects:discontinue", args=[participant.pk]) not in content  # investigators


def test_it_offers_discontinuation_to_investigators(client, investigator):
    participant = enrolled(investigator)
    client.force_login(investigator)

    response = client.get(reverse("subjects:detail", args=[participant.pk]))

    assert reverse("subjects:discontinue", args=[participant.pk]) in response.content.decode()


# Eligibility.


def answers_post(**overrides) -> dict:
    answers = {c: "yes" if met else "no" for c, met in all_criteria_met().items()}
    answers.update(overrides)
    return answers


def test_it_records_the_checklist_and_shows_the_decision(as_coordinator, coordinator):
    participant = screened(coordinator)
    url = reverse("subjects:eligibility", args=[participant.pk])

    response = as_coordinator.post(url, answers_post(E2="yes"), follow=True)

    assert EligibilityAnswer.objects.filter(participant=participant).count() == len(
        protocol.CRITERIA
    )
    participant.refresh_from_db()
    assert participant.eligible is False
    assert participant.status == "screen_failed"
    assert response.context["decision"].failed == ("E2",)
    assert 'data-decision="screen_failed"' in response.content.decode()


def test_it_offers_i2_as_computed_from_the_dates(as_coordinator, coordinator):
    participant = screened(coordinator)
    response = as_coordinator.get(reverse("subjects:eligibility", args=[participant.pk]))
    form = response.context["form"]
    assert form.initial[protocol.AGE_CRITERION_CODE] == "yes"
    assert "aged 36 at consent" in form.fields[protocol.AGE_CRITERION_CODE].help_text


def test_it_refuses_an_i2_answer_that_contradicts_the_dates(as_coordinator, coordinator):
    participant = screened(coordinator)

    response = as_coordinator.post(
        reverse("subjects:eligibility", args=[participant.pk]),
        answers_post(**{protocol.AGE_CRITERION_CODE: "no"}),
    )

    assert response.status_code == 200
    assert response.context["form"].errors[protocol.AGE_CRITERION_CODE] == [
        "I2 contradicts the dates: age at consent is 36 years, so I2 is met."
    ]
    assert not EligibilityAnswer.objects.exists()
    participant.refresh_from_db()
    assert participant.eligible is None


def test_it_needs_a_reason_to_change_the_checklist(as_coordinator, coordinator):
    participant = eligible(coordinator)
    url = reverse("subjects:eligibility", args=[participant.pk])

    response = as_coordinator.post(url, answers_post(E1="yes"))

    assert "reason" in response.context["form"].errors
    assert EligibilityAnswer.objects.get(participant=participant, criterion="E1").met is False


# Enrolment.


def test_it_enrols_after_a_confirmation_showing_the_windows(as_coordinator, coordinator):
    participant = eligible(coordinator)
    url = reverse("subjects:enrol", args=[participant.pk])
    planned = today() + days(10)

    confirm = as_coordinator.post(
        url,
        {"enrolled_on": today().isoformat(), "planned_first_infusion_date": planned.isoformat()},
    )

    assert confirm.status_code == 200
    preview = {s.code: s for s, _label in confirm.context["preview"]}
    assert preview["V3-INF1"].window_start == planned
    participant.refresh_from_db()
    assert participant.enrolled_on is None

    done = as_coordinator.post(
        url,
        {
            "enrolled_on": today().isoformat(),
            "planned_first_infusion_date": planned.isoformat(),
            "confirm": "on",
        },
    )

    assert done.status_code == 302
    participant.refresh_from_db()
    assert (participant.enrolled_on, participant.planned_first_infusion_date) == (today(), planned)
    assert participant.status == "enrolled"


def test_it_refuses_the_41st_enrolment(as_coordinator, coordinator):
    consent = today() - days(20)
    Participant.objects.bulk_create(
        Participant(
            subject_id=f"FULL-{n:03d}",
            screening_number=f"FULL-S{n:03d}",
            sex="M",
            birth_date=date(1980, 1, 1),
            consent_date=consent,
            consent_version="2.1",
            eligible=True,
            enrolled_on=consent,
            planned_first_infusion_date=today(),
            status="enrolled",
        )
        for n in range(protocol.ENROLMENT_CAP)
    )
    participant = eligible(coordinator)

    response = as_coordinator.post(
        reverse("subjects:enrol", args=[participant.pk]),
        {
            "enrolled_on": today().isoformat(),
            "planned_first_infusion_date": (today() + days(7)).isoformat(),
            "confirm": "on",
        },
    )

    assert response.status_code == 200
    assert errors_of(response) == [
        "Enrolment is closed: the trial has reached its target of 40 participants."
    ]
    participant.refresh_from_db()
    assert participant.enrolled_on is None
    assert participant.planned_first_infusion_date is None
    assert participant.status == "screening"
    assert Participant.objects.filter(enrolled_on__isnull=False).count() == protocol.ENROLMENT_CAP


def test_it_offers_today_as_the_enrolment_date(as_coordinator, coordinator):
    participant = eligible(coordinator)

    page = as_coordinator.get(reverse("subjects:enrol", args=[participant.pk]))

    assert page.context["form"]["enrolled_on"].value() == today()


def test_it_records_an_enrolment_back_entered_from_paper(as_coordinator, coordinator):
    consent = today() - days(30)
    participant = eligible(coordinator, consent_date=consent)
    planned = today() + days(3)

    done = as_coordinator.post(
        reverse("subjects:enrol", args=[participant.pk]),
        {
            "enrolled_on": consent.isoformat(),
            "planned_first_infusion_date": planned.isoformat(),
            "confirm": "on",
        },
    )

    assert done.status_code == 302
    participant.refresh_from_db()
    assert participant.enrolled_on == consent
    assert participant.history.first().enrolled_on == consent


@pytest.mark.parametrize(
    "enrolled_from_today, text",
    [
        (1, "The date cannot be in the future."),
        (-31, "The enrolment cannot be before the consent date"),
    ],
    ids=["tomorrow", "the day before consent"],
)
def test_it_refuses_an_enrolment_in_the_future_or_before_consent(
    as_coordinator, coordinator, enrolled_from_today, text
):
    participant = eligible(coordinator, consent_date=today() - days(30))
    history = participant.history.count()

    response = as_coordinator.post(
        reverse("subjects:enrol", args=[participant.pk]),
        {
            "enrolled_on": (today() + days(enrolled_from_today)).isoformat(),
            "planned_first_infusion_date": (today() + days(3)).isoformat(),
            "confirm": "on",
        },
    )

    assert response.status_code == 200
    assert any(text in e for e in response.context["form"].errors["enrolled_on"])
    participant.refresh_from_db()
    assert (participant.enrolled_on, participant.planned_first_infusion_date) == (None, None)
    assert participant.status == "screening"
    assert participant.history.count() == history


@pytest.mark.parametrize(
    "enrolled_from_consent, accepted",
    [(-1, False), (0, True), (30, True), (31, False)],
    ids=["day before consent", "consent day", "today", "tomorrow"],
)
def test_it_dates_the_enrolment_between_consent_and_today(
    coordinator, enrolled_from_consent, accepted
):
    from django.core.exceptions import ValidationError

    from subjects.services import participant_enrol

    now = today()
    consent = now - days(30)
    participant = eligible(coordinator, consent_date=consent, today=now)
    on = consent + days(enrolled_from_consent)

    def enrol():
        participant_enrol(
            participant=participant,
            user=coordinator,
            planned_first_infusion_date=now + days(3),
            enrolled_on=on,
            today=now,
        )

    if accepted:
        enrol()
    else:
        with pytest.raises(ValidationError) as refused:
            enrol()
        assert "enrolled_on" in refused.value.message_dict
    participant.refresh_from_db()
    assert participant.enrolled_on == (on if accepted else None)
    assert participant.status == ("enrolled" if accepted else "screening")


# Editing the screening data, withdrawal, discontinuation.


def test_it_changes_screening_data_with_a_reason(as_coordinator, coordinator):
    participant = screened(coordinator)
    url = reverse("subjects:edit", args=[participant.pk])
    post = screening_post(consent_date=participant.consent_date, consent_version="2.2")
    post.pop("screening_date")

    refused = as_coordinator.post(url, post)
    assert "reason" in refused.context["form"].errors
    participant.refresh_from_db()
    assert participant.consent_version == "2.1"

    as_coordinator.post(url, {**post, "reason": "Version misread"})
    participant.refresh_from_db()
    assert participant.consent_version == "2.2"
    assert participant.history.first().history_change_reason == "Version misread"


def test_it_withdraws_a_participant_and_keeps_the_data(as_coordinator, coordinator):
    participant = enrolled(coordinator)

    response = as_coordinator.post(
        reverse("subjects:withdraw", args=[participant.pk]),
        {"on": today().isoformat(), "withdrawal_reason": "withdrew_consent", "detail": "Moved"},
    )

    assert response.status_code == 302
    participant.refresh_from_db()
    assert (participant.withdrawal_date, participant.withdrawal_reason) == (
        today(),
        "withdrew_consent",
    )
    assert participant.status == "withdrawn"
    assert participant.visits.get(code="V1").actual_date is not None
    assert participant.visits.get(code="V2").window_status == "not_expected"


def test_it_refuses_a_withdrawal_dated_in_the_future(as_coordinator, coordinator):
    participant = enrolled(coordinator)

    response = as_coordinator.post(
        reverse("subjects:withdraw", args=[participant.pk]),
        {"on": (today() + days(1)).isoformat(), "withdrawal_reason": "other"},
    )

    assert response.context["form"].errors["on"] == ["The date cannot be in the future."]
    participant.refresh_from_db()
    assert participant.withdrawal_date is None


def test_it_lets_only_investigators_discontinue_treatment(client, coordinator, investigator):
    participant = enrolled(coordinator)
    url = reverse("subjects:discontinue", args=[participant.pk])
    post = {"on": today().isoformat(), "reason": "Thrombosis"}

    client.force_login(coordinator)
    assert client.post(url, post).status_code == 403
    participant.refresh_from_db()
    assert participant.treatment_discontinued_date is None

    client.force_login(investigator)
    assert client.post(url, post).status_code == 302
    participant.refresh_from_db()
    assert participant.treatment_discontinued_date == today()
    assert participant.status == "follow_up"


def test_it_keeps_monitors_read_only(client, monitor, coordinator):
    participant = screened(coordinator)
    client.force_login(monitor)

    assert client.get(reverse("subjects:detail", args=[participant.pk])).status_code == 200
    assert client.post(reverse("subjects:screen"), screening_post()).status_code == 403
    response = client.post(reverse("subjects:eligibility", args=[participant.pk]), answers_post())
    assert response.status_code == 403
    assert not EligibilityAnswer.objects.exists()


def test_the_list_queries_do_not_grow_with_the_participants(as_coordinator):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.factories import schedules_bulk

    today = timezone.localdate()
    visits = {"V1": ("in_window", -40), "V2": ("overdue", -3), "V4": ("overdue", -1)}
    counts = []
    for n, prefix in ((5, "A"), (195, "B")):
        schedules_bulk(participants=n, visits=visits, today=today, prefix=prefix)
        with CaptureQueriesContext(connection) as queries:
            response = as_coordinator.get(reverse("subjects:list"))
        assert response.status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1] and counts[0] > 0, counts
    page = response.context["page"]
    assert page.paginator.count == 200
    assert {p.overdue_visits for p in page.object_list} == {2}
    assert all(p.screening_date is not None for p in page.object_list)
    # The count reads the participants alone: no join over their visits.
    count_sql = [
        q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT COUNT(*)")
    ]
    assert count_sql and all("visits_visit" not in sql for sql in count_sql)
