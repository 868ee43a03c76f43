"""Field factories and the range message shared by the apps' models, forms and services."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from itp_trial import protocol
from itp_trial.text import interpolated


@dataclass(frozen=True)
class VitalSign:
    label: Any
    unit: Any
    decimal: bool = False


# The vital signs, each label and unit stated once: the visit and infusion models, the
# visit forms and the range messages read them here (the ranges are in protocol.py).
VITAL_SIGNS: dict[str, VitalSign] = {
    "systolic_bp": VitalSign(gettext_lazy("systolic BP"), "mmHg"),
    "diastolic_bp": VitalSign(gettext_lazy("diastolic BP"), "mmHg"),
    "heart_rate": VitalSign(gettext_lazy("heart rate"), gettext_lazy("/min")),
    "respiratory_rate": VitalSign(gettext_lazy("respiratory rate"), gettext_lazy("/min")),
    "temperature_c": VitalSign(gettext_lazy("temperature"), "°C", decimal=True),
}
_WHEN = {
    "before": gettext_lazy("%(sign)s before"),
    "after": gettext_lazy("%(sign)s after"),
}


def vital_field(name: str, when: str = "") -> models.Field:
    """Vital sign `name`, optional, with its protocol range as validators and help text;
    `when` ("before", "after") names a measurement around an infusion."""
    sign = VITAL_SIGNS[name]
    label = interpolated(_WHEN[when], sign=sign.label) if when else sign.label
    unit, decimal = str(sign.unit), sign.decimal
    low, high = protocol.VITAL_RANGES[name]
    kwargs = dict(
        null=True,
        blank=True,
        validators=[MinValueValidator(low), MaxValueValidator(high)],
        # Lazy: a model field is built at import, its help text is read in the user's language.
        help_text=interpolated(
            gettext_lazy("%(unit)s, %(low)s to %(high)s"), unit=unit, low=low, high=high
        ),
    )
    if decimal:
        return models.DecimalField(label, max_digits=4, decimal_places=1, **kwargs)
    return models.PositiveSmallIntegerField(label, **kwargs)


def range_message(
    field: models.Field, value: Any, low: Any, high: Any, unit: Any = ""
) -> str | None:
    """The message for a number outside [low, high] (its unit shown), else None."""
    if value is None or low <= value <= high:
        return None
    return _("%(label)s must be between %(low)s and %(high)s%(unit)s; %(value)s was entered.") % {
        "label": capfirst(field.verbose_name),
        "low": low,
        "high": high,
        "unit": f" {unit}" if unit else "",
        "value": value,
    }
