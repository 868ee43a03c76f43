"""The coordinator's visit pages: enrolment (which plans the schedule), one page per visit,
missed visits and unscheduled platelet results (the worklist is in reporting). Writes go
through the services.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from itp_trial import protocol
from itp_trial.access import edit_or_read
from itp_trial.forms import add_service_errors, form_version
from itp_trial.history import history_rows
from subjects.forms import EnrolForm
from subjects.selectors import participant_get
from subjects.services import participant_enrol as participant_enrol_service

from . import schedule
from .forms import MissedForm, PlateletForm, VisitForm, visit_initial
from .models import PlateletCount, Visit, WindowStatus
from .selectors import enrolment_preview, visit_page
from .services import (
    platelet_record,
    visit_mark_missed,
    visit_record,
    visit_validate,
    visit_window_status,
)

OUT_OF_WINDOW = (WindowStatus.EARLY, WindowStatus.LATE)


def _visit(visit_id: int) -> Visit:
    visit = visit_page(visit_id=visit_id)
    if visit is None:
        raise Http404(_("No such visit."))
    return visit


def _fresh(visit: Visit) -> Visit:
    return Visit.objects.get(pk=visit.pk)


def _written(request: HttpRequest, form: Any, write: Callable[[], object], done: str) -> bool:
    """Call the service `write`: True when it wrote (and `done` is shown), False when it
    refused (its reasons are on `form`)."""
    try:
        write()
    except ValidationError as error:
        add_service_errors(form, error)
        return False
    messages.success(request, done)
    return True


def _window_warning(visit: Visit, status: str) -> str:
    window = {
        "start": visit.window_start.isoformat() if visit.window_start else "",
        "end": visit.window_end.isoformat() if visit.window_end else "",
    }
    if status == WindowStatus.EARLY:
        return (
            _(
                "This date is before the visit's window (%(start)s to %(end)s): the visit will be "
                "recorded as early, a protocol deviation that is flagged for review."
            )
            % window
        )
    return (
        _(
            "This date is after the visit's window (%(start)s to %(end)s): the visit will be "
            "recorded as late, a protocol deviation that is flagged for review."
        )
        % window
    )


def _date_warning(visit: Visit, form: VisitForm) -> str | None:
    actual = form.cleaned_data.get("actual_date")
    if actual is None or "actual_date" in form.errors:
        return None
    status = visit_window_status(visit=visit, actual_date=actual)
    return _window_warning(visit, status) if status in OUT_OF_WINDOW else None


def _after_visit(visit: Visit, before: dict[str, Any], data: dict[str, Any]) -> HttpResponse:
    """Where to go after saving: the AE or medication form when newly answered yes."""
    participant = {"participant_id": visit.participant_id}
    new_ae = data.get("new_adverse_event") is True and before["new_adverse_event"] is not True
    new_med = data.get("medication_change") is True and before["medication_change"] is not True
    if new_ae:
        return HttpResponseRedirect(reverse("safety:ae_create", kwargs=participant))
    if new_med:
        return HttpResponseRedirect(reverse("safety:conmed_create", kwargs=participant))
    return redirect("subjects:detail", **participant)


@edit_or_read(
    "visits.change_visit", "visit", lambda kw: kw["visit_id"], view_permission="visits.view_visit"
)
def visit_edit(request: HttpRequest, visit_id: int) -> HttpResponse:
    """One visit's page. A date outside the window is saved only after a visible warning."""
    visit = _visit(visit_id)
    definition = visit.definition
    if definition.kind == protocol.KIND_INFUSION:
        return HttpResponseRedirect(
            reverse(
                "infusions:record",
                kwargs={
                    "participant_id": visit.participant_id,
                    "number": definition.infusion_number,
                },
            )
        )
    counts = list(visit.platelet_counts.all())
    editing = visit.actual_date is not None or visit.missed
    initial = visit_initial(visit, counts[0] if counts else None)
    count = counts[0] if counts else None
    form = VisitForm(
        request.POST or None, visit=visit, editing=editing, initial=initial, count=count
    )
    warning = None
    if request.method == "POST" and not form.is_valid() and "actual_date" in form.cleaned_data:
        # Show the service's refusals of the valid values too, not one round at a time.
        try:
            visit_validate(
                visit=visit, data=form.visit_data(), reason=form.cleaned_data.get("reason", "")
            )
        except ValidationError as error:
            add_service_errors(form, error, skip=set(form.errors))
    elif request.method == "POST" and form.is_valid():
        data = form.visit_data()
        try:
            status = visit_validate(
                visit=visit, data=data, reason=form.cleaned_data.get("reason", "")
            )
            if status in OUT_OF_WINDOW and not form.cleaned_data["save_anyway"]:
                warning = _window_warning(visit, status)
            else:
                before = {n: getattr(visit, n) for n in ("new_adverse_event", "medication_change")}
                visit_record(
                    visit=_fresh(visit),
                    user=request.user,
                    data=data,
                    reason=form.cleaned_data.get("reason", ""),
                    version=form_version(form),
                    platelet_version=form_version(form, "platelet_version"),
                )
        except ValidationError as error:
            if "reason" in getattr(error, "error_dict", {}) and "reason" not in form.fields:
                # Saving would change a count already recorded that day: ask why.
                form = VisitForm(
                    request.POST, visit=visit, editing=True, initial=initial, count=count
                )
                form.is_valid()
            add_service_errors(form, error)
        else:
            if warning is None:
                messages.success(
                    request,
                    _("%(code)s of %(subject)s saved.")
                    % {"code": visit.code, "subject": visit.participant.subject_id},
                )
                if data.get("new_adverse_event") and data.get("medication_change"):
                    messages.info(
                        request,
                        _("A change of medication was reported too: record it after the event."),
                    )
                return _after_visit(visit, before, data)
    if request.method == "POST" and form.errors and warning is None:
        # With the refusals, the window warning too: everything to fix in one round.
        warning = _date_warning(visit, form)
    return render(
        request,
        "visits/visit_form.html",
        {
            "visit": visit,
            "participant": visit.participant,
            "definition": definition,
            "form": form,
            "warning": warning,
            "count": counts[0] if counts else None,
            "history": history_rows(visit),
        },
    )


