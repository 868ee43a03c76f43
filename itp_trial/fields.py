"""Field factories and the range message shared by the apps' models, forms and services."""

from __future__ import annotations

from typing import Any

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from itp_trial import protocol
from itp_trial.i18n import interpolate_lazy


def vital_field(name: str, label: str, unit: str, decimal: bool = False) -> models.Field:
    """A vital sign, optional, with its protocol range as validators and help text."""
    low, high = protocol.VITAL_RANGES[name]
    kwargs = dict(
        null=True,
        blank=True,
        validators=[MinValueValidator(low), MaxValueValidator(high)],
        # Lazy: a model field is built at import, its help text is read in the user's language.
        help_text=interpolate_lazy(
            gettext_lazy("%(unit)s, %(low)s to %(high)s"), {"unit": unit, "low": low, "high": high}
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
