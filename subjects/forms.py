"""Forms of the participant pages. Each one calls a service; the service's refusals are shown
on the form with `add_service_errors`, so the same input is refused the same way everywhere.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from itp_trial import protocol
from itp_trial.forms import DateInput, reason_field, version_add

from . import rules
from .models import Participant, Sex, WithdrawalReason
from .services import height_error


def yes_no_field(*, label: Any, help_text: Any = "", required: bool = True) -> forms.Field:
    return forms.TypedChoiceField(
        label=label,
        choices=[("yes", _("Yes")), ("no", _("No"))],
        coerce=lambda value: value == "yes",
        empty_value=None,
        required=required,
        widget=forms.RadioSelect,
        help_text=help_text,
    )


def yes_no_initial(value: bool | None) -> str | None:
    return None if value is None else ("yes" if value else "no")


# V1: consent, demographics and ITP history, in the order of the paper CRF.
PARTICIPANT_FIELDS = (
    "consent_date",
    "consent_version",
    "guardian_consent",
    "child_assent",
    "sex",
    "birth_date",
    "itp_diagnosis_date",
    "prior_therapies",
    "splenectomy",
    "splenectomy_date",
    "height_cm",
)
DATE_FIELDS = ("consent_date", "birth_date", "itp_diagnosis_date", "splenectomy_date")


class ParticipantForm(forms.Form):
    """V1 consent, demographic and history data. The age is computed, never typed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fields = forms.fields_for_model(
            Participant,
            fields=PARTICIPANT_FIELDS,
            widgets={
                **{name: DateInput() for name in DATE_FIELDS},
                "prior_therapies": forms.Textarea(attrs={"rows": 3}),
            },
            help_texts={
                "birth_date": _(
                    "The age at consent is computed from it: the trial takes ages "
                    "%(low)s to %(high)s."
                )
                % {"low": protocol.AGE_MIN_YEARS, "high": protocol.AGE_MAX_YEARS},
                "splenectomy": _("Tick if the spleen was removed; give the date below."),
                "splenectomy_date": _("Required when there was a splenectomy."),
                "height_cm": _("cm, %(low)s to %(high)s")
                % {"low": protocol.HEIGHT_RANGE_CM[0], "high": protocol.HEIGHT_RANGE_CM[1]},
            },
        )
        sex = Participant._meta.get_field("sex")
        fields["sex"] = forms.ChoiceField(
            label=capfirst(sex.verbose_name),
            choices=Sex.choices,
            widget=forms.RadioSelect,
            help_text=_("Sex recorded at birth."),
        )
        for name in ("guardian_consent", "child_assent"):
            field = Participant._meta.get_field(name)
            fields[name] = forms.BooleanField(
                label=capfirst(field.verbose_name), required=False, help_text=field.help_text
            )
        self.fields.update(fields)

    def clean_height_cm(self) -> Any:
        value = self.cleaned_data.get("height_cm")
        message = height_error(value)
        if message:
            raise ValidationError(message)
        return value

    def participant_data(self) -> dict[str, Any]:
        data = {name: self.cleaned_data.get(name) for name in PARTICIPANT_FIELDS}
        for name in ("guardian_consent", "child_assent"):
            data[name] = True if data[name] else None  # unticked: not obtained / not applicable
        data["prior_therapies"] = data["prior_therapies"] or ""
        return data

    def age_at_consent(self) -> int | None:
        """The computed age, shown beside the form once both dates are known."""
        source = self.cleaned_data if self.is_bound and hasattr(self, "cleaned_data") else {}
        birth = source.get("birth_date") or self.initial.get("birth_date")
        consent = source.get("consent_date") or self.initial.get("consent_date")
        if isinstance(birth, date) and isinstance(consent, date) and birth < consent:
            return rules.age_years(birth, consent)
        return None


