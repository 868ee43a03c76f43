"""The visit pages through the views: one page per visit, missed visits, unscheduled counts
(visits/views.py)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from itp_trial import protocol
from subjects.services import participant_withdraw, treatment_discontinue
from tests.factories import enrolled, infused
from visits.models import PlateletCount, Visit, WindowStatus

pytestmark = pytest.mark.django_db

EOT = next(v.code for v in protocol.VISITS if v.kind == protocol.KIND_END_OF_TREATMENT)


def days(n: int) -> timedelta:
    return timedelta(days=n)


def today() -> date:
    return timezone.localdate()


def visit_of(participant, code: str) -> Visit:
    return Visit.objects.get(participant=participant, code=code)


def edit_url(visit: Visit) -> str:
    return reverse("visits:edit", args=[visit.pk])


def baseline_post(on: date, **overrides) -> dict:
    data = {
        "actual_date": on.isoformat(),
        "systolic_bp": "112",
        "diastolic_bp": "70",
        "heart_rate": "88",
        "respiratory_rate": "18",
        "temperature_c": "36.8",
        "weight_kg": "31.5",
        "height_cm": "135.0",
        "platelets": "14",
        "who_bleeding_grade": "1",
        "physical_exam_normal": "yes",
    }
    data.update(overrides)
    return data


def form_errors(response) -> list[str]:
    form = response.context["form"]
    return [str(m) for messages in form.errors.values() for m in messages]


@pytest.fixture
def as_coordinator(client, coordinator):
    client.force_login(coordinator)
    return client


@pytest.fixture
def participant(coordinator):
    """Enrolled with infusion 1 planned in a week: V2's window opens today."""
    return enrolled(coordinator, planned=today() + days(7))


def assert_visit_untouched(visit: Visit) -> None:
    stored = Visit.objects.get(pk=visit.pk)
    assert stored.actual_date is None
    assert stored.weight_kg is None
    assert stored.history.count() == 1  # created at screening, nothing since
    assert not PlateletCount.objects.filter(participant_id=visit.participant_id).exists()


def test_it_saves_the_baseline_visit(as_coordinator, participant):
    visit = visit_of(participant, "V2")

    response = as_coordinator.post(edit_url(visit), baseline_post(today()))

    assert response.status_code == 302
    assert response["Location"] == reverse("subjects:detail", args=[participant.pk])
    visit.refresh_from_db()
    assert visit.actual_date == today()
    assert str(visit.weight_kg) == "31.5"
    assert visit.physical_exam_normal is True
    assert visit.window_status == WindowStatus.IN_WINDOW
    count = PlateletCount.objects.get(visit=visit)
    assert (count.platelets, count.who_bleeding_grade, count.sample_date) == (14, 1, today())


def test_it_warns_before_saving_a_visit_outside_its_window(as_coordinator, coordinator):
    participant = enrolled(coordinator, planned=today() + days(10))
    visit = visit_of(participant, "V2")  # window: today+3 .. today+10

    warned = as_coordinator.post(edit_url(visit), baseline_post(today()))

    assert warned.status_code == 200
    assert "before the visit&#x27;s window" in warned.content.decode()
    assert 'data-testid="window-warning"' in warned.content.decode()
    assert_visit_untouched(visit)

    saved = as_coordinator.post(edit_url(visit), baseline_post(today(), save_anyway="on"))

    assert saved.status_code == 302
    visit.refresh_from_db()
    assert visit.actual_date == today()
    assert visit.window_status == WindowStatus.EARLY


def test_it_refuses_a_visit_date_in_the_future(as_coordinator, participant):
    visit = visit_of(participant, "V2")

    response = as_coordinator.post(edit_url(visit), baseline_post(today() + days(1)))

    assert response.status_code == 200
    assert response.context["form"].errors["actual_date"] == ["The date cannot be in the future."]
    assert_visit_untouched(visit)


def test_it_refuses_a_visit_before_consent(as_coordinator, participant):
    visit = visit_of(participant, "V2")
    before = participant.consent_date - days(1)

    response = as_coordinator.post(edit_url(visit), baseline_post(before, save_anyway="on"))

    assert response.status_code == 200
    assert (
        f"The date cannot be before the consent date ({participant.consent_date.isoformat()})."
        in form_errors(response)
    )
    assert_visit_untouched(visit)


def test_it_refuses_a_visit_after_withdrawal(as_coordinator, coordinator, participant):
    participant_withdraw(
        participant=participant, user=coordinator, on=today(), withdrawal_reason="death"
    )
    visit = visit_of(participant, "V2")

    response = as_coordinator.post(edit_url(visit), baseline_post(today()))

    assert response.status_code == 200
    assert form_errors(response) == [
        f"The participant withdrew on {today().isoformat()}: this visit is no longer expected "
        "and cannot be recorded."
    ]
    assert_visit_untouched(visit)


