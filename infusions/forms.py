"""The infusion form: it collects the fields; infusions.services.infusion_record decides."""

from __future__ import annotations

from typing import Any

from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Column, Div, Fieldset, Layout, Row
from django import forms
from django.contrib.humanize.templatetags.humanize import intcomma
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from itp_trial.forms import (
    DateInput,
    ServiceModelForm,
    TimeInput,
    reason_field,
    service_data,
    version_add,
)

from . import dosing
from .models import Infusion
from .services import INFUSION_DATA_FIELDS

CELL_UNIT_CHOICES = [
    ("1", _("cells")),
    ("1e8", _("× 10⁸ cells")),
    ("1e9", _("× 10⁹ cells")),
]


class CellCountWidget(forms.MultiWidget):
    """A number and its unit (cells, 10^8 or 10^9): `actual_cells` and `actual_cells_unit`."""

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        number = forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"})
        unit = forms.Select(choices=CELL_UNIT_CHOICES)
        super().__init__({"": number, "unit": unit}, attrs)

    def id_for_label(self, id_: str) -> str:
        return f"{id_}_0" if id_ else id_  # the label names the number; the unit has its own

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict:
        context = super().get_context(name, value, attrs)
        number, unit = context["widget"]["subwidgets"]
        classes = str(number["attrs"].get("class", "")).replace("form-select", "").split()
        number["attrs"]["class"] = " ".join(dict.fromkeys([*classes, "form-control"]))
        unit["attrs"]["class"] = "form-select cell-unit"
        unit["attrs"]["aria-label"] = _("Unit of the cell count")
        if getattr(self, "number_label", ""):
            number["attrs"]["aria-label"] = self.number_label
        unit["attrs"].pop("aria-describedby", None)
        return context

    def render(self, name: str, value: Any, attrs: dict | None = None, renderer=None) -> str:
        """The number and its unit side by side, and below them the count in full cells."""
        inputs = super().render(name, value, attrs, renderer)
        if not isinstance(value, list | tuple):
            value = self.decompress(value)
        try:
            full = _("= %(cells)s cells") % {
                "cells": intcomma(dosing.cells_from_entry(str(value[0] or ""), value[1] or "1"))
            }
        except ValueError:
            full = ""
        return format_html(
            '<div class="input-group cell-count">{}</div>'
            '<div class="form-text" data-role="cells-full" data-testid="cells-full" '
            'aria-live="polite">{}</div>',
            inputs,
            full,
        )

    def decompress(self, value: Any) -> list[Any]:
        if value in (None, ""):
            return [None, "1"]
        return [value, "1"]


class CellCountField(forms.MultiValueField):
    """Cells infused, typed in cells (plain or 6.05e9), in 10^8 or in 10^9: stored in cells."""

    widget = CellCountWidget

    def __init__(self, **kwargs: Any) -> None:
        fields = (
            forms.CharField(),
            forms.ChoiceField(choices=CELL_UNIT_CHOICES, required=False),
        )
        super().__init__(fields, require_all_fields=False, **kwargs)
        self.widget.number_label = self.label

    def compress(self, data_list: list[Any]) -> int | None:
        if not data_list or data_list[0] in (None, ""):
            return None
        text, unit = data_list[0], data_list[1] or "1"
        try:
            return dosing.cells_from_entry(str(text), unit)
        except ValueError as error:
            raise forms.ValidationError(
                _(
                    "Enter the cells infused as a positive number: in cells (e.g. "
                    "6050000000 or 6.05e9), or in 10⁸ or 10⁹ cells (e.g. 6.05 × 10⁹)."
                ),
                code="invalid",
            ) from error


# Filled by the page's script when the infusion date is the date of a visit with a weight.
WEIGHT_CARRIED = (
    "{% load i18n %}"
    '<div class="form-text text-success-emphasis mt-n2 mb-3 d-none" id="weight-carried" '
    'data-testid="weight-carried" aria-live="polite" data-template="'
    "{% translate 'Carried over: %(weight)s kg measured at %(code)s on %(date)s. Weigh again "
    "if it has changed.' %}\"></div>"
)


