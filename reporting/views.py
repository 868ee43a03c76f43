"""The pages that read across apps: a participant's record, the participant dashboard (with
the investigator's sign-off), the trial overview and the coordinator's worklist."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from itp_trial import protocol
from itp_trial.history import history_rows
from safety.selectors import open_flags_summary
from subjects.models import Participant, ParticipantStatus
from subjects.services import signoff_record

from .selectors import participant_dashboard, trial_overview, worklist
from .selectors.participant import participant_page
from .selectors.worklist import SECTIONS

SIGN_OFF_PERMISSION = "subjects.add_signoff"
SIGN_OFF_STATEMENT = gettext_lazy("I have reviewed the data of this participant")


class SignOffForm(forms.Form):
    statement = forms.CharField(
        label=gettext_lazy("Statement"),
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=2000,
    )


def _render_dashboard(
    request: HttpRequest, participant_id: int, form: SignOffForm | None = None
) -> HttpResponse:
    data = participant_dashboard(participant_id=participant_id)
    if data is None:
        raise Http404(_("No such participant."))
    can_sign = request.user.has_perm(SIGN_OFF_PERMISSION)
    if form is None and can_sign:
        form = SignOffForm(initial={"statement": SIGN_OFF_STATEMENT})
    return render(
        request,
        "reporting/dashboard.html",
        {"d": data, "participant": data.participant, "form": form, "can_sign": can_sign},
    )


@permission_required("subjects.view_participant", raise_exception=True)
def dashboard(request: HttpRequest, participant_id: int) -> HttpResponse:
    """One participant at a glance; investigators sign off from here (POST)."""
    if request.method != "POST":
        return _render_dashboard(request, participant_id)
    if not request.user.has_perm(SIGN_OFF_PERMISSION):
        raise PermissionDenied
    participant = get_object_or_404(Participant, pk=participant_id)
    form = SignOffForm(request.POST)
    if not form.is_valid():
        return _render_dashboard(request, participant_id, form=form)
    signoff_record(
        participant=participant, user=request.user, statement=form.cleaned_data["statement"]
    )
    messages.success(
        request, _("You signed off the data of %(id)s.") % {"id": participant.subject_id}
    )
    return redirect("subjects:dashboard", participant_id=participant.pk)


@permission_required("subjects.view_participant", raise_exception=True)
def overview(request: HttpRequest) -> HttpResponse:
    """The whole trial: enrolment, visit compliance, response, safety, dose deviations."""
    return render(request, "reporting/overview.html", {"o": trial_overview()})


@permission_required("visits.change_visit", raise_exception=True)
def visit_worklist(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    found = worklist(today=today, pages={key: request.GET.get(key) for key in SECTIONS})

    def link(key: str, number: int) -> str:
        query = request.GET.copy()
        query[key] = str(number)
        return f"?{query.urlencode()}"

    nav = {
        key: {
            "previous": link(key, page.previous_page_number()) if page.has_previous() else "",
            "next": link(key, page.next_page_number()) if page.has_next() else "",
        }
        for key, page in found.pages.items()
    }
    return render(
        request,
        "reporting/worklist.html",
        {
            "worklist": found,
            "nav": nav,
            "today": today,
            "due_days": protocol.WORKLIST_DUE_DAYS,
            **open_flags_summary(),
        },
    )


@permission_required("subjects.view_participant", raise_exception=True)
def participant_detail(request: HttpRequest, participant_id: int) -> HttpResponse:
    page = participant_page(participant_id=participant_id, today=timezone.localdate())
    if page is None:
        raise Http404(_("No such participant."))
    participant = page.participant
    return render(
        request,
        "subjects/detail.html",
        {
            "page": page,
            "participant": participant,
            "failed_criteria": [protocol.CRITERIA_BY_CODE[c] for c in page.decision.failed],
            "can_enrol": participant.eligible is True
            and participant.enrolled_on is None
            and participant.withdrawal_date is None,
            "can_withdraw": participant.withdrawal_date is None
            and participant.status != ParticipantStatus.SCREEN_FAILED,
            # Enrolled or on treatment: not withdrawn, and infusions are still to be given.
            "can_discontinue": participant.status
            in (ParticipantStatus.ENROLLED, ParticipantStatus.ON_TREATMENT),
            "history": history_rows(participant),
            **open_flags_summary(participant_ids=[participant.pk]),
        },
    )