def test_it_refuses_numbers_out_of_range_with_clear_messages(as_coordinator, participant):
    visit = visit_of(participant, "V2")
    low_rate = protocol.VITAL_RANGES["heart_rate"][0] - 1

    response = as_coordinator.post(
        edit_url(visit), baseline_post(today(), heart_rate=str(low_rate), platelets="2001")
    )

    errors = response.context["form"].errors
    assert errors["heart_rate"] == [
        f"Heart rate must be between 30 and 220 /min; {low_rate} was entered."
    ]
    assert errors["platelets"] == [
        "Platelets (10⁹/L) must be between 0 and 2000 ×10⁹/L; 2001 was entered."
    ]
    assert_visit_untouched(visit)


def test_it_asks_for_the_bleeding_grade_with_a_count(as_coordinator, participant):
    visit = visit_of(participant, "V2")

    response = as_coordinator.post(edit_url(visit), baseline_post(today(), who_bleeding_grade=""))

    assert "who_bleeding_grade" in response.context["form"].errors
    assert_visit_untouched(visit)


def test_it_needs_a_reason_to_edit_a_saved_visit(as_coordinator, participant):
    visit = visit_of(participant, "V2")
    as_coordinator.post(edit_url(visit), baseline_post(today()))

    page = as_coordinator.get(edit_url(visit))
    assert "reason" in page.context["form"].fields

    refused = as_coordinator.post(edit_url(visit), baseline_post(today(), weight_kg="32.0"))
    assert "reason" in refused.context["form"].errors
    visit.refresh_from_db()
    assert str(visit.weight_kg) == "31.5"

    as_coordinator.post(
        edit_url(visit), baseline_post(today(), weight_kg="32.0", reason="Weighed again")
    )
    visit.refresh_from_db()
    assert str(visit.weight_kg) == "32.0"
    assert visit.history.first().history_change_reason == "Weighed again"


@pytest.fixture
def end_of_treatment(coordinator, investigator):
    """Infusion 1 given 10 days ago, then treatment discontinued: V4 is due."""
    participant = enrolled(coordinator, planned=today() - days(10))
    infused(coordinator, participant, 1)
    treatment_discontinue(
        participant=participant, user=investigator, on=today() - days(10), reason="Thrombosis"
    )
    return visit_of(participant, EOT)


def follow_up_post(on: date, **overrides) -> dict:
    data = {
        "actual_date": on.isoformat(),
        "systolic_bp": "120",
        "weight_kg": "60.0",
        "platelets": "45",
        "who_bleeding_grade": "0",
        "new_adverse_event": "no",
        "medication_change": "no",
    }
    data.update(overrides)
    return data


def test_it_opens_the_adverse_event_form_when_one_is_reported(as_coordinator, end_of_treatment):
    visit = end_of_treatment
    on = visit.window_start

    response = as_coordinator.post(edit_url(visit), follow_up_post(on, new_adverse_event="yes"))

    assert response.status_code == 302
    assert response["Location"] == reverse(
        "safety:ae_create", kwargs={"participant_id": visit.participant_id}
    )
    visit.refresh_from_db()
    assert (visit.actual_date, visit.new_adverse_event) == (on, True)


def test_it_opens_the_medication_form_when_a_change_is_reported(as_coordinator, end_of_treatment):
    visit = end_of_treatment

    response = as_coordinator.post(
        edit_url(visit), follow_up_post(visit.window_start, medication_change="yes")
    )

    assert response["Location"] == reverse(
        "safety:conmed_create", kwargs={"participant_id": visit.participant_id}
    )
    visit.refresh_from_db()
    assert visit.medication_change is True


def test_it_asks_both_follow_up_questions(as_coordinator, end_of_treatment):
    visit = end_of_treatment
    post = follow_up_post(visit.window_start)
    del post["new_adverse_event"]

    response = as_coordinator.post(edit_url(visit), post)

    assert "new_adverse_event" in response.context["form"].errors
    visit.refresh_from_db()
    assert visit.actual_date is None


def test_it_sends_an_infusion_visit_to_the_infusion_form(as_coordinator, participant):
    visit = visit_of(participant, protocol.INFUSION_VISIT_CODES[2])

    response = as_coordinator.get(edit_url(visit))

    assert response["Location"] == reverse(
        "infusions:record", kwargs={"participant_id": participant.pk, "number": 2}
    )


# Missed visits.


def test_it_marks_a_visit_missed(as_coordinator, participant):
    visit = visit_of(participant, "V2")

    response = as_coordinator.post(
        reverse("visits:missed", args=[visit.pk]), {"missed_reason": "Typhoon"}
    )

    assert response.status_code == 302
    visit.refresh_from_db()
    assert (visit.missed, visit.missed_reason, visit.window_status) == (True, "Typhoon", "missed")


def test_it_refuses_to_mark_a_visit_missed_without_a_reason(as_coordinator, participant):
    visit = visit_of(participant, "V2")

    response = as_coordinator.post(reverse("visits:missed", args=[visit.pk]), {"missed_reason": ""})

    assert "missed_reason" in response.context["form"].errors
    visit.refresh_from_db()
    assert visit.missed is False


