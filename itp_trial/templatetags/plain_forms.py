"""`{% filter_field field %}`: one field of a list page's filters, as Bootstrap shows it.

The filters above a list are a few selects and text boxes; rendering each through crispy's
templates and Django's widget templates cost a list page more than its rows (issue 15). The
same markup is written here in Python: the label, the control, its help text and its errors,
tied together by `for` and `aria-describedby`. A widget other than a plain select or input
is left to Django's own rendering.
"""

from __future__ import annotations

from typing import Any

from django import forms, template
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


def _control_html(field: forms.BoundField, attrs: dict[str, Any]) -> SafeString:
    widget = field.field.widget
    value = field.value()
    if type(widget) is forms.Select:
        chosen = "" if value is None else str(value)
        choices = list(field.field.choices)
        if all(not isinstance(label, (list, tuple)) for _value, label in choices):
            options = format_html_join(
                "\n",
                "<option value=\"{}\"{}>{}</option>",
                (
                    (v, mark_safe(" selected") if str(v) == chosen else "", label)
                    for v, label in choices
                ),
            )
            attrs = {**widget.attrs, **attrs, "class": f"select {attrs['class']}"}
            return format_html(
                '<select name="{}"{}>\n{}\n</select>', field.html_name, flatatt(attrs), options
            )
    elif isinstance(widget, forms.TextInput) and type(widget).render is forms.Widget.render:
        attrs = {
            **({"value": widget.format_value(value)} if value not in (None, "") else {}),
            **field.build_widget_attrs({**widget.attrs}),
            **attrs,
            "class": f"textinput {attrs['class']}",
        }
        return format_html(
            '<input type="{}" name="{}"{}>', widget.input_type, field.html_name, flatatt(attrs)
        )
    return field.as_widget(attrs=attrs)


@register.simple_tag
def filter_field(field: forms.BoundField) -> SafeString:
    """The field's label, control, help text and errors (crispy's Bootstrap 5 markup)."""
    control = "form-select" if isinstance(field.field.widget, forms.Select) else "form-control"
    attrs: dict[str, Any] = {"class": control, "id": field.auto_id}
    described = []
    if field.help_text:
        described.append(f"{field.auto_id}_helptext")
    if field.errors:
        attrs["class"] += " is-invalid"
        attrs["aria-invalid"] = "true"
        described.append(f"{field.auto_id}_error")
    if described:
        attrs["aria-describedby"] = " ".join(described)
    help_text = (
        format_html(
            '<div id="{}_helptext" class="form-text">{}</div>', field.auto_id, field.help_text
        )
        if field.help_text
        else ""
    )
    errors = (
        format_html(
            '<div id="{}_error" class="invalid-feedback">{}</div>',
            field.auto_id,
            format_html_join(
                "",
                '<span id="error_{}_{}"><strong>{}</strong></span>',
                ((n, field.auto_id, e) for n, e in enumerate(field.errors, 1)),
            ),
        )
        if field.errors
        else ""
    )
    return format_html(
        '<div id="div_{}" class="mb-3">\n<label for="{}" class="form-label">{}{}</label>\n'
        "{}\n{}{}</div>",
        field.auto_id,
        field.auto_id,
        field.label,
        mark_safe('<span class="asteriskField">*</span>') if field.field.required else "",
        _control_html(field, attrs),
        errors,
        help_text,
    )
