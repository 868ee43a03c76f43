"""The infusion form: it collects the fields; infusions.services.infusion_record decides."""

from __future__ import annotations

from typing import Any

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Div, Fieldset, Layout, Row
from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from .models import Infusion
from .services import INFUSION_DATA_FIELDS

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
TIME = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")

REASON_HELP = _("Why the saved record is being changed; kept in its history.")


def form_add_service_errors(form: forms.Form, error: ValidationError) -> None:
    """Put a service's ValidationError on the form: on its field when the form has it."""
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error)


def reason_field() -> forms.CharField:
    return forms.CharField(
        label=_("Reason for change"),
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=REASON_HELP,
    )


def service_data(form: forms.Form, fields: tuple[str, ...]) -> dict[str, Any]:
    return {name: form.cleaned_data[name] for name in fields if name in form.cleaned_data}


class ServiceModelForm(forms.ModelForm):
    """A model form for its labels, help texts and types only: the service validates and saves.

    The model's validation is left to the service so that a form and the CSV import are
    refused by the same rules with the same messages; the form never saves itself.
    """

    def _post_clean(self) -> None:
        pass


class InfusionForm(ServiceModelForm):
    # Set by the page's script (or the server's first answer) to the planned dose the user
    # was shown; the server saves only when it matches its own computation.
    planned_cells_seen = forms.IntegerField(required=False, widget=forms.HiddenInput)
    save_anyway = forms.BooleanField(
        label=_("Save anyway: the dose deviation is confirmed"),
        required=False,
        help_text=_("The deviation is recorded and flagged for review."),
    )
    reason = reason_field()

    class Meta:
        model = Infusion
        fields = list(INFUSION_DATA_FIELDS)
        widgets = {
            "infusion_date": DATE,
            "start_time": TIME,
            "end_time": TIME,
            "dosing_weight_kg": forms.NumberInput(attrs={"step": "0.1", "min": "0"}),
            "actual_cells": forms.NumberInput(attrs={"step": "1", "min": "0"}),
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
        self.fields["infusion_date"].widget = DATE
        if not editing:
            del self.fields["reason"]
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
                    Column("dosing_weight_kg", css_class="col-md-6"),
                    Column("actual_cells", css_class="col-md-6"),
                ),
                "planned_cells_seen",
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
        )

    def service_data(self) -> dict[str, Any]:
        return service_data(self, INFUSION_DATA_FIELDS)
