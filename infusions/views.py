"""Infusion pages: the table, the record form with its dose shown before saving, the record."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.contrib.humanize.templatetags.humanize import intcomma
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from itp_trial import protocol
from itp_trial.access import edit_or_read
from itp_trial.forms import add_service_errors, form_version
from itp_trial.history import history_rows
from subjects.selectors import participant_get

from . import dosing, selectors
from .forms import InfusionForm
from .models import Infusion
from .services import (
    dosing_weight_error,
    infusion_dose_per_kg,
    infusion_dose_tolerance_pct,
    infusion_record,
    infusion_validate,
)


def deviation_warning(assessment: dosing.DoseAssessment) -> str:
    return _(
        "Dose deviation: %(pct)s %% from the planned dose, beyond the tolerance of "
        "±%(tolerance)s %%. Check the cells infused; if they are right, save anyway and the "
        "deviation will be flagged for review."
    ) % {"pct": assessment.deviation_pct, "tolerance": assessment.tolerance_pct}


@permission_required("infusions.view_infusion", raise_exception=True)
def infusion_list(request: HttpRequest, participant_id: int) -> HttpResponse:
    participant = participant_get(participant_id)
    rows = selectors.participant_infusion_rows(participant)
    next_number = len(rows) + 1
    can_record = (
        request.user.has_perm("infusions.add_infusion")
        and next_number <= protocol.INFUSION_COUNT
        and participant.enrolled_on is not None
        and participant.withdrawal_date is None
        and participant.treatment_discontinued_date is None
    )
    return render(
        request,
        "infusions/list.html",
        {
            "participant": participant,
            "rows": rows,
            "next_number": next_number if can_record else None,
            "tolerance_pct": protocol.DOSE_TOLERANCE_PCT,
        },
    )


@permission_required("infusions.view_infusion", raise_exception=True)
def infusion_detail(request: HttpRequest, infusion_id: int) -> HttpResponse:
    infusion = selectors.infusion_get(infusion_id)
    return render(
        request,
        "infusions/detail.html",
        {
            "participant": infusion.participant,
            "infusion": infusion,
            "dose": selectors.infusion_dose(infusion),
            "flags": list(infusion.flags.all()),
            "adverse_events": list(infusion.adverse_events.all()),
            "history": history_rows(infusion),
            "tolerance_pct": infusion_dose_tolerance_pct(infusion),
        },
    )


def _after_save(infusion: Infusion) -> HttpResponse:
    if infusion.reaction and not infusion.adverse_events.exists():
        return redirect(
            reverse("safety:ae_create", args=[infusion.participant_id])
            + "?"
            + urlencode({"infusion": infusion.pk})
        )
    return redirect("infusions:detail", infusion_id=infusion.pk)


def _infusion_id(kwargs: dict) -> int | None:
    return (
        Infusion.objects.filter(participant_id=kwargs["participant_id"], number=kwargs["number"])
        .values_list("pk", flat=True)
        .first()
    )


@edit_or_read(
    "infusions.add_infusion", "infusion", _infusion_id, view_permission="infusions.view_infusion"
)
def infusion_record_view(request: HttpRequest, participant_id: int, number: int) -> HttpResponse:
    """Record or correct infusion `number`, confirming the planned dose and any deviation.

    The planned dose is shown as the user types (infusions:dose_preview). The server saves
    only once the user has seen the planned dose it computes: a first POST without it, or
    with a dose beyond the tolerance not yet confirmed, comes back with the dose and the
    warning and nothing written.
    """
    if not 1 <= number <= protocol.INFUSION_COUNT:
        raise Http404(_("There is no infusion %(n)s.") % {"n": number})
    participant = participant_get(participant_id)
    infusion = selectors.infusion_for_number(participant, number)
    editing = infusion is not None
    if editing and not request.user.has_perm("infusions.change_infusion"):
        raise PermissionDenied
    assessment = selectors.infusion_dose(infusion) if editing else None
    warn = False
    if request.method == "POST":
        form = InfusionForm(request.POST, instance=infusion, editing=editing)
        if form.is_valid():
            data = form.service_data()
            try:
                assessment = infusion_validate(participant=participant, number=number, data=data)
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                seen = form.cleaned_data["planned_cells_seen"]
                warn = assessment.deviation and not form.cleaned_data["save_anyway"]
                if seen == assessment.planned_cells and not warn:
                    try:
                        saved = infusion_record(
                            participant=participant,
                            user=request.user,
                            number=number,
                            data=data,
                            reason=form.cleaned_data.get("reason", ""),
                            version=form_version(form),
                        )
                    except ValidationError as error:
                        add_service_errors(form, error)
                    else:
                        messages.success(request, _("Infusion %(n)s saved.") % {"n": number})
                        return _after_save(saved)
                else:
                    posted = request.POST.copy()
                    posted["planned_cells_seen"] = str(assessment.planned_cells)
                    form = InfusionForm(
                        posted, instance=infusion, editing=editing, warn_deviation=warn
                    )
                    form.is_valid()
                    if not warn:
                        messages.info(request, _("Check the planned dose below, then save again."))
    else:
        form = InfusionForm(instance=infusion, editing=editing)
    return render(
        request,
        "infusions/record.html",
        {
            "participant": participant,
            "number": number,
            "infusion": infusion,
            "visit": selectors.infusion_visit(participant, number),
            "form": form,
            "assessment": assessment,
            "warning": deviation_warning(assessment) if assessment and assessment.deviation else "",
            "tolerance_pct": infusion_dose_tolerance_pct(infusion),
            "dose_per_kg": infusion_dose_per_kg(infusion),
            "visit_weights": selectors.visit_weights_by_date(participant),
        },
    )


@permission_required("infusions.view_infusion", raise_exception=True)
@require_GET
def dose_preview(request: HttpRequest) -> JsonResponse:
    """The planned dose and deviation for a weight and a cell count, from infusions.dosing.

    The count comes as typed, with its unit (cells, 10^8 or 10^9); the answer gives it in
    full cells, read by the same rule as the form's.
    """
    try:
        actual = dosing.cells_from_entry(
            request.GET.get("actual", ""), request.GET.get("unit", "1")
        )
    except ValueError:
        actual = None
    shown = {
        "actual_cells": actual,
        "actual_display": (_("= %(cells)s cells") % {"cells": intcomma(actual)}) if actual else "",
    }
    try:
        weight = Decimal(request.GET.get("weight", ""))
    except InvalidOperation:
        weight = None
    if weight is None or not weight.is_finite():
        return JsonResponse({"error": _("Enter the dosing weight in kg."), **shown}, status=400)
    error = dosing_weight_error(weight)
    if error:
        return JsonResponse({"error": error, **shown}, status=400)
    infusion = None
    if request.GET.get("infusion", "").isdigit():
        infusion = Infusion.objects.filter(pk=int(request.GET["infusion"])).first()
    planned = dosing.planned_cells(weight_kg=weight, dose_per_kg=infusion_dose_per_kg(infusion))
    answer = {
        "planned_cells": planned,
        "planned_display": intcomma(planned),
        **shown,
        "deviation_pct": None,
        "deviation": None,
        "warning": "",
    }
    if actual is not None:
        assessment = selectors.dose_preview(
            weight_kg=weight, actual_cells=actual, infusion=infusion
        )
        answer.update(
            deviation_pct=str(assessment.deviation_pct),
            deviation=assessment.deviation,
            warning=deviation_warning(assessment) if assessment.deviation else "",
        )
    return JsonResponse(answer)
