"""Writes on infusions: record or correct infusion n, with its dose derived and stored."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from itp_trial import protocol
from itp_trial.audit import audited_save, version_check
from itp_trial.dates import date_future_add
from itp_trial.tasks import PARTICIPANT_CHANGED, task_run
from subjects.models import Participant

from . import dosing
from .models import Infusion

# The fields a caller may give; the dose columns are derived, the rest are fixed.
INFUSION_DATA_FIELDS: tuple[str, ...] = (
    "infusion_date",
    "start_time",
    "end_time",
    "dosing_weight_kg",
    "actual_cells",
    "lot_number",
    "viability_pct",
    "volume_ml",
    "pre_systolic_bp",
    "pre_diastolic_bp",
    "pre_heart_rate",
    "pre_temperature_c",
    "post_systolic_bp",
    "post_diastolic_bp",
    "post_heart_rate",
    "post_temperature_c",
    "interrupted",
    "reaction",
)
DERIVED_FIELDS = ("dose_per_kg", "dose_tolerance_pct", "planned_cells", "dose_deviation")

Errors = dict[str, list[Any]]


def _add(errors: Errors, field: str, message: Any) -> None:
    errors.setdefault(field, []).append(message)


def assign_fields(
    instance: Any, data: Mapping[str, Any], *, allowed: tuple[str, ...], errors: Errors
) -> None:
    """Set the given fields on `instance`, converted to their Python types.

    Strings (a CSV import) and typed values (a form) end up the same, so that the rules
    below compare dates with dates. A value that does not convert is an error on its field.
    """
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        _add(
            errors,
            NON_FIELD_ERRORS,
            _("Unknown fields: %(names)s.") % {"names": ", ".join(unknown)},
        )
    for name in allowed:
        if name not in data:
            continue
        field = instance._meta.get_field(name)
        value = data[name]
        if value == "" and field.null:
            value = None
        try:
            value = field.to_python(value)
        except ValidationError as error:
            errors.setdefault(name, []).extend(error.messages)
            continue
        setattr(instance, field.attname, value)


def clean_fields_into(instance: Any, *, errors: Errors, exclude: tuple[str, ...] = ()) -> None:
    """The model's own per-field validation, merged into `errors` (fields not yet in error)."""
    try:
        instance.clean_fields(exclude=[*exclude, *errors])
    except ValidationError as error:
        for field, messages in error.message_dict.items():
            errors.setdefault(field, []).extend(messages)


def _infusion_errors(
    infusion: Infusion,
    *,
    participant: Participant,
    others: dict[int, Infusion],
    adding: bool,
    today: date,
    errors: Errors,
) -> None:
    """The protocol's refusals for infusion `infusion.number` given the participant's others."""
    number = infusion.number
    if adding:
        if participant.enrolled_on is None:
            _add(
                errors,
                NON_FIELD_ERRORS,
                _("Only an enrolled participant can receive an infusion."),
            )
        if participant.withdrawal_date is not None:
            _add(
                errors,
                NON_FIELD_ERRORS,
                _("The participant withdrew on %(date)s; no infusion can be recorded.")
                % {"date": participant.withdrawal_date.isoformat()},
            )
        if participant.treatment_discontinued_date is not None:
            _add(
                errors,
                NON_FIELD_ERRORS,
                _("Treatment was discontinued on %(date)s; no further infusion can be recorded.")
                % {"date": participant.treatment_discontinued_date.isoformat()},
            )
        if number > 1 and number - 1 not in others:
            _add(
                errors,
                "number",
                _("Infusion %(previous)s has not been recorded: record it before infusion %(n)s.")
                % {"previous": number - 1, "n": number},
            )

    day = infusion.infusion_date
    if not isinstance(day, date):
        return
    date_future_add(errors, "infusion_date", day, today=today)
    if day < participant.consent_date:
        _add(
            errors,
            "infusion_date",
            _("The infusion cannot be before informed consent (%(date)s).")
            % {"date": participant.consent_date.isoformat()},
        )
    previous, following = others.get(number - 1), others.get(number + 1)
    if previous is not None and day <= previous.infusion_date:
        _add(
            errors,
            "infusion_date",
            _("Infusion %(n)s must be after infusion %(previous)s, given on %(date)s.")
            % {
                "n": number,
                "previous": previous.number,
                "date": previous.infusion_date.isoformat(),
            },
        )
    if following is not None and day >= following.infusion_date:
        _add(
            errors,
            "infusion_date",
            _("Infusion %(n)s must be before infusion %(next)s, given on %(date)s.")
            % {"n": number, "next": following.number, "date": following.infusion_date.isoformat()},
        )
    # Corrections to infusions already given stay possible after withdrawal or
    # discontinuation, but not a date that moves past them.
    if participant.withdrawal_date is not None and day > participant.withdrawal_date:
        _add(
            errors,
            "infusion_date",
            _("The infusion cannot be after the withdrawal on %(date)s.")
            % {"date": participant.withdrawal_date.isoformat()},
        )
    stopped = participant.treatment_discontinued_date
    if stopped is not None and day > stopped:
        _add(
            errors,
            "infusion_date",
            _("The infusion cannot be after treatment was discontinued on %(date)s.")
            % {"date": stopped.isoformat()},
        )


def dosing_weight_error(weight: Decimal | None) -> str | None:
    """Why a dosing weight is refused, or None; shared by the service and the dose preview."""
    if weight is None:
        return None
    if weight <= 0:
        return _("The dosing weight cannot be zero: enter the weight measured before the infusion.")
    if not protocol.DOSING_WEIGHT_MIN_KG <= weight <= protocol.DOSING_WEIGHT_MAX_KG:
        return _("The dosing weight must be between %(min)s and %(max)s kg.") % {
            "min": protocol.DOSING_WEIGHT_MIN_KG,
            "max": protocol.DOSING_WEIGHT_MAX_KG,
        }
    return None


