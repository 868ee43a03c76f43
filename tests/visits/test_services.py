"""Visit data entry, missed visits and platelet counts through visits.services."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from itp_trial import protocol
from subjects.services import eligibility_record, participant_withdraw
from tests.factories import all_criteria_met, enrolled, infused, screened
from visits.models import PlateletCount, Visit, WindowStatus
from visits.services import platelet_record, visit_mark_missed, visit_record, visit_validate

pytestmark = pytest.mark.django_db

TODAY = date(2026, 5, 4)
BASELINE = "V2"
INF1 = protocol.INFUSION_VISIT_CODES[1]
EOT = next(v.code for v in protocol.VISITS if v.kind == protocol.KIND_END_OF_TREATMENT)


def days(n: int) -> timedelta:
    return timedelta(days=n)


def visit_of(participant, code: str) -> Visit:
    return Visit.objects.get(participant=participant, code=code)


def baseline_data(on: date, **overrides) -> dict:
    data = {
        "actual_date": on,
        "systolic_bp": 118,
        "diastolic_bp": 76,
        "heart_rate": 72,
        "respiratory_rate": 16,
        "temperature_c": Decimal("36.6"),
        "weight_kg": Decimal("58.5"),
        "height_cm": Decimal("162.0"),
        "platelets": 18,
        "who_bleeding_grade": 1,
        "physical_exam_normal": True,
        "physical_exam_findings": "",
    }
    data.update(overrides)
    return data


@pytest.fixture
def participant(coordinator):
    """Enrolled today with infusion 1 planned in a week: V2's window is today .. +7."""
    return enrolled(coordinator, planned=TODAY + days(7), today=TODAY)


def test_it_records_the_baseline_visit_with_its_platelet_count(coordinator, participant):
    visit = visit_of(participant, BASELINE)

    written = visit_record(visit=visit, user=coordinator, data=baseline_data(TODAY), today=TODAY)

    assert written is True
    visit.refresh_from_db()
    assert visit.actual_date == TODAY
    assert visit.weight_kg == Decimal("58.5")
    assert visit.window_status == WindowStatus.IN_WINDOW
    count = PlateletCount.objects.get(participant=participant)
    assert (count.sample_date, count.platelets, count.who_bleeding_grade) == (TODAY, 18, 1)
    assert count.visit_id == visit.pk
    assert visit.history.first().history_change_reason == "Visit entered"
    assert visit.history.first().history_user == coordinator


def test_it_accepts_the_strings_of_a_csv_row(coordinator, participant):
    visit = visit_of(participant, BASELINE)

    visit_record(
        visit=visit,
        user=coordinator,
        data={
            "actual_date": TODAY.isoformat(),
            "weight_kg": "58.5",
            "platelets": "18",
            "who_bleeding_grade": "1",
        },
        today=TODAY,
    )

    visit.refresh_from_db()
    assert visit.actual_date == TODAY and visit.weight_kg == Decimal("58.5")
    count = PlateletCount.objects.get(visit=visit)
    assert (count.platelets, count.who_bleeding_grade) == (18, 1)


def assert_refused(visit: Visit, *, data: dict, user, field: str, text: str) -> None:
    before = Visit.objects.filter(pk=visit.pk).values().get()
    counts = PlateletCount.objects.count()
    history = visit.history.count()
    with pytest.raises(ValidationError) as refused:
        visit_record(visit=visit, user=user, data=data, today=TODAY)
    assert any(text in m for m in refused.value.message_dict[field]), refused.value
    assert Visit.objects.filter(pk=visit.pk).values().get() == before
    assert PlateletCount.objects.count() == counts
    assert visit.history.count() == history


def test_it_refuses_a_visit_date_in_the_future(coordinator, participant):
    assert_refused(
        visit_of(participant, BASELINE),
        data=baseline_data(TODAY + days(1)),
        user=coordinator,
        field="actual_date",
        text="cannot be in the future",
    )


