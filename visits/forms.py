"""Forms of the visit pages: one form per kind of visit, a missed visit, an unscheduled count.

The ranges and the refusals are the services' (visits.services); the forms only collect the
values, so that a number out of range gets the same message here as in a CSV import.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.text import capfirst, format_lazy
from django.utils.translation import gettext_lazy as _

from itp_trial import protocol
from itp_trial.forms import DateInput, reason_field, version_add
from itp_trial.text import interpolated
from subjects.forms import yes_no_field, yes_no_initial

from .models import PlateletCount, Visit
from .services import PLATELET_FIELDS, VISIT_FIELDS_BY_KIND, VITAL_FIELDS

YES_NO_FIELDS = ("new_adverse_event", "medication_change")
HELP_TEXTS = {
    "weight_kg": interpolated(
        _("kg, %(low)s to %(high)s, one decimal"),
        low=protocol.WEIGHT_RANGE_KG[0],
        high=protocol.WEIGHT_RANGE_KG[1],
    ),
    "height_cm": interpolated(
        _("cm, %(low)s to %(high)s"),
        low=protocol.HEIGHT_RANGE_CM[0],
        high=protocol.HEIGHT_RANGE_CM[1],
    ),
    "physical_exam_findings": _("Required when the examination is abnormal."),
    "new_adverse_event": _("If yes, the adverse event form opens after saving."),
    "medication_change": _("If yes, the concomitant medication form opens after saving."),
}


def bleeding_grade_field(*, label: Any, help_text: Any = "") -> forms.TypedChoiceField:
    """The WHO bleeding grade as a choice of its grades, each with what it means."""
    return forms.TypedChoiceField(
        label=label,
        choices=[
            ("", _("Choose the grade")),
            *(
                (grade, format_lazy("{} · {}", grade, text))
                for grade, text in protocol.WHO_BLEEDING_GRADES.items()
            ),
        ],
        coerce=int,
        empty_value=None,
        required=False,
        help_text=help_text,
    )


def _model_field(name: str) -> Any:
    return (PlateletCount if name in PLATELET_FIELDS else Visit)._meta.get_field(name)


def _form_field(name: str) -> forms.Field:
    model_field = _model_field(name)
    label = capfirst(model_field.verbose_name)
    help_text = HELP_TEXTS.get(name, model_field.help_text)
    if name in YES_NO_FIELDS:
        return yes_no_field(label=label, help_text=help_text)
    if name == "physical_exam_normal":
        return forms.TypedChoiceField(
            label=_("Physical examination"),
            choices=[("yes", _("Normal")), ("no", _("Abnormal"))],
            coerce=lambda value: value == "yes",
            empty_value=None,
            required=False,
            widget=forms.RadioSelect,
            help_text=_("A short examination: skin and mucosa for bleeding, spleen, nodes."),
        )
    if name == "who_bleeding_grade":
        return bleeding_grade_field(label=label)
    if name == "physical_exam_findings":
        return forms.CharField(
            label=label,
            required=False,
            widget=forms.Textarea(attrs={"rows": 2}),
            help_text=help_text,
        )
    # No min/max here: the service checks every range with a message that gives the units.
    kwargs: dict[str, Any] = {"required": False, "help_text": help_text, "label": label}
    if model_field.get_internal_type() == "DecimalField":
        return forms.DecimalField(decimal_places=model_field.decimal_places, **kwargs)
    return forms.IntegerField(**kwargs)


class VisitForm(forms.Form):
    """The page of one visit: its date and the clinical data of its kind."""

    NUMBER_FIELDS = (*VITAL_FIELDS, "weight_kg", "height_cm", *PLATELET_FIELDS)

    actual_date = forms.DateField(
        label=_("Visit date"),
        widget=DateInput(),
        help_text=_(
            "Never in the future nor before consent, and in protocol order. Outside the window "
            "it is accepted after a warning."
        ),
    )
    save_anyway = forms.BooleanField(
        label=_("Save anyway: I confirm the date, outside the visit's window"), required=False
    )

    def __init__(
        self,
        *args: Any,
        visit: Visit,
        editing: bool,
        count: PlateletCount | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.visit = visit
        self.data_fields = ("actual_date", *VISIT_FIELDS_BY_KIND[visit.definition.kind])
        for name in self.data_fields[1:]:
            self.fields[name] = _form_field(name)
        if editing:
            self.fields["reason"] = reason_field(required=False)
        version_add(self, visit)
        if "platelets" in self.fields:
            version_add(self, count, name="platelet_version")

    def visit_data(self) -> dict[str, Any]:
        """The values for the service; of an invalid form, those that are valid."""
        data = {
            name: self.cleaned_data[name] for name in self.data_fields if name in self.cleaned_data
        }
        if data.get("physical_exam_findings") is not None:
            data["physical_exam_findings"] = (data["physical_exam_findings"] or "").strip()
        return data

    def entry_fields(self) -> list[forms.BoundField]:
        return [
            self[name]
            for name in self.fields
            if name != "save_anyway" and not self.fields[name].widget.is_hidden
        ]


def visit_initial(visit: Visit, count: PlateletCount | None) -> dict[str, Any]:
    initial: dict[str, Any] = {
        name: getattr(visit, name)
        for name in ("actual_date", *VISIT_FIELDS_BY_KIND[visit.definition.kind])
        if name not in PLATELET_FIELDS
    }
    for name in (*YES_NO_FIELDS, "physical_exam_normal"):
        if name in initial:
            initial[name] = yes_no_initial(initial[name])
    if count is not None:
        initial.update(platelets=count.platelets, who_bleeding_grade=count.who_bleeding_grade)
    return initial


class MissedForm(forms.Form):
    missed_reason = forms.CharField(
        label=_("Reason the visit was missed"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("What happened, and whether the participant was contacted."),
    )

    def __init__(
        self, *args: Any, editing: bool, visit: Visit | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        if editing:
            self.fields["reason"] = reason_field(required=False)
        version_add(self, visit)


class PlateletForm(forms.Form):
    """An unscheduled platelet result (a hospital lab result between visits)."""

    sample_date = forms.DateField(
        label=_("Sample date"),
        widget=DateInput(),
        help_text=_("Not in the future, not before consent, not after withdrawal."),
    )
    platelets = forms.IntegerField(
        label=capfirst(PlateletCount._meta.get_field("platelets").verbose_name),
        help_text=PlateletCount._meta.get_field("platelets").help_text,
    )
    who_bleeding_grade = bleeding_grade_field(
        label=capfirst(PlateletCount._meta.get_field("who_bleeding_grade").verbose_name)
    )
    reason = reason_field(required=False)

    def __init__(self, *args: Any, count: PlateletCount | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if count is not None:
            # Correcting a stored count: its date names it, its values change with a reason,
            # and the version it was loaded from refuses a lost update.
            version_add(self, count)
            self.fields["sample_date"].disabled = True
            self.fields["sample_date"].help_text = _(
                "The date names the count; a result of another date is a new count."
            )
