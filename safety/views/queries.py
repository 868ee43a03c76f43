"""Data queries: monitors raise and close them, the site answers."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from subjects.models import Participant
from subjects.selectors import participant_get
from visits.models import Visit

from .. import dataqueries
from ..selectors import QUERY_CLOSED, QUERY_OPEN, queries_list, query_get
from .flags import ParticipantChoiceField

QUERIES_PER_PAGE = 50
ALL = "all"


class QueryFilterForm(forms.Form):
    state = forms.ChoiceField(
        label=gettext_lazy("State"),
        choices=[
            (QUERY_OPEN, gettext_lazy("Not closed")),
            ("answered", gettext_lazy("Answered, awaiting review")),
            (QUERY_CLOSED, gettext_lazy("Closed")),
            (ALL, gettext_lazy("All")),
        ],
        required=False,
    )
    participant = ParticipantChoiceField(
        label=gettext_lazy("Participant"),
        queryset=Participant.objects.only("pk", "subject_id").order_by("subject_id"),
        required=False,
        empty_label=gettext_lazy("All participants"),
    )


class VisitChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Visit) -> str:
        return obj.code


class QueryRaiseForm(forms.Form):
    visit = VisitChoiceField(
        label=gettext_lazy("Visit"),
        queryset=Visit.objects.none(),
        required=False,
        empty_label=gettext_lazy("Not about one visit"),
    )
    question = forms.CharField(
        label=gettext_lazy("Question"), widget=forms.Textarea(attrs={"rows": 4}), max_length=4000
    )

    def __init__(self, *args: Any, participant: Participant, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["visit"].queryset = participant.visits.order_by("window_start", "pk")


class QueryAnswerForm(forms.Form):
    answer = forms.CharField(
        label=gettext_lazy("Answer"), widget=forms.Textarea(attrs={"rows": 4}), max_length=4000
    )


def _add_service_errors(form: forms.Form, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for field, messages_ in error.message_dict.items():
            form.add_error(field if field in form.fields else None, messages_)
    else:
        form.add_error(None, error)


@permission_required("safety.view_dataquery", raise_exception=True)
def query_list(request: HttpRequest) -> HttpResponse:
    """Queries, open ones by default, of every participant or one."""
    data = request.GET.copy()
    data.setdefault("state", QUERY_OPEN)
    form = QueryFilterForm(data)
    filters: dict[str, Any] = {}
    if form.is_valid():
        participant = form.cleaned_data["participant"]
        state = form.cleaned_data["state"]
        filters = {
            "state": None if state in ("", ALL) else state,
            "participant_id": participant.pk if participant else None,
        }
    page = Paginator(queries_list(**filters), QUERIES_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "safety/query_list.html", {"form": form, "page": page})


@permission_required(dataqueries.RAISE_PERMISSION, raise_exception=True)
def query_create(request: HttpRequest, participant_id: int) -> HttpResponse:
    """A monitor raises a query about a participant's data."""
    participant = participant_get(participant_id)
    form = QueryRaiseForm(
        request.POST if request.method == "POST" else None, participant=participant
    )
    if form.is_bound and form.is_valid():
        try:
            dataqueries.query_raise(
                participant=participant,
                user=request.user,
                question=form.cleaned_data["question"],
                visit=form.cleaned_data["visit"],
            )
        except ValidationError as error:
            _add_service_errors(form, error)
        else:
            messages.success(
                request, _("Query raised for %(id)s.") % {"id": participant.subject_id}
            )
            return redirect(f"{reverse('safety:queries')}?participant={participant.pk}")
    return render(
        request,
        "safety/query_form.html",
        {"form": form, "participant": participant, "title": _("Raise a query")},
    )


@permission_required(dataqueries.ANSWER_PERMISSION, raise_exception=True)
def query_answer(request: HttpRequest, pk: int) -> HttpResponse:
    """The site answers an open query."""
    query = query_get(pk)
    form = QueryAnswerForm(
        request.POST if request.method == "POST" else None, initial={"answer": query.answer}
    )
    if form.is_bound and form.is_valid():
        try:
            dataqueries.query_answer(
                query_id=query.pk, user=request.user, answer=form.cleaned_data["answer"]
            )
        except ValidationError as error:
            _add_service_errors(form, error)
        else:
            messages.success(request, _("Answer recorded."))
            return redirect("safety:queries")
    return render(
        request,
        "safety/query_form.html",
        {
            "form": form,
            "participant": query.participant,
            "query": query,
            "title": _("Answer a query"),
        },
    )


@require_POST
@permission_required(dataqueries.RAISE_PERMISSION, raise_exception=True)
def query_close(request: HttpRequest, pk: int) -> HttpResponse:
    """The monitor closes a query."""
    query = query_get(pk)
    try:
        dataqueries.query_close(query_id=query.pk, user=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("Query closed."))
    return redirect("safety:queries")