def test_it_refuses_to_mark_an_infusion_missed(as_coordinator, participant):
    visit = visit_of(participant, protocol.INFUSION_VISIT_CODES[1])

    response = as_coordinator.post(
        reverse("visits:missed", args=[visit.pk]), {"missed_reason": "Sick"}
    )

    assert any("never marked missed" in e for e in form_errors(response))
    visit.refresh_from_db()
    assert visit.missed is False


# Unscheduled platelet results.


def test_it_records_an_unscheduled_platelet_result(as_coordinator, participant):
    response = as_coordinator.post(
        reverse("visits:platelet_unscheduled", args=[participant.pk]),
        {"sample_date": today().isoformat(), "platelets": "9", "who_bleeding_grade": "2"},
    )

    assert response.status_code == 302
    count = PlateletCount.objects.get(participant=participant)
    assert (count.sample_date, count.platelets, count.who_bleeding_grade, count.visit) == (
        today(),
        9,
        2,
        None,
    )


def test_it_refuses_an_unscheduled_result_dated_in_the_future(as_coordinator, participant):
    response = as_coordinator.post(
        reverse("visits:platelet_unscheduled", args=[participant.pk]),
        {"sample_date": (today() + days(1)).isoformat(), "platelets": "9"},
    )

    assert response.context["form"].errors["sample_date"] == ["The date cannot be in the future."]
    assert not PlateletCount.objects.exists()


def test_it_shows_the_counts_with_their_iwg_category(as_coordinator, coordinator):
    participant = enrolled(coordinator, planned=today() - days(20), consent_date=today() - days(40))
    baseline = visit_of(participant, "V2")
    as_coordinator.post(edit_url(baseline), baseline_post(today() - days(21), platelets="12"))
    infused(coordinator, participant, 1)
    for offset, value in ((10, 150), (3, 160)):
        as_coordinator.post(
            reverse("visits:platelet_unscheduled", args=[participant.pk]),
            {
                "sample_date": (today() - days(offset)).isoformat(),
                "platelets": str(value),
                "who_bleeding_grade": "0",
            },
        )

    page = as_coordinator.get(reverse("subjects:detail", args=[participant.pk])).context["page"]

    assert [(r.visit_code, r.count.platelets, r.category) for r in page.platelets] == [
        ("V2", 12, None),
        (protocol.UNSCHEDULED_VISIT_CODE, 150, "CR"),
        (protocol.UNSCHEDULED_VISIT_CODE, 160, "CR"),
    ]
    assert page.response.baseline == 12
    assert page.response.best_response == "CR"


def test_it_shows_every_refusal_in_one_round(as_coordinator, participant):
    visit = visit_of(participant, "V2")
    as_coordinator.post(edit_url(visit), baseline_post(today()))

    response = as_coordinator.post(edit_url(visit), baseline_post(today(), weight_kg="300.0"))

    errors = response.context["form"].errors
    assert set(errors) == {"reason", "weight_kg"}
    assert errors["weight_kg"] == [
        "Weight (kg) must be between 10.0 and 200.0 kg; 300.0 was entered."
    ]
    visit.refresh_from_db()
    assert str(visit.weight_kg) == "31.5"


def test_it_changes_the_screening_date_only_with_a_reason(as_coordinator, participant):
    visit = visit_of(participant, "V1")
    later = participant.consent_date + days(1)

    refused = as_coordinator.post(edit_url(visit), {"actual_date": later.isoformat()})

    assert "reason" in refused.context["form"].errors
    visit.refresh_from_db()
    assert visit.actual_date == participant.consent_date

    as_coordinator.post(
        edit_url(visit), {"actual_date": later.isoformat(), "reason": "Typed the consent date"}
    )
    visit.refresh_from_db()
    assert visit.actual_date == later


def test_it_refuses_a_new_count_saved_by_someone_else_at_the_same_instant(
    as_coordinator, participant, monkeypatch
):
    """Two people enter the same new count at once: both pass validation, one insert wins;
    the other is told so, not shown a server error (the unique violation path)."""
    original = PlateletCount.full_clean

    def racing_full_clean(self, *args, **kwargs):
        original(self, *args, **kwargs)
        if self.pk is None:  # the other writer's row lands between the check and the insert
            PlateletCount.objects.bulk_create(
                [
                    PlateletCount(
                        participant_id=self.participant_id,
                        sample_date=self.sample_date,
                        platelets=180,
                        who_bleeding_grade=0,
                    )
                ]
            )

    monkeypatch.setattr(PlateletCount, "full_clean", racing_full_clean)

    response = as_coordinator.post(
        reverse("visits:platelet_unscheduled", args=[participant.pk]),
        {"sample_date": today().isoformat(), "platelets": "9", "who_bleeding_grade": "2"},
    )

    assert response.status_code == 200
    assert any(
        "Someone else saved this record at the same moment" in e for e in form_errors(response)
    )
    assert not PlateletCount.objects.filter(participant=participant, platelets=9).exists()
    assert not PlateletCount.history.filter(platelets=9).exists()