@edit_or_read(
    "visits.change_visit", "visit", lambda kw: kw["visit_id"], view_permission="visits.view_visit"
)
def visit_missed(request: HttpRequest, visit_id: int) -> HttpResponse:
    visit = _visit(visit_id)
    form = MissedForm(
        request.POST or None,
        editing=visit.missed,
        visit=visit,
        initial={"missed_reason": visit.missed_reason},
    )
    if (
        request.method == "POST"
        and form.is_valid()
        and _written(
            request,
            form,
            lambda: visit_mark_missed(
                visit=_fresh(visit),
                user=request.user,
                missed_reason=form.cleaned_data["missed_reason"],
                reason=form.cleaned_data.get("reason", ""),
                version=form_version(form),
            ),
            _("%(code)s of %(subject)s marked missed.")
            % {"code": visit.code, "subject": visit.participant.subject_id},
        )
    ):
        return redirect("subjects:detail", participant_id=visit.participant_id)
    return render(
        request,
        "visits/missed.html",
        {"visit": visit, "participant": visit.participant, "form": form},
    )


def _platelet_written(
    request: HttpRequest,
    form: PlateletForm,
    participant: Any,
    sample_date: Any,
    *,
    version: int | None = None,
) -> bool:
    """The platelet count of `sample_date` written from the form (new, or corrected at
    `version`), as `_written`."""
    return _written(
        request,
        form,
        lambda: platelet_record(
            participant=participant,
            user=request.user,
            sample_date=sample_date,
            platelets=form.cleaned_data["platelets"],
            who_bleeding_grade=form.cleaned_data["who_bleeding_grade"],
            reason=form.cleaned_data["reason"],
            version=version,
        ),
        _("Platelet count of %(date)s saved.") % {"date": sample_date.isoformat()},
    )


@permission_required("visits.add_plateletcount", raise_exception=True)
def platelet_unscheduled(request: HttpRequest, participant_id: int) -> HttpResponse:
    participant = participant_get(participant_id)
    form = PlateletForm(request.POST or None)
    if (
        request.method == "POST"
        and form.is_valid()
        and _platelet_written(request, form, participant, form.cleaned_data["sample_date"])
    ):
        return redirect("subjects:detail", participant_id=participant.pk)
    return render(
        request,
        "visits/platelet_form.html",
        {"participant": participant, "form": form},
    )


@permission_required("visits.view_plateletcount", raise_exception=True)
def platelet_edit(request: HttpRequest, count_id: int) -> HttpResponse:
    """A stored platelet count with its history; those who enter data correct it here (the
    values and the bleeding grade, with a reason)."""
    if request.method == "POST" and not request.user.has_perm("visits.change_plateletcount"):
        raise PermissionDenied
    count = PlateletCount.objects.select_related("participant", "visit").filter(pk=count_id).first()
    if count is None:
        raise Http404(_("No such platelet count."))
    participant = participant_get(count.participant_id)
    form = PlateletForm(
        request.POST or None,
        count=count,
        initial={
            "sample_date": count.sample_date,
            "platelets": count.platelets,
            "who_bleeding_grade": count.who_bleeding_grade,
        },
    )
    if (
        request.method == "POST"
        and form.is_valid()
        and _platelet_written(
            request, form, participant, count.sample_date, version=form_version(form)
        )
    ):
        return redirect("subjects:detail", participant_id=participant.pk)
    return render(
        request,
        "visits/platelet_edit.html",
        {
            "participant": participant,
            "count": count,
            "form": form,
            "history": history_rows(count),
        },
    )


@permission_required("subjects.change_participant", raise_exception=True)
def participant_enrol(request: HttpRequest, participant_id: int) -> HttpResponse:
    """Enrol with the planned date of infusion 1, after a confirmation showing the windows."""
    participant = participant_get(participant_id)
    form = EnrolForm(request.POST or None, initial={"enrolled_on": timezone.localdate()})
    preview: list[tuple[schedule.ScheduledVisit, str]] = []
    if request.method == "POST" and form.is_valid():
        planned = form.cleaned_data["planned_first_infusion_date"]
        if form.cleaned_data["confirm"]:
            if _written(
                request,
                form,
                lambda: participant_enrol_service(
                    participant=participant_get(participant.pk),
                    user=request.user,
                    planned_first_infusion_date=planned,
                    enrolled_on=form.cleaned_data["enrolled_on"],
                ),
                _("%(subject)s enrolled; infusion 1 is planned on %(date)s.")
                % {"subject": participant.subject_id, "date": planned.isoformat()},
            ):
                return redirect("subjects:detail", participant_id=participant.pk)
        else:
            preview = [
                (s, WindowStatus(s.status).label)
                for s in enrolment_preview(participant_id=participant.pk, planned=planned)
            ]
    return render(
        request,
        "subjects/enrol.html",
        {"participant": participant, "form": form, "preview": preview},
    )
