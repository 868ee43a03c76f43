"""What every data-entry form shares: widgets, the reason for change, and showing a
service's refusal on the form, so that the same input is refused the same way everywhere.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils.translation import gettext_lazy as _

# Dates and times are typed as the pages show them, ISO 8601 and 24 h, whatever the
# browser's locale: a native date or time picker would show mm/dd/yyyy and AM/PM to some
# users and dd/mm/yyyy to others, and a slip between those is a wrong clinical date.
ISO_DATE_PATTERN = r"\d{4}-\d{2}-\d{2}"
ISO_TIME_PATTERN = r"([01]\d|2[0-3]):[0-5]\d"


def _typed_attrs(attrs: dict[str, Any] | None, *, pattern: str, size: int, hint: Any) -> dict:
    return {
        "inputmode": "numeric",
        "autocomplete": "off",
        "pattern": pattern,
        "placeholder": hint,
        "title": hint,
        "size": size,
        "class": "iso-input",
        "data-format": hint,
        **(attrs or {}),
    }


class DateInput(forms.DateInput):
    """A date typed as YYYY-MM-DD (ISO 8601), the way every page shows dates."""

    input_type = "text"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        attrs = _typed_attrs(attrs, pattern=ISO_DATE_PATTERN, size=10, hint=_("YYYY-MM-DD"))
        super().__init__(attrs=attrs, format="%Y-%m-%d")


class TimeInput(forms.TimeInput):
    """A time typed on the 24-hour clock, HH:MM."""

    input_type = "text"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        attrs = _typed_attrs(attrs, pattern=ISO_TIME_PATTERN, size=5, hint=_("HH:MM (24 h)"))
        super().__init__(attrs=attrs, format="%H:%M")


class DateTimeInput(forms.DateTimeInput):
    """A date and time typed as YYYY-MM-DD HH:MM (24 h), in the site's time zone."""

    input_type = "text"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        attrs = _typed_attrs(
            attrs,
            pattern=f"{ISO_DATE_PATTERN}[ T]{ISO_TIME_PATTERN}",
            size=16,
            hint=_("YYYY-MM-DD HH:MM (24 h)"),
        )
        super().__init__(attrs=attrs, format="%Y-%m-%d %H:%M")


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