class ScreeningForm(ParticipantForm):
    screening_date = forms.DateField(
        label=_("Screening date (V1)"),
        widget=DateInput(),
        help_text=_("The date of the screening visit: on or after consent, never in the future."),
    )

    field_order = ("screening_date", *PARTICIPANT_FIELDS)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.order_fields(self.field_order)


class ParticipantEditForm(ParticipantForm):
    def __init__(self, *args: Any, participant: Participant | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reason"] = reason_field(required=False)
        version_add(self, participant)


def participant_initial(participant: Participant) -> dict[str, Any]:
    return {name: getattr(participant, name) for name in PARTICIPANT_FIELDS}


class EligibilityForm(forms.Form):
    """The I1-I5 / E1-E8 checklist: one yes/no per criterion, I2 offered as computed."""

    def __init__(
        self,
        *args: Any,
        participant: Participant,
        answers: dict[str, bool],
        editing: bool,
        versions: dict[str, int] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        age = rules.age_years(participant.birth_date, participant.consent_date)
        computed = rules.age_eligible(participant.birth_date, participant.consent_date)
        for criterion in protocol.CRITERIA:
            help_text: Any = ""
            initial = answers.get(criterion.code)
            if criterion.code == protocol.AGE_CRITERION_CODE:
                help_text = _(
                    "Computed from the dates: aged %(age)s at consent, so %(answer)s."
                ) % {
                    "age": age,
                    "answer": _("met") if computed else _("not met"),
                }
                if initial is None:
                    initial = computed
            elif criterion.to_confirm:
                help_text = _("To be confirmed against the full protocol.")
            self.fields[criterion.code] = yes_no_field(
                label=f"{criterion.code}. {criterion.text}", help_text=help_text, required=False
            )
            self.initial.setdefault(criterion.code, yes_no_initial(initial))
        if editing:
            self.fields["reason"] = reason_field(required=False)
        # The version of each answer as loaded (0: not answered yet), so that a checklist
        # saved over someone else's answers is refused.
        for code, version in (versions or {}).items():
            version_add(self, None, name=f"version_{code}")
            self.initial[f"version_{code}"] = version

    def answer_versions(self) -> dict[str, int]:
        return {
            c.code: self.cleaned_data[f"version_{c.code}"]
            for c in protocol.CRITERIA
            if self.cleaned_data.get(f"version_{c.code}") is not None
        }

    def answers(self) -> dict[str, bool | None]:
        return {c.code: self.cleaned_data.get(c.code) for c in protocol.CRITERIA}

    def inclusion_fields(self) -> list[forms.BoundField]:
        return [self[c.code] for c in protocol.INCLUSION_CRITERIA]

    def exclusion_fields(self) -> list[forms.BoundField]:
        return [self[c.code] for c in protocol.EXCLUSION_CRITERIA]


class EnrolForm(forms.Form):
    enrolled_on = forms.DateField(
        label=_("Enrolment date"),
        widget=DateInput(),
        help_text=_("As on the CRF: today, or the day it happened when entering from paper."),
    )
    planned_first_infusion_date = forms.DateField(
        label=_("Planned date of infusion 1"),
        widget=DateInput(),
        help_text=_("Study day 1; the screening and baseline windows hang on it."),
    )
    confirm = forms.BooleanField(required=False, widget=forms.HiddenInput)


class WithdrawForm(forms.Form):
    on = forms.DateField(
        label=_("Withdrawal date"),
        widget=DateInput(),
        help_text=_("Visits after this date are no longer expected; data entered is kept."),
    )
    withdrawal_reason = forms.ChoiceField(
        label=_("Reason for withdrawal"), choices=[("", "---------"), *WithdrawalReason.choices]
    )
    detail = forms.CharField(
        label=_("Details"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Circumstances, and who decided."),
    )


class DiscontinueForm(forms.Form):
    on = forms.DateField(
        label=_("Date treatment was discontinued"),
        widget=DateInput(),
        help_text=_("Infusions not given become not expected; follow-up hangs on the last one."),
    )
    reason = forms.CharField(
        label=_("Reason for discontinuing treatment"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
