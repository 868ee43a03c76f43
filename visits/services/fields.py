"""What the site enters at each kind of visit, with units and accepted ranges."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from itp_trial import protocol
from itp_trial.fields import VITAL_SIGNS, range_message

from ..models import PlateletCount, Visit

VITAL_FIELDS = tuple(VITAL_SIGNS)
PLATELET_FIELDS = ("platelets", "who_bleeding_grade")
_FOLLOW_UP_FIELDS = (
    *VITAL_FIELDS,
    "weight_kg",
    *PLATELET_FIELDS,
    "new_adverse_event",
    "medication_change",
)
# What the site enters at each kind of visit besides its date. Infusion visits are entered
# with their infusion (infusions.services), the screening visit's other data on the
# participant (subjects.services).
VISIT_FIELDS_BY_KIND: dict[str, tuple[str, ...]] = {
    protocol.KIND_SCREENING: (),
    protocol.KIND_BASELINE: (
        *VITAL_FIELDS,
        "weight_kg",
        "height_cm",
        *PLATELET_FIELDS,
        "physical_exam_normal",
        "physical_exam_findings",
    ),
    protocol.KIND_INFUSION: (),
    protocol.KIND_END_OF_TREATMENT: _FOLLOW_UP_FIELDS,
    protocol.KIND_FOLLOW_UP: _FOLLOW_UP_FIELDS,
}
UNITS: dict[str, Any] = {
    **{name: sign.unit for name, sign in VITAL_SIGNS.items()},
    "weight_kg": "kg",
    "height_cm": "cm",
    "platelets": "×10⁹/L",
    "who_bleeding_grade": "",
}


def value_ranges() -> dict[str, tuple[Decimal | int, Decimal | int]]:
    """The accepted range of every number entered at a visit, from the protocol."""
    return {
        **protocol.VITAL_RANGES,
        "weight_kg": protocol.WEIGHT_RANGE_KG,
        "height_cm": protocol.HEIGHT_RANGE_CM,
        "platelets": (protocol.PLATELET_MIN, protocol.PLATELET_MAX),
        "who_bleeding_grade": (protocol.WHO_BLEEDING_MIN, protocol.WHO_BLEEDING_MAX),
    }


def model_field(name: str) -> Any:
    model = PlateletCount if name in PLATELET_FIELDS else Visit
    return model._meta.get_field(name)


def range_error(name: str, value: Any) -> str | None:
    """The message for a number outside its accepted range (units shown), else None."""
    low, high = value_ranges()[name]
    if value is None or low <= value <= high:
        return None  # the field, for the message's label, looked up only when refused
    return range_message(model_field(name), value, low, high, UNITS.get(name, ""))


def bleeding_grade_error(*, platelets: Any, grade: Any, scheduled: bool) -> str | None:
    """The refusal of a platelet count given without its WHO bleeding grade, else None.

    The one home of the grade requirement (protocol.WHO_GRADE_REQUIRED_SCHEDULED /
    _UNSCHEDULED): the visit form, the unscheduled result and the CSV import all reach it
    through the visit services.
    """
    if scheduled:
        required = protocol.WHO_GRADE_REQUIRED_SCHEDULED
    else:
        required = protocol.WHO_GRADE_REQUIRED_UNSCHEDULED
    if required and platelets is not None and grade is None:
        return _("Give the WHO bleeding grade with the platelet count.")
    return None
