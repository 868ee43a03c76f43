"""Adverse-event and concomitant-medication pages."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from itp_trial.access import edit_or_read
from itp_trial.forms import add_service_errors, form_version
from itp_trial.history import history_rows
from subjects.models import Participant
from subjects.selectors import participant_get

from .. import rules
from ..forms import AdverseEventForm, ConcomitantMedicationForm
from ..models import ActionTaken, AdverseEvent, ConcomitantMedication, SeriousCriterion
from ..selectors import adverse_event_get, conmed_get
from ..services import adverse_event_record, conmed_record
from ..triage import sae_clock_view


def first_infusion_date(participant: Participant) -> date | None:
    return participant.infusions.filter(number=1).values_list("infusion_date", flat=True).first()


def _event_rows(events: list[AdverseEvent], participant: Participant) -> list[dict[str, Any]]:
    first = first_infusion_date(participant)
    now = timezone.now()
    return [
        {
            "event": event,
            "emergent": rules.is_treatment_emergent(event.onset_date, first),
            "sae": sae_clock_view(event, now=now),
        }
        for event in events
    ]


@permission_required("safety.view_adverseevent", raise_exception=True)
def ae_list(request: HttpRequest, participant_id: int) -> HttpResponse:
    participant = participant_get(participant_id)
    events = list(
        participant.adverse_events.select_related("related_infusion").order_by("ae_number")
    )
    return render(
        request,
        "safety/ae_list.html",
        {"participant": participant, "rows": _event_rows(events, participant)},
    )


@permission_required("safety.view_adverseevent", raise_exception=True)
def ae_detail(request: HttpRequest, ae_id: int) -> HttpResponse:
    event = adverse_event_get(ae_id, with_flags=True)
    row = _event_rows([event], event.participant)[0]
    return render(
        request,
        "safety/ae_detail.html",
        {
            "participant": event.participant,
            "event": event,
            "emergent": row["emergent"],
            "sae": row["sae"],
            "criteria_labels": _criteria_labels(event),
            "flags": list(event.flags.all()),
            "history": history_rows(event),
        },
    )


def _criteria_labels(event: AdverseEvent) -> list[str]:
    labels = dict(SeriousCriterion.choices)
    return [str(labels.get(code, code)) for code in event.serious_criteria_list]


def _ae_form_page(
    request: HttpRequest,
    *,
    participant: Participant,
    form: AdverseEventForm,
    event: AdverseEvent | None,
) -> HttpResponse:
    return render(
        request,
        "safety/ae_form.html",
        {"participant": participant, "form": form, "event": event},
    )


@permission_required("safety.add_adverseevent", raise_exception=True)
def ae_create(request: HttpRequest, participant_id: int) -> HttpResponse:
    """A new adverse event; ?infusion=<id> links it to that infusion (an infusion reaction)."""
    participant = participant_get(participant_id)
    if request.method == "POST":
        form = AdverseEventForm(request.POST, participant=participant)
        if form.is_valid():
            try:
                event = adverse_event_record(
                    participant=participant, user=request.user, data=form.service_data()
                )
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                messages.success(request, _("Adverse event %(n)s saved.") % {"n": event.ae_number})
                return redirect("safety:ae_detail", ae_id=event.pk)
    else:
        initial: dict[str, Any] = {}
        infusion_id = request.GET.get("infusion", "")
        infusion = (
            participant.infusions.filter(pk=int(infusion_id)).first()
            if infusion_id.isdigit()
            else None
        )
        if infusion is not None:
            initial = {
                "related_infusion": infusion.pk,
                "term": _("Infusion related reaction"),
                "onset_date": infusion.infusion_date,
                "action_taken": (
                    ActionTaken.INFUSION_INTERRUPTED if infusion.interrupted else ActionTaken.NONE
                ),
            }
        form = AdverseEventForm(participant=participant, initial=initial)
    return _ae_form_page(request, participant=participant, form=form, event=None)


@edit_or_read(
    "safety.change_adverseevent",
    "adverse_event",
    lambda kw: kw["ae_id"],
    view_permission="safety.view_adverseevent",
)
def ae_edit(request: HttpRequest, ae_id: int) -> HttpResponse:
    event = adverse_event_get(ae_id)
    participant = event.participant
    if request.method == "POST":
        form = AdverseEventForm(request.POST, instance=event, participant=participant, editing=True)
        if form.is_valid():
            try:
                saved = adverse_event_record(
                    participant=participant,
                    user=request.user,
                    data=form.service_data(),
                    ae_number=event.ae_number,
                    reason=form.cleaned_data["reason"],
                    version=form_version(form),
                )
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                messages.success(request, _("Adverse event %(n)s saved.") % {"n": saved.ae_number})
                return redirect("safety:ae_detail", ae_id=saved.pk)
    else:
        form = AdverseEventForm(instance=event, participant=participant, editing=True)
    return _ae_form_page(request, participant=participant, form=form, event=event)


@permission_required("safety.view_concomitantmedication", raise_exception=True)
def conmed_list(request: HttpRequest, participant_id: int) -> HttpResponse:
    participant = participant_get(participant_id)
    return render(
        request,
        "safety/conmed_list.html",
        {
            "participant": participant,
            "conmeds": list(participant.conmeds.order_by("start_date", "drug")),
        },
    )


def _conmed_form_page(
    request: HttpRequest,
    *,
    participant: Participant,
    form: ConcomitantMedicationForm,
    conmed: ConcomitantMedication | None,
) -> HttpResponse:
    return render(
        request,
        "safety/conmed_form.html",
        {
            "participant": participant,
            "form": form,
            "conmed": conmed,
            "history": history_rows(conmed) if conmed is not None else None,
        },
    )


@permission_required("safety.add_concomitantmedication", raise_exception=True)
def conmed_create(request: HttpRequest, participant_id: int) -> HttpResponse:
    participant = participant_get(participant_id)
    form = ConcomitantMedicationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            conmed = conmed_record(
                participant=participant, user=request.user, data=form.service_data()
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("%(drug)s saved.") % {"drug": conmed.drug})
            return redirect("safety:conmed_list", participant_id=participant.pk)
    return _conmed_form_page(request, participant=participant, form=form, conmed=None)


@edit_or_read(
    "safety.change_concomitantmedication",
    "conmed",
    lambda kw: kw["conmed_id"],
    view_permission="safety.view_concomitantmedication",
)
def conmed_edit(request: HttpRequest, conmed_id: int) -> HttpResponse:
    conmed = conmed_get(conmed_id)
    participant = conmed.participant
    form = ConcomitantMedicationForm(request.POST or None, instance=conmed, editing=True)
    if request.method == "POST" and form.is_valid():
        try:
            saved = conmed_record(
                participant=participant,
                user=request.user,
                data=form.service_data(),
                conmed=conmed,
                reason=form.cleaned_data["reason"],
                version=form_version(form),
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("%(drug)s saved.") % {"drug": saved.drug})
            return redirect("safety:conmed_list", participant_id=participant.pk)
    return _conmed_form_page(request, participant=participant, form=form, conmed=conmed)
