"""Dose rules (protocol section 2): planned cells, deviation %, dose deviation."""

from __future__ import annotations

from decimal import Decimal

import pytest

from infusions.dosing import (
    DoseAssessment,
    deviation_pct,
    dose_assess,
    is_dose_deviation,
    planned_cells,
)
from itp_trial import protocol

REGISTRY_DOSE = Decimal("1E8")  # 1 x 10^8 MSC per kg, as the registry states it
PLANNED = 2_350_000_000  # 23.5 kg at the registry dose


@pytest.mark.parametrize(
    ("weight_kg", "dose_per_kg", "expected"),
    [
        (Decimal("23.5"), REGISTRY_DOSE, 2_350_000_000),
        (Decimal("10.0"), REGISTRY_DOSE, 1_000_000_000),
        (Decimal("70.1"), REGISTRY_DOSE, 7_010_000_000),
        (Decimal("200.0"), REGISTRY_DOSE, 20_000_000_000),
        # A configured dose with decimals: half-up to a whole cell.
        (Decimal("0.5"), Decimal("3"), 2),  # 1.5 -> 2
        (Decimal("0.1"), Decimal("5"), 1),  # 0.5 -> 1
        (Decimal("0.1"), Decimal("4"), 0),  # 0.4 -> 0
        (Decimal("23.5"), Decimal("1000000.3"), 23_500_007),  # 23500007.05 -> 23500007
    ],
)
def test_it_computes_planned_cells_exactly(
    weight_kg: Decimal, dose_per_kg: Decimal, expected: int
) -> None:
    assert planned_cells(weight_kg=weight_kg, dose_per_kg=dose_per_kg) == expected


def test_it_plans_with_the_configured_dose_per_kg() -> None:
    weight = Decimal("23.5")
    assert planned_cells(weight_kg=weight) == int(weight * protocol.DOSE_PER_KG)
    assert dose_assess(weight_kg=weight, actual_cells=1).dose_per_kg == protocol.DOSE_PER_KG


def test_the_configured_dose_is_the_registry_dose() -> None:
    assert protocol.DOSE_PER_KG == REGISTRY_DOSE


@pytest.mark.parametrize("weight_kg", [Decimal("0"), Decimal("-1.0")])
def test_it_refuses_a_weight_that_is_not_positive(weight_kg: Decimal) -> None:
    with pytest.raises(ValueError):
        planned_cells(weight_kg=weight_kg)


@pytest.mark.parametrize(
    ("actual", "expected_pct", "deviation"),
    [
        (PLANNED, Decimal("0.00"), False),
        (2_585_000_000, Decimal("10.00"), False),  # exactly +10 %
        (2_115_000_000, Decimal("-10.00"), False),  # exactly -10 %
        (2_585_000_001, Decimal("10.00"), True),  # one cell beyond +10 %: shown 10.00, deviates
        (2_114_999_999, Decimal("-10.00"), True),  # one cell beyond -10 %
        (2_585_235_000, Decimal("10.01"), True),  # +10.01 %
        (2_114_765_000, Decimal("-10.01"), True),  # -10.01 %
        (1_997_500_000, Decimal("-15.00"), True),  # -15 %
        (2_702_500_000, Decimal("15.00"), True),  # +15 %
        (2_584_647_500, Decimal("9.99"), False),  # +9.985 %, rounded half-up for display
        (2_115_352_500, Decimal("-9.99"), False),  # -9.985 %, half-up is away from zero
        (0, Decimal("-100.00"), True),
    ],
)
def test_it_judges_the_dose_deviation_on_the_exact_value(
    actual: int, expected_pct: Decimal, deviation: bool
) -> None:
    assert deviation_pct(actual_cells=actual, planned_cells=PLANNED) == expected_pct
    assert is_dose_deviation(actual_cells=actual, planned_cells=PLANNED) is deviation


@pytest.mark.parametrize(
    ("actual", "planned", "expected"),
    [
        (1_000_050, 1_000_000, Decimal("0.01")),  # 0.005 % -> 0.01
        (1_000_049, 1_000_000, Decimal("0.00")),  # 0.0049 % -> 0.00
        (999_950, 1_000_000, Decimal("-0.01")),  # -0.005 % -> -0.01
        (1, 3, Decimal("-66.67")),
        (2, 3, Decimal("-33.33")),
        (4, 3, Decimal("33.33")),
        (5, 3, Decimal("66.67")),
    ],
)
def test_it_rounds_the_deviation_pct_half_up_to_hundredths(
    actual: int, planned: int, expected: Decimal
) -> None:
    result = deviation_pct(actual_cells=actual, planned_cells=planned)
    assert result == expected
    assert result.as_tuple().exponent == -2


def test_it_refuses_a_deviation_against_no_planned_cells() -> None:
    with pytest.raises(ValueError):
        deviation_pct(actual_cells=1, planned_cells=0)
    with pytest.raises(ValueError):
        is_dose_deviation(actual_cells=1, planned_cells=0)


@pytest.mark.parametrize(
    ("tolerance", "actual", "deviation"),
    [
        (Decimal("5"), 2_467_500_000, False),  # exactly +5 %
        (Decimal("5"), 2_467_500_001, True),
        (Decimal("12.5"), 2_643_750_000, False),  # exactly +12.5 %
        (Decimal("12.5"), 2_643_750_001, True),
    ],
)
def test_it_uses_the_tolerance_it_is_given(
    tolerance: Decimal, actual: int, deviation: bool
) -> None:
    assert (
        is_dose_deviation(actual_cells=actual, planned_cells=PLANNED, tolerance_pct=tolerance)
        is deviation
    )


def test_it_uses_the_configured_tolerance() -> None:
    exactly_at = PLANNED + PLANNED * protocol.DOSE_TOLERANCE_PCT / 100
    assert exactly_at == int(exactly_at)
    assert not is_dose_deviation(actual_cells=int(exactly_at), planned_cells=PLANNED)
    assert is_dose_deviation(actual_cells=int(exactly_at) + 1, planned_cells=PLANNED)


@pytest.mark.parametrize(
    ("actual", "expected"),
    [
        (2_585_000_000, DoseAssessment(REGISTRY_DOSE, PLANNED, Decimal("10.00"), False)),
        (2_585_235_000, DoseAssessment(REGISTRY_DOSE, PLANNED, Decimal("10.01"), True)),
        (1_997_500_000, DoseAssessment(REGISTRY_DOSE, PLANNED, Decimal("-15.00"), True)),
    ],
)
def test_it_assesses_an_infusion_dose(actual: int, expected: DoseAssessment) -> None:
    assert (
        dose_assess(weight_kg=Decimal("23.5"), actual_cells=actual, dose_per_kg=REGISTRY_DOSE)
        == expected
    )