def test_it_refuses_a_visit_before_consent(coordinator, participant):
    assert_refused(
        visit_of(participant, BASELINE),
        data=baseline_data(participant.consent_date - days(1)),
        user=coordinator,
        field="actual_date",
        text="cannot be before the consent date",
    )


def test_it_refuses_a_visit_before_an_earlier_visit(coordinator):
    participant = screened(coordinator, today=TODAY)
    screening = visit_of(participant, "V1")
    visit_record(
        visit=screening,
        user=coordinator,
        data={"actual_date": participant.consent_date + days(5)},
        reason="V1 was the week after consent",
        today=TODAY,
    )

    assert_refused(
        visit_of(participant, BASELINE),
        data=baseline_data(participant.consent_date + days(2)),
        user=coordinator,
        field="actual_date",
        text="cannot be before V1",
    )


def test_it_refuses_a_baseline_after_infusion_1(coordinator):
    participant = enrolled(coordinator, planned=TODAY - days(3), today=TODAY)
    infused(coordinator, participant, 1, today=TODAY)

    assert_refused(
        visit_of(participant, BASELINE),
        data=baseline_data(TODAY - days(1)),
        user=coordinator,
        field="actual_date",
        text="cannot be after V3-INF1",
    )


def test_it_refuses_numbers_out_of_range_with_their_units(coordinator, participant):
    visit = visit_of(participant, BASELINE)
    data = baseline_data(
        TODAY,
        systolic_bp=300,
        temperature_c=Decimal("45.0"),
        weight_kg=Decimal("5.0"),
        platelets=2500,
        who_bleeding_grade=5,
    )
    with pytest.raises(ValidationError) as refused:
        visit_record(visit=visit, user=coordinator, data=data, today=TODAY)

    errors = refused.value.message_dict
    assert errors["systolic_bp"] == [
        "Systolic BP must be between 50 and 250 mmHg; 300 was entered."
    ]
    assert "°C" in errors["temperature_c"][0]
    assert "kg" in errors["weight_kg"][0]
    assert "between 0 and 2000 ×10⁹/L" in errors["platelets"][0]
    assert "between 0 and 4" in errors["who_bleeding_grade"][0]
    visit.refresh_from_db()
    assert visit.actual_date is None
    assert not PlateletCount.objects.exists()


def test_it_accepts_vital_signs_at_the_edges_of_their_ranges(coordinator, participant):
    visit = visit_of(participant, BASELINE)
    lows = {name: low for name, (low, _high) in protocol.VITAL_RANGES.items()}

    visit_record(visit=visit, user=coordinator, data=baseline_data(TODAY, **lows), today=TODAY)

    visit.refresh_from_db()
    assert visit.systolic_bp == protocol.VITAL_RANGES["systolic_bp"][0]


def test_it_refuses_an_abnormal_examination_without_findings(coordinator, participant):
    assert_refused(
        visit_of(participant, BASELINE),
        data=baseline_data(TODAY, physical_exam_normal=False),
        user=coordinator,
        field="physical_exam_findings",
        text="Describe the abnormal findings",
    )


def test_it_refuses_an_infusion_visit(coordinator, participant):
    visit = visit_of(participant, INF1)
    with pytest.raises(ValidationError, match="recorded with its infusion"):
        visit_record(visit=visit, user=coordinator, data={"actual_date": TODAY}, today=TODAY)
    visit.refresh_from_db()
    assert visit.actual_date is None


def test_it_refuses_a_visit_of_a_screen_failure(coordinator):
    participant = screened(coordinator, today=TODAY)
    eligibility_record(
        participant=participant,
        user=coordinator,
        answers={**all_criteria_met(), "E3": True},
        today=TODAY,
    )
    visit = visit_of(participant, BASELINE)
    with pytest.raises(ValidationError, match="screen failure has no visits"):
        visit_record(visit=visit, user=coordinator, data=baseline_data(TODAY), today=TODAY)
    visit.refresh_from_db()
    assert visit.actual_date is None


