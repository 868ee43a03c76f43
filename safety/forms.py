"""Adverse-event and concomitant-medication forms: they collect; safety.services decides."""

from __future__ import annotations

from typing import Any

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Fieldset, Layout, Row
from django import forms
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from infusions.models import Infusion
from itp_trial import protocol
from itp_trial.forms import (
    DateInput,
    DateTimeInput,
    ServiceModelForm,
    reason_field,
    service_data,
    version_add,
)
from itp_trial.text import interpolated
from subjects.models import Participant

from .models import AdverseEvent, ConcomitantMedication, SeriousCriterion
from .services import AE_DATA_FIELDS, CONMED_DATA_FIELDS, serious_criteria_codes

# No grade is chosen for the user: a default on a clinical value gets saved unread.
GRADE_CHOICES = [
    ("", _("Choose the grade")),
    *(
        (grade, format_lazy("{} · {}", grade, protocol.CTCAE_GRADES[grade]))
        for grade in range(protocol.CTCAE_GRADE_MIN, protocol.CTCAE_GRADE_MAX + 1)
    ),
]


class InfusionChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Infusion) -> str:
        return _("Infusion %(n)s (%(date)s)") % {
            "n": obj.number,
            "date": obj.infusion_date.isoformat(),
        }


class AdverseEventForm(ServiceModelForm):
    ctcae_grade = forms.TypedChoiceField(
        label=_("CTCAE grade"),
        choices=GRADE_CHOICES,
        coerce=int,
        empty_value=None,
        help_text=AdverseEvent._meta.get_field("ctcae_grade").help_text,
    )
    serious_criteria = forms.MultipleChoiceField(
        label=_("Seriousness criteria"),
        choices=SeriousCriterion.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("For a serious event, every criterion that applies."),
    )
    related_infusion = InfusionChoiceField(
        label=_("Related infusion"),
        queryset=Infusion.objects.none(),
        required=False,
        help_text=_("The infusion the event followed, if any."),
    )
    reason = reason_field(required=False)

    class Meta:
        model = AdverseEvent
        fields = [f for f in AE_DATA_FIELDS if f not in ("ctcae_grade", "serious_criteria")]
        widgets = {
            "onset_date": DateInput(),
            "end_date": DateInput(),
            "awareness_at": DateTimeInput(),
            "reported_at": DateTimeInput(),
        }
        help_texts = {
            "term": interpolated(
                _("The CTCAE v%(version)s term, e.g. Infusion related reaction, Fever."),
                version=protocol.CTCAE_VERSION,
            ),
            "onset_date": _("The first day of the event; not before informed consent."),
            "end_date": _("Leave empty and tick Ongoing if the event has not ended."),
            "ongoing": _("Tick while the event continues."),
            "serious": interpolated(
                _(
                    "Death, life-threatening, hospitalisation, disability, anomaly or an "
                    "important medical event: report within %(hours)s hours of awareness."
                ),
                hours=protocol.SAE_REPORT_HOURS,
            ),
            "relationship": _("The investigator's judgement of causality to MSC."),
        }

    def __init__(self, *args: Any, participant: Participant, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["related_infusion"].queryset = participant.infusions.order_by("number")
        if self.instance.pk and not self.is_bound:
            self.initial["serious_criteria"] = self.instance.serious_criteria_list
            # Not a model field of the form (a described choice): show the stored grade.
            self.initial.setdefault("ctcae_grade", self.instance.ctcae_grade)
        if not editing:
            del self.fields["reason"]
        version_add(self, self.instance if self.instance.pk else None)
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout(
            Fieldset(
                _("Event"),
                "term",
                Row(
                    Column("onset_date", css_class="col-md-4"),
                    Column("end_date", css_class="col-md-4"),
                    Column("ongoing", css_class="col-md-4 pt-md-4"),
                ),
                Row(
                    Column("ctcae_grade", css_class="col-md-4"),
                    Column("relationship", css_class="col-md-4"),
                    Column("related_infusion", css_class="col-md-4"),
                ),
                Row(
                    Column("action_taken", css_class="col-md-6"),
                    Column("outcome", css_class="col-md-6"),
                ),
            ),
            Fieldset(_("Seriousness"), "serious", "serious_criteria"),
            Fieldset(
                _("Awareness and reporting"),
                Row(
                    Column("awareness_at", css_class="col-md-6"),
                    Column("reported_at", css_class="col-md-6"),
                ),
            ),
            *(["reason"] if editing else []),
            "version",
        )

    def service_data(self) -> dict[str, Any]:
        data = service_data(self, AE_DATA_FIELDS)
        data["serious_criteria"] = serious_criteria_codes(data.get("serious_criteria"))
        return data


class ConcomitantMedicationForm(ServiceModelForm):
    reason = reason_field(required=False)

    class Meta:
        model = ConcomitantMedication
        fields = list(CONMED_DATA_FIELDS)
        widgets = {"start_date": DateInput(), "end_date": DateInput()}
        help_texts = {
            "drug": _("Generic name."),
            "indication": _("Why it is given."),
            "start_date": _("The first day it was taken."),
            "end_date": _("Leave empty while it is still taken."),
        }

    def __init__(self, *args: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not editing:
            del self.fields["reason"]
        version_add(self, self.instance if self.instance.pk else None)
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout(
            Row(Column("drug", css_class="col-md-6"), Column("indication", css_class="col-md-6")),
            Row(
                Column("dose", css_class="col-md-4"),
                Column("start_date", css_class="col-md-4"),
                Column("end_date", css_class="col-md-4"),
            ),
            "rescue",
            *(["reason"] if editing else []),
            "version",
        )

    def service_data(self) -> dict[str, Any]:
        return service_data(self, CONMED_DATA_FIELDS)
