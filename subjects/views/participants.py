"""The coordinator's participant pages: list, screening, V1 data, eligibility, withdrawal and
treatment discontinuation. Writes go through subjects.services. The participant's record is
in reporting (it reads every app), the enrolment in visits (it previews the schedule).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from itp_trial import protocol
from itp_trial.access import edit_or_read
from itp_trial.forms import add_service_errors, form_version
from itp_trial.history import history_rows_of_set
from subjects import rules, services
from subjects.forms import (
    DiscontinueForm,
    EligibilityForm,
    ParticipantEditForm,
    ScreeningForm,
    WithdrawForm,
    participant_initial,
)
from subjects.models import EligibilityAnswer, Participant, ParticipantStatus
from subjects.selectors import participant_get
from subjects.selectors import participant_list as participants_listed

PAGE_SIZE = 25


def _fresh(participant: Participant) -> Participant:
    """A separate copy for a service, which may set fields before refusing them."""
    return Participant.objects.get(pk=participant.pk)


@permission_required("subjects.view_participant", raise_exception=True)
def participant_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    search = request.GET.get("q", "")
    paginator = Paginator(participants_listed(status=status, search=search), PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    rows = [(p, rules.age_years(p.birth_date, p.consent_date)) for p in page.object_list]
    return render(
        request,
        "subjects/list.html",
        {
            "page": page,
            "rows": rows,
            "status": status,
            "q": search,
            "statuses": ParticipantStatus.choices,
        },
    )


@permission_required("subjects.add_participant", raise_exception=True)
def participant_screen(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    form = ScreeningForm(request.POST or None, initial={"screening_date": today})
    if request.method == "POST" and form.is_valid():
        try:
            participant = services.participant_screen(
                user=request.user,
                data=form.participant_data(),
                screening_date=form.cleaned_data["screening_date"],
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(
                request,
                _("%(subject)s screened (screening number %(number)s).")
                % {"subject": participant.subject_id, "number": participant.screening_number},
            )
            return redirect("subjects:detail", participant_id=participant.pk)
    return render(
        request,
        "subjects/participant_form.html",
        {"form": form, "title": _("Screen a participant"), "age": form.age_at_consent()},
    )


@edit_or_read(
    "subjects.change_participant",
    "participant",
    lambda kw: kw["participant_id"],
    view_permission="subjects.view_participant",
)
def participant_edit(request: HttpRequest, participant_id: int) -> HttpResponse:
    participant = participant_get(participant_id)
    form = ParticipantEditForm(
        request.POST or None, initial=participant_initial(participant), participant=participant
    )
    if request.method == "POST" and form.is_valid():
        try:
            changed = services.participant_update(
                participant=_fresh(participant),
                user=request.user,
                data=form.participant_data(),
                reason=form.cleaned_data["reason"],
                version=form_version(form),
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            if changed:
                messages.success(request, _("The screening data were saved."))
            else:
                messages.info(request, _("Nothing was changed."))
            return redirect("subjects:detail", participant_id=participant.pk)
    return render(
        request,
        "subjects/participant_form.html",
        {
            "form": form,
            "participant": participant,
            "title": _("Screening data of %(subject)s") % {"subject": participant.subject_id},
            "age": form.age_at_consent(),
        },
    )


@permission_required("subjects.view_participant", raise_exception=True)
def participant_eligibility(request: HttpRequest, participant_id: int) -> HttpResponse:
    participant = participant_get(participant_id)
    stored = list(participant.eligibility_answers.all())
    answers = {a.criterion: a.met for a in stored}
    versions = {c.code: 0 for c in protocol.CRITERIA} | {a.criterion: a.version for a in stored}
    locked = participant.enrolled_on is not None or participant.withdrawal_date is not None
    may_answer = request.user.has_perm("subjects.add_eligibilityanswer") and not locked
    form = EligibilityForm(
        request.POST or None,
        participant=participant,
        answers=answers,
        editing=bool(answers),
        versions=versions,
    )
    if request.method == "POST":
        if not request.user.has_perm("subjects.add_eligibilityanswer"):
            raise PermissionDenied
        if form.is_valid():
            try:
                decision = services.eligibility_record(
                    participant=_fresh(participant),
                    user=request.user,
                    answers=form.answers(),
                    reason=form.cleaned_data.get("reason", ""),
                    versions=form.answer_versions(),
                )
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                messages.success(request, _decision_message(decision))
                return redirect("subjects:eligibility", participant_id=participant.pk)
    decision = rules.eligibility_decide(answers)
    return render(
        request,
        "subjects/eligibility.html",
        {
            "participant": participant,
            "form": form,
            "may_answer": may_answer,
            "locked": locked,
            "answer_rows": [(c, answers.get(c.code)) for c in protocol.CRITERIA],
            "decision": decision,
            "failed_criteria": [protocol.CRITERIA_BY_CODE[c] for c in decision.failed],
            "age": rules.age_years(participant.birth_date, participant.consent_date),
            "history": history_rows_of_set(
                EligibilityAnswer.history.filter(participant_id=participant.pk),
                record=lambda row: row.criterion,
            ),
        },
    )


def _decision_message(decision: rules.EligibilityDecision) -> str:
    if decision.eligible:
        return _("Eligible: every criterion is satisfied. The participant can be enrolled.")
    if decision.eligible is False:
        return _("Screen failure: %(codes)s not satisfied.") % {"codes": ", ".join(decision.failed)}
    return _("Answers saved; the checklist is not complete yet.")


def _participant_action(
    request: HttpRequest,
    participant: Participant,
    form: forms.Form,
    *,
    perform: Callable[[Participant, dict[str, Any]], Any],
    done: str,
    page: dict[str, Any],
) -> HttpResponse:
    """An irreversible step on a participant: confirm, call the service, show its refusal."""
    if request.method == "POST" and form.is_valid():
        try:
            perform(_fresh(participant), form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, done)
            return redirect("subjects:detail", participant_id=participant.pk)
    context = {"participant": participant, "form": form, "danger": True, **page}
    return render(request, "subjects/action_form.html", context)


@permission_required("subjects.change_participant", raise_exception=True)
def participant_withdraw(request: HttpRequest, participant_id: int) -> HttpResponse:
    participant = participant_get(participant_id)
    subject = {"subject": participant.subject_id}
    return _participant_action(
        request,
        participant,
        WithdrawForm(request.POST or None),
        perform=lambda fresh, data: services.participant_withdraw(
            participant=fresh,
            user=request.user,
            on=data["on"],
            withdrawal_reason=data["withdrawal_reason"],
            detail=data["detail"],
        ),
        done=_("%(subject)s withdrawn; the data entered are kept.") % subject,
        page={
            "title": _("Withdraw %(subject)s") % subject,
            "intro": _(
                "After withdrawal nothing new can be scheduled: visits after the withdrawal "
                "date are no longer expected. Everything entered is kept."
            ),
            "confirm": _("Withdraw this participant? This cannot be undone."),
            "submit": _("Withdraw"),
        },
    )


@permission_required("subjects.discontinue_treatment", raise_exception=True)
def participant_discontinue(request: HttpRequest, participant_id: int) -> HttpResponse:
    participant = participant_get(participant_id)
    subject = {"subject": participant.subject_id}
    return _participant_action(
        request,
        participant,
        DiscontinueForm(request.POST or None),
        perform=lambda fresh, data: services.treatment_discontinue(
            participant=fresh, user=request.user, on=data["on"], reason=data["reason"]
        ),
        done=_("Treatment of %(subject)s discontinued; follow-up continues.") % subject,
        page={
            "title": _("Discontinue the treatment of %(subject)s") % subject,
            "intro": _(
                "The infusions not given become not expected; the end-of-treatment and "
                "follow-up visits hang on the last infusion given."
            ),
            "confirm": _("Discontinue treatment? This cannot be undone."),
            "submit": _("Discontinue treatment"),
        },
    )