def test_it_refuses_a_visit_after_withdrawal(coordinator, participant):
    participant_withdraw(
        participant=participant,
        user=coordinator,
        on=TODAY,
        withdrawal_reason="withdrew_consent",
        today=TODAY,
    )
    visit = visit_of(participant, BASELINE)
    with pytest.raises(ValidationError, match="withdrew on 2026-05-04"):
        visit_record(visit=visit, user=coordinator, data=baseline_data(TODAY), today=TODAY)
    visit.refresh_from_db()
    assert visit.actual_date is None
    assert not PlateletCount.objects.exists()


def test_it_lets_an_overdue_visit_be_entered_after_withdrawal_but_not_dated_after_it(
    coordinator,
):
    # Infusion 1 was planned 20 days ago and not given: V2 is overdue, and stays overdue
    # after a withdrawal 5 days ago, since its target is before the withdrawal.
    participant = enrolled(
        coordinator, planned=TODAY - days(20), today=TODAY, consent_date=TODAY - days(40)
    )
    participant_withdraw(
        participant=participant,
        user=coordinator,
        on=TODAY - days(5),
        withdrawal_reason="lost_to_follow_up",
        today=TODAY,
    )
    visit = visit_of(participant, BASELINE)
    assert visit.window_status == WindowStatus.OVERDUE

    assert_refused(
        visit,
        data=baseline_data(TODAY - days(3)),
        user=coordinator,
        field="actual_date",
        text="nothing can be dated after withdrawal",
    )
    visit_record(visit=visit, user=coordinator, data=baseline_data(TODAY - days(21)), today=TODAY)
    visit.refresh_from_db()
    assert visit.actual_date == TODAY - days(21)
    assert visit.window_status == WindowStatus.IN_WINDOW


def test_it_tells_a_visit_outside_its_window_and_records_it(coordinator):
    participant = enrolled(coordinator, planned=TODAY + days(10), today=TODAY)
    visit = visit_of(participant, BASELINE)  # window: TODAY+3 .. TODAY+10

    assert visit_validate(visit=visit, data=baseline_data(TODAY), today=TODAY) == "early"
    visit_record(visit=visit, user=coordinator, data=baseline_data(TODAY), today=TODAY)

    visit.refresh_from_db()
    assert visit.window_status == WindowStatus.EARLY


def test_it_needs_a_reason_to_change_an_entered_visit(coordinator, participant):
    visit = visit_of(participant, BASELINE)
    visit_record(visit=visit, user=coordinator, data=baseline_data(TODAY), today=TODAY)

    with pytest.raises(ValidationError) as refused:
        visit_record(
            visit=visit,
            user=coordinator,
            data=baseline_data(TODAY, weight_kg=Decimal("59.0")),
            today=TODAY,
        )
    assert "reason" in refused.value.message_dict
    visit.refresh_from_db()
    assert visit.weight_kg == Decimal("58.5")

    written = visit_record(
        visit=visit,
        user=coordinator,
        data=baseline_data(TODAY, weight_kg=Decimal("59.0")),
        reason="Scale recalibrated",
        today=TODAY,
    )
    assert written is True
    visit.refresh_from_db()
    assert visit.weight_kg == Decimal("59.0")
    assert visit.history.first().history_change_reason == "Scale recalibrated"


def test_it_writes_nothing_when_nothing_changed(coordinator, participant):
    visit = visit_of(participant, BASELINE)
    visit_record(visit=visit, user=coordinator, data=baseline_data(TODAY), today=TODAY)
    history = visit.history.count()

    assert (
        visit_record(visit=visit, user=coordinator, data=baseline_data(TODAY), today=TODAY) is False
    )
    assert visit.history.count() == history


def test_it_moves_the_visit_count_with_the_visit_date(coordinator, participant):
    visit = visit_of(participant, BASELINE)
    visit_record(visit=visit, user=coordinator, data=baseline_data(TODAY), today=TODAY)
    later = TODAY + days(1)

    visit_record(
        visit=visit,
        user=coordinator,
        data=baseline_data(later, platelets=22),
        reason="Date typed wrong",
        today=later,
    )

    counts = list(
        PlateletCount.objects.filter(participant=participant).values_list(
            "sample_date", "platelets", "visit_id"
        )
    )
    assert counts == [(later, 22, visit.pk)]


