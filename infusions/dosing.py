"""Dose rules of protocol section 2: planned cells, deviation %, dose deviation.

Pure functions on Decimal and int, no database. Forms, the CSV import, the background
checks and the exports all call these, so a dose is judged the same way everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Any

from itp_trial import protocol

# Enough digits that weight x dose per kg is always exact (the default context has 28).
_EXACT_PRECISION = 60


def planned_cells(*, weight_kg: Decimal, dose_per_kg: Decimal | None = None) -> int:
    """Dose per kg x dosing weight, exact, rounded half-up to a whole number of cells.

    With the registry dose (10^8/kg) and weights of one decimal the product is already whole;
    the rounding only matters for a configured dose per kg with decimals.
    """
    if dose_per_kg is None:
        dose_per_kg = protocol.DOSE_PER_KG
    if weight_kg <= 0:
        raise ValueError("The dosing weight must be positive.")
    if dose_per_kg <= 0:
        raise ValueError("The dose per kg must be positive.")
    with localcontext() as ctx:
        ctx.prec = _EXACT_PRECISION
        product = Decimal(weight_kg) * Decimal(dose_per_kg)
        return int(product.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def deviation_pct(*, actual_cells: int, planned_cells: int) -> Decimal:
    """(actual - planned) / planned x 100, rounded half-up (away from zero) to 0.01.

    For display and export only: whether a dose deviates is decided by
    `is_dose_deviation`, on the unrounded value. Computed in integers, so the only rounding
    is the final one.
    """
    if planned_cells <= 0:
        raise ValueError("The planned cell count must be positive.")
    hundredths = (actual_cells - planned_cells) * 100 * 100
    quotient, remainder = divmod(abs(hundredths), planned_cells)
    if 2 * remainder >= planned_cells:
        quotient += 1
    signed = -quotient if hundredths < 0 else quotient
    return Decimal(signed).scaleb(-2)


def is_dose_deviation(
    *,
    actual_cells: int,
    planned_cells: int,
    tolerance_pct: Decimal | None = None,
) -> bool:
    """True when |deviation %| is strictly above the tolerance, computed exactly.

    |actual - planned| x 100 > tolerance x planned: no division and no rounding, so a dose
    exactly at the tolerance (10.0 %) is not a deviation and one a single cell beyond it is.
    """
    if planned_cells <= 0:
        raise ValueError("The planned cell count must be positive.")
    if tolerance_pct is None:
        tolerance_pct = protocol.DOSE_TOLERANCE_PCT
    with localcontext() as ctx:
        ctx.prec = _EXACT_PRECISION
        return abs(actual_cells - planned_cells) * 100 > Decimal(tolerance_pct) * planned_cells


@dataclass(frozen=True)
class DoseAssessment:
    dose_per_kg: Decimal
    planned_cells: int
    deviation_pct: Decimal
    deviation: bool
    tolerance_pct: Decimal = protocol.DOSE_TOLERANCE_PCT


def dose_assess(
    *,
    weight_kg: Decimal,
    actual_cells: int,
    dose_per_kg: Decimal | None = None,
    tolerance_pct: Decimal | None = None,
) -> DoseAssessment:
    """The derived dose columns of one infusion (dose_per_kg, planned, deviation %, flag).

    `dose_per_kg` and `tolerance_pct` are the ones the infusion is judged by; left out, the
    protocol's values in force now.
    """
    dose_per_kg = protocol.DOSE_PER_KG if dose_per_kg is None else dose_per_kg
    tolerance_pct = protocol.DOSE_TOLERANCE_PCT if tolerance_pct is None else tolerance_pct
    planned = planned_cells(weight_kg=weight_kg, dose_per_kg=dose_per_kg)
    return DoseAssessment(
        dose_per_kg=dose_per_kg,
        planned_cells=planned,
        deviation_pct=deviation_pct(actual_cells=actual_cells, planned_cells=planned),
        deviation=is_dose_deviation(
            actual_cells=actual_cells, planned_cells=planned, tolerance_pct=tolerance_pct
        ),
        tolerance_pct=tolerance_pct,
    )


def plain_pct(value: Decimal) -> Decimal:
    """A stored percentage as written in the protocol: 10.00 as 10, 7.50 as 7.5."""
    value = Decimal(value)
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()


def stored_dose(infusion: Any) -> DoseAssessment:
    """A recorded infusion's dose as stored by the infusion service: its dose per kg, its
    tolerance, its planned cells and its deviation flag, with the deviation % from the same
    rule. Every page, export and check reads an infusion's dose through this (or the
    stored `dose_deviation` column itself), so a later protocol change alters none of them."""
    return DoseAssessment(
        dose_per_kg=infusion.dose_per_kg,
        planned_cells=infusion.planned_cells,
        deviation_pct=deviation_pct(
            actual_cells=infusion.actual_cells, planned_cells=infusion.planned_cells
        ),
        deviation=infusion.dose_deviation,
        tolerance_pct=plain_pct(infusion.dose_tolerance_pct),
    )


# Units a cell count may be typed in on the infusion form; the count is stored in cells.
CELL_UNITS: dict[str, int] = {"1": 1, "1e8": 10**8, "1e9": 10**9}


def cells_from_entry(text: str, unit: str = "1") -> int:
    """A cell count typed as a number of `unit` (cells, 10^8 or 10^9), as whole cells.

    Accepts "6.05" in 10^9, "60.5" in 10^8, "6050000000", "6,050,000,000" or "6.05e9" in
    cells. Raises ValueError when the text is not a number, the unit is unknown, or the
    count is not a positive whole number of cells.
    """
    if unit not in CELL_UNITS:
        raise ValueError(f"Unknown unit {unit!r}.")
    cleaned = text.strip().replace(",", "").replace(" ", "").replace("\u00a0", "")
    if not cleaned or cleaned.lower() in ("nan", "inf", "infinity", "-inf", "+inf"):
        raise ValueError("Not a number.")
    try:
        number = Decimal(cleaned)
    except ArithmeticError as error:
        raise ValueError("Not a number.") from error
    with localcontext() as ctx:
        ctx.prec = _EXACT_PRECISION
        cells = number * CELL_UNITS[unit]
    if not cells.is_finite() or cells != cells.to_integral_value() or cells <= 0:
        raise ValueError("Not a positive whole number of cells.")
    return int(cells)
