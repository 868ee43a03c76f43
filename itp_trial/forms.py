"""What every data-entry form shares: widgets, the reason for change, and showing a
service's refusal on the form, so that the same input is refused the same way everywhere.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils.translation import gettext_lazy as _


class DateInput(forms.DateInput):
    """A browser date picker; the value travels as ISO 8601."""

    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs=attrs, format="%Y-%m-%d")


class TimeInput(forms.TimeInput):
    input_type = "time"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs=attrs, format="%H:%M")


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs=attrs, format="%Y-%m-%dT%H:%M")


def add_service_errors(
    form: forms.Form, error: ValidationError, *, skip: set[str] | None = None
) -> None:
    """Show a service's refusal on the form: on its field when the form has one, else on top.

    Errors keyed by a name in `skip` (fields the form already refused) are left out.
    """
    if not hasattr(error, "error_dict"):
        form.add_error(None, error.messages)
        return
    for field, errors in error.error_dict.items():
        if skip and field in skip:
            continue
        target = field if field in form.fields and field != NON_FIELD_ERRORS else None
        form.add_error(target, ValidationError(errors).messages)


def reason_field(*, required: bool = True) -> forms.CharField:
    return forms.CharField(
        label=_("Reason for change"),
        required=required,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Why saved data is being changed; kept in the audit trail.")
        if required
        else _("Needed only when this changes data already saved; kept in the audit trail."),
    )


def service_data(form: forms.Form, fields: tuple[str, ...]) -> dict[str, Any]:
    """The cleaned values of `fields` that the form has, to pass to a service."""
    return {name: form.cleaned_data[name] for name in fields if name in form.cleaned_data}


class ServiceModelForm(forms.ModelForm):
    """A model form for its labels, help texts and types only: the service validates and saves.

    The model's validation is left to the service so that a form and the CSV import are
    refused by the same rules with the same messages; the form never saves itself.
    """

    def _post_clean(self) -> None:
        pass


def version_add(form: forms.Form, record: Any, *, name: str = "version") -> None:
    """Carry the version of `record` the form was loaded from, in a hidden field.

    The service refuses a save based on an older version than the stored one (protocol
    section 8). A record not created yet carries 0: if someone else creates it meanwhile,
    the save is refused too. A bound form keeps the version it was posted with.
    """
    form.fields[name] = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=0)
    form.initial.setdefault(name, getattr(record, "version", 0) if record is not None else 0)


def form_version(form: forms.Form, name: str = "version") -> int | None:
    """The version the posted form was based on, when it carried one."""
    return form.cleaned_data.get(name) if name in form.fields else None