def test_it_refuses_to_remove_a_recorded_count(coordinator, participant):
    visit = visit_of(participant, BASELINE)
    visit_record(visit=visit, user=coordinator, data=baseline_data(TODAY), today=TODAY)

    with pytest.raises(ValidationError) as refused:
        visit_record(
            visit=visit,
            user=coordinator,
            data=baseline_data(TODAY, platelets=None, who_bleeding_grade=None),
            reason="No count",
            today=TODAY,
        )
    assert "cannot be removed" in refused.value.message_dict["platelets"][0]
    assert PlateletCount.objects.get(visit=visit).platelets == 18


def test_it_refuses_fields_that_do_not_belong_to_the_visit(coordinator, participant):
    visit = visit_of(participant, "V1")
    with pytest.raises(ValidationError, match="Not entered at V1: weight_kg"):
        visit_record(
            visit=visit,
            user=coordinator,
            data={"actual_date": participant.consent_date, "weight_kg": Decimal("60.0")},
            reason="x",
            today=TODAY,
        )


# Missed visits.


def test_it_marks_a_visit_missed_with_its_reason(coordinator, participant):
    visit = visit_of(participant, BASELINE)

    assert visit_mark_missed(
        visit=visit, user=coordinator, missed_reason="Flooded roads", today=TODAY
    )

    visit.refresh_from_db()
    assert (visit.missed, visit.missed_reason) == (True, "Flooded roads")
    assert visit.window_status == WindowStatus.MISSED
    assert visit.history.first().history_change_reason == "Visit marked missed"


def test_it_needs_the_reason_a_visit_was_missed(coordinator, participant):
    visit = visit_of(participant, BASELINE)
    with pytest.raises(ValidationError) as refused:
        visit_mark_missed(visit=visit, user=coordinator, missed_reason="  ", today=TODAY)
    assert "missed_reason" in refused.value.message_dict
    visit.refresh_from_db()
    assert visit.missed is False


def test_it_never_marks_an_infusion_missed(coordinator, participant):
    visit = visit_of(participant, INF1)
    with pytest.raises(ValidationError, match="never marked missed"):
        visit_mark_missed(visit=visit, user=coordinator, missed_reason="Ill", today=TODAY)
    visit.refresh_from_db()
    assert visit.missed is False


def test_it_does_not_mark_a_done_visit_missed(coordinator, participant):
    visit = visit_of(participant, BASELINE)
    visit_record(visit=visit, user=coordinator, data=baseline_data(TODAY), today=TODAY)
    with pytest.raises(ValidationError, match="cannot be marked missed"):
        visit_mark_missed(visit=visit, user=coordinator, missed_reason="Oops", today=TODAY)
    visit.refresh_from_db()
    assert visit.missed is False


def test_it_does_not_mark_missed_a_visit_whose_window_has_not_opened(coordinator, participant):
    visit = visit_of(participant, EOT)
    with pytest.raises(ValidationError, match="opens on"):
        visit_mark_missed(visit=visit, user=coordinator, missed_reason="Moving", today=TODAY)
    visit.refresh_from_db()
    assert visit.missed is False


def test_it_needs_a_reason_to_change_why_a_visit_was_missed(coordinator, participant):
    visit = visit_of(participant, BASELINE)
    visit_mark_missed(visit=visit, user=coordinator, missed_reason="Flooded roads", today=TODAY)

    with pytest.raises(ValidationError) as refused:
        visit_mark_missed(visit=visit, user=coordinator, missed_reason="Fever", today=TODAY)
    assert "reason" in refused.value.message_dict
    visit.refresh_from_db()
    assert visit.missed_reason == "Flooded roads"


