"""The infusion form: it collects the fields; infusions.services.infusion_record decides."""

from __future__ import annotations

from typing import Any

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Div, Fieldset, Layout, Row
from django import forms
from django.utils.translation import gettext_lazy as _

from itp_trial.forms import (
    DateInput,
    ServiceModelForm,
    TimeInput,
    reason_field,
    service_data,
    version_add,
)

from .models import Infusion
from .services import INFUSION_DATA_FIELDS


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

    class Meta:
        model = Infusion
        fields = list(INFUSION_DATA_FIELDS)
        widgets = {
            "infusion_date": DateInput(),
            "start_time": TimeInput(),
            "end_time": TimeInput(),
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
            "version",
        )

    def service_data(self) -> dict[str, Any]:
        return service_data(self, INFUSION_DATA_FIELDS)
