"""infusion_record: the dose stored from the one rule, and every refusal of protocol section 1-2."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils import timezone

from infusions import dosing
from infusions.models import Infusion
from infusions.services import infusion_record, infusion_validate
from itp_trial import protocol
from subjects.services import participant_withdraw, treatment_discontinue
from tests.factories import eligible, enrolled, infused, screened

pytestmark = pytest.mark.django_db

WEIGHT = Decimal("23.5")
PLANNED = 2_350_000_000  # 23.5 kg at the registry dose


@pytest.fixture
def today():
    return timezone.localdate()


@pytest.fixture
def participant(coordinator, today):
    """Enrolled 90 days ago, infusion 1 planned 80 days ago: every infusion date is past."""
    return enrolled(
        coordinator,
        consent_date=today - timedelta(days=90),
        planned=today - timedelta(days=80),
        today=today,
    )


def data(on, **overrides):
    values = {
        "infusion_date": on,
        "dosing_weight_kg": WEIGHT,
        "actual_cells": PLANNED,
        "lot_number": "MSC-2026-001",
    }
    values.update(overrides)
    return values


def refused(excinfo, field: str = NON_FIELD_ERRORS) -> list[str]:
    return excinfo.value.message_dict[field]


def nothing_written(count: int = 0) -> None:
    assert Infusion.objects.count() == count
    assert Infusion.history.count() == count


def test_it_records_infusion_1_with_the_dose_derived(coordinator, participant):
    on = participant.planned_first_infusion_date
    infusion = infusion_record(
        participant=participant, user=coordinator, number=1, data=data(on, reaction=False)
    )

    infusion.refresh_from_db()
    assert infusion.infusion_date == on
    assert infusion.dose_per_kg == protocol.DOSE_PER_KG
    assert infusion.planned_cells == PLANNED
    assert infusion.dose_deviation is False
    participant.refresh_from_db()
    assert participant.status == "on_treatment"
    visit = participant.visits.get(code="V3-INF1")
    assert visit.window_status == "in_window"
    record = infusion.history.get()
    assert record.history_user == coordinator


@pytest.mark.parametrize(
    ("actual", "deviation"),
    [
        (PLANNED * 110 // 100, False),  # exactly +10 %: not a deviation
        (PLANNED * 90 // 100, False),  # exactly -10 %
        (PLANNED * 110 // 100 + 1, True),  # one cell beyond
        (PLANNED * 85 // 100, True),  # -15 %
    ],
)
def test_it_stores_the_dose_the_pure_rule_gives(coordinator, participant, actual, deviation):
    on = participant.planned_first_infusion_date
    infusion_record(
        participant=participant, user=coordinator, number=1, data=data(on, actual_cells=actual)
    )

    stored = Infusion.objects.get()
    expected = dosing.dose_assess(weight_kg=WEIGHT, actual_cells=actual)
    assert stored.planned_cells == expected.planned_cells == PLANNED
    assert stored.dose_deviation is expected.deviation is deviation
    assert stored.dose_per_kg == expected.dose_per_kg


def test_it_records_five_infusions_in_order(coordinator, participant):
    for number in range(1, protocol.INFUSION_COUNT + 1):
        infused(coordinator, participant, number)

    assert list(Infusion.objects.values_list("number", flat=True)) == [1, 2, 3, 4, 5]
    participant.refresh_from_db()
    assert participant.status == "follow_up"


def test_it_refuses_a_sixth_infusion(coordinator, participant, today):
    for number in range(1, protocol.INFUSION_COUNT + 1):
        infused(coordinator, participant, number)

    with pytest.raises(ValidationError) as excinfo:
        infusion_record(
            participant=participant,
            user=coordinator,
            number=protocol.INFUSION_COUNT + 1,
            data=data(today - timedelta(days=1)),
        )

    assert refused(excinfo, "number") == ["The protocol gives 5 infusions; there is no infusion 6."]
    nothing_written(count=5)


def test_it_refuses_an_infusion_whose_previous_one_is_not_recorded(coordinator, participant):
    with pytest.raises(ValidationError) as excinfo:
        infusion_record(
            participant=participant,
            user=coordinator,
            number=2,
            data=data(participant.planned_first_infusion_date),
        )

    assert refused(excinfo, "number") == [
        "Infusion 1 has not been recorded: record it before infusion 2."
    ]
    nothing_written()


@pytest.mark.parametrize("days_after_previous", [-1, 0])
def test_it_refuses_an_infusion_before_the_previous_one(
    coordinator, participant, days_after_previous
):
    first = infused(coordinator, participant, 1)

    with pytest.raises(ValidationError) as excinfo:
        infusion_record(
            participant=participant,
            user=coordinator,
            number=2,
            data=data(first.infusion_date + timedelta(days=days_after_previous)),
        )

    assert refused(excinfo, "infusion_date") == [
        f"Infusion 2 must be after infusion 1, given on {first.infusion_date.isoformat()}."
    ]
    nothing_written(count=1)


def test_it_refuses_to_move_an_infusion_past_the_next_one(coordinator, participant):
    first = infused(coordinator, participant, 1)
    second = infused(coordinator, participant, 2)

    with pytest.raises(ValidationError) as excinfo:
        infusion_record(
            participant=participant,
            user=coordinator,
            number=1,
            data={"infusion_date": second.infusion_date},
            reason="Date misread",
        )

    assert refused(excinfo, "infusion_date") == [
        f"Infusion 1 must be before infusion 2, given on {second.infusion_date.isoformat()}."
    ]
    first.refresh_from_db()
    assert first.infusion_date == participant.planned_first_infusion_date
    assert Infusion.history.count() == 2


@pytest.mark.parametrize("build", [screened, eligible], ids=["screening", "eligible"])
def test_it_refuses_an_infusion_for_a_participant_not_enrolled(coordinator, today, build):
    participant = build(coordinator, today=today)

    with pytest.raises(ValidationError) as excinfo:
        infusion_record(participant=participant, user=coordinator, number=1, data=data(today))

    assert refused(excinfo) == ["Only an enrolled participant can receive an infusion."]
    nothing_written()


def test_it_refuses_an_infusion_after_withdrawal(coordinator, participant, today):
    infused(coordinator, participant, 1)
    withdrawn_on = today - timedelta(days=5)
    participant_withdraw(
        participant=participant,
        user=coordinator,
        on=withdrawn_on,
        withdrawal_reason="withdrew_consent",
        today=today,
    )
    participant.refresh_from_db()

    with pytest.raises(ValidationError) as excinfo:
        infusion_record(participant=participant, user=coordinator, number=2, data=data(today))

    assert refused(excinfo) == [
        f"The participant withdrew on {withdrawn_on.isoformat()}; no infusion can be recorded."
    ]
    assert refused(excinfo, "infusion_date") == [
        f"The infusion cannot be after the withdrawal on {withdrawn_on.isoformat()}."
    ]
    nothing_written(count=1)


def test_it_corrects_an_infusion_given_before_withdrawal(coordinator, participant, today):
    first = infused(coordinator, participant, 1)
    participant_withdraw(
        participant=participant,
        user=coordinator,
        on=today - timedelta(days=5),
        withdrawal_reason="withdrew_consent",
        today=today,
    )
    participant.refresh_from_db()

    infusion_record(
        participant=participant,
        user=coordinator,
        number=1,
        data={"lot_number": "MSC-2026-009"},
        reason="Lot misread from the label",
    )

    first.refresh_from_db()
    assert first.lot_number == "MSC-2026-009"
    assert first.history.first().history_change_reason == "Lot misread from the label"


def test_it_refuses_an_infusion_after_discontinuation(investigator, participant, today):
    infused(investigator, participant, 1)
    stopped_on = today - timedelta(days=60)
    treatment_discontinue(
        participant=participant,
        user=investigator,
        on=stopped_on,
        reason="Grade 3 infusion reaction",
        today=today,
    )
    participant.refresh_from_db()

    with pytest.raises(ValidationError) as excinfo:
        infusion_record(
            participant=participant,
            user=investigator,
            number=2,
            data=data(stopped_on - timedelta(days=1)),
        )

    assert refused(excinfo) == [
        f"Treatment was discontinued on {stopped_on.isoformat()}; no further infusion can be "
        "recorded."
    ]
    nothing_written(count=1)


@pytest.mark.parametrize(
    ("weight", "message"),
    [
        (
            Decimal("0"),
            "The dosing weight cannot be zero: enter the weight measured before the infusion.",
        ),
        (
            "0.0",
            "The dosing weight cannot be zero: enter the weight measured before the infusion.",
        ),
        (Decimal("9.9"), "The dosing weight must be between 10.0 and 200.0 kg."),
        (Decimal("200.1"), "The dosing weight must be between 10.0 and 200.0 kg."),
    ],
)
def test_it_refuses_a_weight_of_zero_or_out_of_range(coordinator, participant, weight, message):
    on = participant.planned_first_infusion_date
    with pytest.raises(ValidationError) as excinfo:
        infusion_record(
            participant=participant,
            user=coordinator,
            number=1,
            data=data(on, dosing_weight_kg=weight),
        )

    assert refused(excinfo, "dosing_weight_kg") == [message]
    nothing_written()


def test_it_refuses_a_future_infusion(coordinator, participant, today):
    with pytest.raises(ValidationError) as excinfo:
        infusion_record(
            participant=participant,
            user=coordinator,
            number=1,
            data=data(today + timedelta(days=1)),
        )

    assert refused(excinfo, "infusion_date") == ["The date cannot be in the future."]
    nothing_written()


def test_it_refuses_an_end_time_before_the_start(coordinator, participant):
    on = participant.planned_first_infusion_date
    with pytest.raises(ValidationError) as excinfo:
        infusion_record(
            participant=participant,
            user=coordinator,
            number=1,
            data=data(on, start_time="10:30", end_time="10:00"),
        )

    assert refused(excinfo, "end_time") == ["The end time cannot be before the start time."]
    nothing_written()


def test_it_refuses_a_correction_without_a_reason(coordinator, participant):
    infused(coordinator, participant, 1, weight=WEIGHT)

    with pytest.raises(ValidationError) as excinfo:
        infusion_record(
            participant=participant,
            user=coordinator,
            number=1,
            data={"actual_cells": PLANNED * 85 // 100},
        )

    assert refused(excinfo, "reason") == [
        "A reason for change is required to change a saved record.",
        "Stored values this overwrites: dose deviation no → yes; "
        f"actual cells infused {PLANNED} → {PLANNED * 85 // 100}.",
    ]
    stored = Infusion.objects.get()
    assert (stored.actual_cells, stored.dose_deviation) == (PLANNED, False)
    assert stored.history.count() == 1


def test_it_rederives_the_dose_on_correction(coordinator, participant):
    infused(coordinator, participant, 1, weight=WEIGHT)

    infusion_record(
        participant=participant,
        user=coordinator,
        number=1,
        data={"actual_cells": PLANNED * 85 // 100},
        reason="Cell count from the release certificate",
    )

    stored = Infusion.objects.get()
    assert stored.dose_deviation is True
    assert stored.planned_cells == PLANNED
    assert stored.history.first().history_change_reason == "Cell count from the release certificate"


def test_it_keeps_the_dose_per_kg_in_force_when_first_recorded(
    coordinator, participant, monkeypatch
):
    infused(coordinator, participant, 1, weight=WEIGHT)
    monkeypatch.setattr(protocol, "DOSE_PER_KG", Decimal("200000000"))

    infusion_record(
        participant=participant,
        user=coordinator,
        number=1,
        data={"dosing_weight_kg": Decimal("24.0")},
        reason="Weight misread",
    )
    second = infused(coordinator, participant, 2, weight=WEIGHT, actual=2 * PLANNED)

    first = Infusion.objects.get(number=1)
    assert (first.dose_per_kg, first.planned_cells) == (Decimal("100000000"), 2_400_000_000)
    assert (second.dose_per_kg, second.planned_cells) == (Decimal("200000000"), 2 * PLANNED)


def test_it_accepts_the_text_a_csv_import_gives(coordinator, participant):
    on = participant.planned_first_infusion_date
    infusion_record(
        participant=participant,
        user=coordinator,
        number=1,
        data={
            "infusion_date": on.isoformat(),
            "dosing_weight_kg": "23.5",
            "actual_cells": "2350000000",
            "lot_number": "MSC-2026-001",
            "viability_pct": "92.5",
            "volume_ml": "",
        },
    )

    stored = Infusion.objects.get()
    assert stored.infusion_date == on
    assert stored.viability_pct == Decimal("92.5")
    assert stored.volume_ml is None
    assert stored.planned_cells == PLANNED


def test_it_validates_without_writing(coordinator, participant):
    on = participant.planned_first_infusion_date
    assessment = infusion_validate(
        participant=participant, number=1, data=data(on, actual_cells=PLANNED * 85 // 100)
    )

    assert assessment == dosing.dose_assess(weight_kg=WEIGHT, actual_cells=PLANNED * 85 // 100)
    nothing_written()