class InfusionForm(ServiceModelForm):
    # Set by the page's script (or the server's first answer) to the planned dose the user
    # was shown; the server saves only when it matches its own computation.
    planned_cells_seen = forms.IntegerField(required=False, widget=forms.HiddenInput)
    save_anyway = forms.BooleanField(
        label=_("Save anyway: the dose deviation is confirmed"),
        required=False,
        help_text=_("The deviation is recorded and flagged for review."),
    )
    reason = reason_field(required=False)
    actual_cells = CellCountField(
        label=capfirst(Infusion._meta.get_field("actual_cells").verbose_name),
        help_text=_("In cells, or choose 10⁸ or 10⁹ and type e.g. 6.05; the full number shows."),
    )

    class Meta:
        model = Infusion
        fields = list(INFUSION_DATA_FIELDS)
        widgets = {
            "infusion_date": DateInput(),
            "start_time": TimeInput(),
            "end_time": TimeInput(),
            "dosing_weight_kg": forms.NumberInput(attrs={"step": "0.1", "min": "0"}),
        }
        help_texts = {
            "infusion_date": _("The day the infusion was given; it is the visit's actual date."),
            "start_time": _("When the infusion started."),
            "end_time": _("When the infusion ended."),
            "lot_number": _("As printed on the product label."),
            "viability_pct": _("Cell viability of the product released, from its certificate."),
            "volume_ml": _("Volume infused."),
            "interrupted": _("Tick if the infusion was paused or stopped early."),
        }

    def __init__(self, *args: Any, editing: bool = False, warn_deviation: bool = False, **kw):
        super().__init__(*args, **kw)
        self.fields["infusion_date"].widget = DateInput()
        if not editing:
            del self.fields["reason"]
        version_add(self, self.instance if self.instance.pk else None)
        self.helper = FormHelper()
        self.helper.form_tag = False
        extra = [Div("save_anyway", css_class="alert alert-warning")] if warn_deviation else []
        self.helper.layout = Layout(
            Fieldset(
                _("Date and time"),
                Row(
                    Column("infusion_date", css_class="col-md-4"),
                    Column("start_time", css_class="col-md-4"),
                    Column("end_time", css_class="col-md-4"),
                ),
            ),
            Fieldset(
                _("Dose"),
                Row(
                    Column("dosing_weight_kg", HTML(WEIGHT_CARRIED), css_class="col-xl-6"),
                    Column("actual_cells", css_class="col-xl-6"),
                ),
                "planned_cells_seen",
                # On a phone the dose panel moves here, next to the cells (static/js/app.js).
                HTML('<div data-dock-slot="dose-preview" class="mb-3"></div>'),
            ),
            Fieldset(
                _("Product"),
                Row(
                    Column("lot_number", css_class="col-md-4"),
                    Column("viability_pct", css_class="col-md-4"),
                    Column("volume_ml", css_class="col-md-4"),
                ),
            ),
            Fieldset(
                _("Vital signs before the infusion"),
                Row(
                    *(
                        Column(f"pre_{name}", css_class="col-md-3")
                        for name in ("systolic_bp", "diastolic_bp", "heart_rate", "temperature_c")
                    )
                ),
            ),
            Fieldset(
                _("Vital signs after the infusion"),
                Row(
                    *(
                        Column(f"post_{name}", css_class="col-md-3")
                        for name in ("systolic_bp", "diastolic_bp", "heart_rate", "temperature_c")
                    )
                ),
            ),
            Fieldset(_("Events"), "interrupted", "reaction"),
            *extra,
            *(["reason"] if editing else []),
            "version",
        )

    def service_data(self) -> dict[str, Any]:
        return service_data(self, INFUSION_DATA_FIELDS)