def _dose_errors(infusion: Infusion, *, errors: Errors) -> None:
    if "dosing_weight_kg" not in errors:
        message = dosing_weight_error(infusion.dosing_weight_kg)
        if message:
            errors["dosing_weight_kg"] = [message]
    if "actual_cells" not in errors and infusion.actual_cells is not None:
        if infusion.actual_cells <= 0:
            errors["actual_cells"] = [_("The number of cells infused must be more than zero.")]
    start, end = infusion.start_time, infusion.end_time
    if start is not None and end is not None and end < start:
        _add(errors, "end_time", _("The end time cannot be before the start time."))


def infusion_dose_per_kg(infusion: Infusion | None) -> Any:
    """The dose per kg an infusion is judged by: the one in force when it was first recorded."""
    if infusion is not None and infusion.dose_per_kg is not None:
        return infusion.dose_per_kg
    return protocol.DOSE_PER_KG


def infusion_dose_tolerance_pct(infusion: Infusion | None) -> Any:
    """The tolerance an infusion is judged by: like its dose per kg, the one in force when it
    was first recorded, so that a later protocol change does not re-judge it."""
    if infusion is not None and infusion.dose_tolerance_pct is not None:
        return dosing.plain_pct(infusion.dose_tolerance_pct)
    return protocol.DOSE_TOLERANCE_PCT


def infusion_dose_assess(
    infusion: Infusion | None, *, weight_kg: Decimal, actual_cells: int
) -> dosing.DoseAssessment:
    """The dose `weight_kg` and `actual_cells` give for `infusion` (None: a new one)."""
    return dosing.dose_assess(
        weight_kg=weight_kg,
        actual_cells=actual_cells,
        dose_per_kg=infusion_dose_per_kg(infusion),
        tolerance_pct=infusion_dose_tolerance_pct(infusion),
    )


def _infusion_prepare(
    *,
    participant: Participant,
    number: int,
    data: Mapping[str, Any],
    today: date,
) -> tuple[Infusion, bool]:
    """Infusion `number` with `data` applied and its dose derived; raises what is refused."""
    others = {i.number: i for i in Infusion.objects.filter(participant=participant)}
    if not 1 <= number <= protocol.INFUSION_COUNT:
        raise ValidationError(
            {
                "number": _("The protocol gives %(count)s infusions; there is no infusion %(n)s.")
                % {"count": protocol.INFUSION_COUNT, "n": number}
            }
        )
    infusion = others.pop(number, None)
    adding = infusion is None
    if adding:
        infusion = Infusion(participant=participant, number=number)

    errors: Errors = {}
    assign_fields(infusion, data, allowed=INFUSION_DATA_FIELDS, errors=errors)
    _infusion_errors(
        infusion,
        participant=participant,
        others=others,
        adding=adding,
        today=today,
        errors=errors,
    )
    _dose_errors(infusion, errors=errors)
    clean_fields_into(infusion, errors=errors, exclude=("participant", *DERIVED_FIELDS))
    if errors:
        raise ValidationError(errors)

    assessment = infusion_dose_assess(
        None if adding else infusion,
        weight_kg=infusion.dosing_weight_kg,
        actual_cells=infusion.actual_cells,
    )
    infusion.dose_per_kg = assessment.dose_per_kg
    infusion.dose_tolerance_pct = assessment.tolerance_pct
    infusion.planned_cells = assessment.planned_cells
    infusion.dose_deviation = assessment.deviation
    return infusion, adding


def infusion_validate(
    *,
    participant: Participant,
    number: int,
    data: Mapping[str, Any],
    today: date | None = None,
) -> dosing.DoseAssessment:
    """Judge `data` as infusion_record would, write nothing, and return the dose it would store.

    The infusion page calls it to show every refusal, the planned dose and any deviation
    before anything is saved.
    """
    infusion, _adding = _infusion_prepare(
        participant=participant, number=number, data=data, today=today or timezone.localdate()
    )
    return dosing.stored_dose(infusion)


@transaction.atomic
def infusion_record(
    *,
    participant: Participant,
    user: Any,
    number: int,
    data: Mapping[str, Any],
    reason: str = "",
    today: date | None = None,
    version: int | None = None,
) -> Infusion:
    """Record infusion `number` of a participant, or correct it.

    Changing or clearing a stored value needs a reason; `version` is the one the form or
    import row was based on (0: not recorded then), and a save based on an older one is
    refused with what changed since.

    Refuses a sixth infusion, one out of order or dated on or before the previous one, one
    for a participant not enrolled, withdrawn or whose treatment was discontinued, a future
    date, and a dosing weight of zero or out of range. The dose columns (dose per kg,
    planned cells, dose deviation) are derived by infusions.dosing and stored; the dose per
    kg is the protocol's at first recording and is kept on correction. Nothing is written
    when anything is refused.
    """
    today = today or timezone.localdate()
    # The participant's row lock serialises two coordinators recording at the same moment.
    participant = Participant.objects.select_for_update().get(pk=participant.pk)
    infusion, _adding = _infusion_prepare(
        participant=participant, number=number, data=data, today=today
    )
    if version is not None and not _adding:
        version_check(infusion, version=version)
    if audited_save(infusion, user=user, reason=reason):
        task_run(PARTICIPANT_CHANGED, participant_id=participant.pk, today=today)
    return infusion