def test_it_records_a_missed_visit_that_happened_after_all(coordinator, participant):
    visit = visit_of(participant, BASELINE)
    visit_mark_missed(visit=visit, user=coordinator, missed_reason="No show", today=TODAY)

    visit_record(
        visit=visit,
        user=coordinator,
        data=baseline_data(TODAY),
        reason="Came in the afternoon",
        today=TODAY,
    )

    visit.refresh_from_db()
    assert (visit.missed, visit.missed_reason, visit.actual_date) == (False, "", TODAY)
    assert visit.window_status == WindowStatus.IN_WINDOW


# Platelet counts.


def test_it_records_an_unscheduled_platelet_count(coordinator, participant):
    count = platelet_record(
        participant=participant,
        user=coordinator,
        sample_date=TODAY - days(2),
        platelets=12,
        who_bleeding_grade=2,
        today=TODAY,
    )
    stored = PlateletCount.objects.get(pk=count.pk)
    assert (stored.sample_date, stored.platelets, stored.who_bleeding_grade) == (
        TODAY - days(2),
        12,
        2,
    )
    assert stored.visit is None


def test_it_needs_a_reason_to_correct_a_count_of_the_same_day(coordinator, participant):
    day = TODAY - days(2)
    platelet_record(
        participant=participant,
        user=coordinator,
        sample_date=day,
        platelets=12,
        who_bleeding_grade=0,
        today=TODAY,
    )
    with pytest.raises(ValidationError) as refused:
        platelet_record(
            participant=participant,
            user=coordinator,
            sample_date=day,
            platelets=21,
            who_bleeding_grade=0,
            today=TODAY,
        )
    assert "reason" in refused.value.message_dict
    assert PlateletCount.objects.get().platelets == 12

    platelet_record(
        participant=participant,
        user=coordinator,
        sample_date=day,
        platelets=21,
        who_bleeding_grade=0,
        reason="Lab corrected the result",
        today=TODAY,
    )
    assert PlateletCount.objects.get().platelets == 21


@pytest.mark.parametrize(
    ("change", "field", "text"),
    [
        ({"platelets": protocol.PLATELET_MAX + 1}, "platelets", "between 0 and 2000"),
        ({"platelets": -1}, "platelets", "between 0 and 2000"),
        ({"who_bleeding_grade": protocol.WHO_BLEEDING_MAX + 1}, "who_bleeding_grade", "0 and 4"),
        ({"sample_date": TODAY + days(1)}, "sample_date", "cannot be in the future"),
        ({"sample_date": date(2000, 1, 1)}, "sample_date", "before the consent date"),
    ],
)
def test_it_refuses_an_impossible_platelet_count(coordinator, participant, change, field, text):
    values = {"sample_date": TODAY, "platelets": 40, "who_bleeding_grade": 0, **change}
    with pytest.raises(ValidationError) as refused:
        platelet_record(participant=participant, user=coordinator, today=TODAY, **values)
    assert text in refused.value.message_dict[field][0]
    assert not PlateletCount.objects.exists()


def test_it_accepts_the_edges_of_the_platelet_range(coordinator, participant):
    for offset, value in ((1, protocol.PLATELET_MIN), (2, protocol.PLATELET_MAX)):
        platelet_record(
            participant=participant,
            user=coordinator,
            sample_date=TODAY - days(offset),
            platelets=value,
            who_bleeding_grade=protocol.WHO_BLEEDING_MAX,
            today=TODAY,
        )
    assert PlateletCount.objects.count() == 2


def test_it_refuses_a_platelet_count_after_withdrawal(coordinator, participant):
    participant_withdraw(
        participant=participant,
        user=coordinator,
        on=TODAY - days(1),
        withdrawal_reason="other",
        today=TODAY,
    )
    with pytest.raises(ValidationError, match="after withdrawal"):
        platelet_record(
            participant=participant,
            user=coordinator,
            sample_date=TODAY,
            platelets=40,
            who_bleeding_grade=0,
            today=TODAY,
        )
    assert not PlateletCount.objects.exists()


# --- V4 and V5 wait for the end of treatment (protocol section 1). ---

D14 = "V5-D14"


def four_infusions_given(coordinator):
    """Enrolled with infusions 1 to 4 given on target; returns it with infusion 4's date."""
    first = TODAY - days(120)
    participant = enrolled(coordinator, planned=first, today=first - days(10))
    for number in range(1, protocol.INFUSION_COUNT):
        infusion = infused(coordinator, participant, number, today=TODAY)
    return participant, infusion.infusion_date


def follow_up_data(on: date) -> dict:
    return {
        "actual_date": on,
        "weight_kg": Decimal("60.0"),
        "platelets": 45,
        "who_bleeding_grade": 0,
    }


def assert_nothing_written(participant, visit: Visit, call) -> str:
    before = Visit.objects.filter(pk=visit.pk).values().get()
    history = visit.history.count()
    counts = PlateletCount.objects.filter(participant=participant).count()
    with pytest.raises(ValidationError) as refused:
        call()
    assert Visit.objects.filter(pk=visit.pk).values().get() == before
    assert visit.history.count() == history
    assert PlateletCount.objects.filter(participant=participant).count() == counts
    return " ".join(refused.value.messages)


@pytest.mark.parametrize("code", [EOT, D14])
def test_it_refuses_a_follow_up_visit_entered_one_infusion_early(coordinator, code):
    participant, inf4 = four_infusions_given(coordinator)
    visit = visit_of(participant, code)
    on = inf4 + days(14)

    message = assert_nothing_written(
        participant,
        visit,
        lambda: visit_record(visit=visit, user=coordinator, data=follow_up_data(on), today=TODAY),
    )

    assert f"{code} cannot be entered before treatment is complete" in message
    assert "4 of 5 infusions given" in message
    with pytest.raises(ValidationError, match="before treatment is complete"):
        visit_validate(visit=visit, data=follow_up_data(on), today=TODAY)


def test_it_refuses_to_mark_a_follow_up_visit_missed_before_treatment_is_complete(coordinator):
    participant, _inf4 = four_infusions_given(coordinator)
    visit = visit_of(participant, D14)

    message = assert_nothing_written(
        participant,
        visit,
        lambda: visit_mark_missed(
            visit=visit, user=coordinator, missed_reason="Travelling", today=TODAY
        ),
    )

    assert "before treatment is complete" in message


def test_it_refuses_a_count_at_a_follow_up_visit_before_treatment_is_complete(coordinator):
    participant, inf4 = four_infusions_given(coordinator)
    visit = visit_of(participant, D14)

    message = assert_nothing_written(
        participant,
        visit,
        lambda: platelet_record(
            participant=participant,
            user=coordinator,
            sample_date=inf4 + days(3),
            platelets=50,
            who_bleeding_grade=0,
            visit=visit,
            today=TODAY,
        ),
    )

    assert "before treatment is complete" in message


def test_it_accepts_the_follow_up_visit_once_the_fifth_infusion_is_given(coordinator):
    participant, _inf4 = four_infusions_given(coordinator)
    inf5 = infused(coordinator, participant, protocol.INFUSION_COUNT, today=TODAY)
    visit = visit_of(participant, D14)

    visit_record(
        visit=visit,
        user=coordinator,
        data=follow_up_data(inf5.infusion_date + days(14)),
        today=TODAY,
    )

    visit.refresh_from_db()
    assert visit.actual_date == inf5.infusion_date + days(14)
    assert visit.window_status == WindowStatus.IN_WINDOW


def test_it_accepts_end_of_treatment_on_the_discontinuation_date(coordinator, investigator):
    from subjects.services import treatment_discontinue

    participant, inf4 = four_infusions_given(coordinator)
    stopped = inf4 + days(25)
    treatment_discontinue(
        participant=participant, user=investigator, on=stopped, reason="No response", today=TODAY
    )
    visit = visit_of(participant, EOT)
    assert (visit.target_date, visit.window_status) == (stopped, WindowStatus.OVERDUE)

    visit_record(visit=visit, user=coordinator, data=follow_up_data(stopped), today=TODAY)

    visit.refresh_from_db()
    assert visit.window_status == WindowStatus.IN_WINDOW
    assert visit_of(participant, D14).window_status == WindowStatus.NOT_EXPECTED
