"""The review pages (protocol section 8): the read view of any record, with its history,
its queries and its verification; raising a query from a field; a query's page with its
conversation, where the site answers or corrects the data and the reviewer closes or
re-opens; the monitor's list of forms left to verify. Writes go through the services.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from itp_trial.forms import DateInput, add_service_errors
from itp_trial.history import history_rows

from .. import dataqueries, sdv
from ..models import DataQuery, QueryState, QueryTarget
from ..review import query_record, record_page, value_shown
from ..targets import TARGETS, read_url, target_get

QUERY_DUE_DAYS = 14
TODO_PER_PAGE = 50
CORRECTING = "query_correcting"  # session key: the edit page a query sent the site to


def _page_or_404(request: HttpRequest, kind: str, object_id: int):
    target = target_get(kind)
    if target is None:
        raise Http404(_("No such kind of record."))
    if not request.user.has_perm(target.view_permission):
        raise PermissionDenied
    page = record_page(kind, object_id)
    if page is None:
        raise Http404(_("No such record."))
    return page


@permission_required("safety.view_dataquery", raise_exception=True)
def record_detail(request: HttpRequest, kind: str, object_id: int) -> HttpResponse:
    """A record read-only, each field with its open queries, with its verification."""
    page = _page_or_404(request, kind, object_id)
    can_edit = request.user.has_perm(page.target.change_permission)
    return render(
        request,
        "safety/record.html",
        {
            "page": page,
            "participant": page.participant,
            "sdv_state": sdv.sdv_state(page.record, page.verification),
            "sdv_labels": sdv.STATE_LABELS,
            "edit_url": page.target.edit_url(page.record) if can_edit else "",
            "history": history_rows(page.record),
        },
    )


class RaiseForm(forms.Form):
    field_name = forms.ChoiceField(label=gettext_lazy("Field"), required=False)
    question = forms.CharField(
        label=gettext_lazy("Question"),
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=4000,
        help_text=gettext_lazy("What the site should check against the source documents."),
    )
    due_date = forms.DateField(
        label=gettext_lazy("Due date"),
        widget=DateInput(),
        help_text=gettext_lazy("When the site should answer by (YYYY-MM-DD)."),
    )

    def __init__(self, *args: Any, target: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["field_name"].choices = [("", _("The record as a whole"))] + [
            (name, target.field_label(name)) for name in target.fields
        ]


@permission_required(dataqueries.RAISE_PERMISSION, raise_exception=True)
def record_query(request: HttpRequest, kind: str, object_id: int) -> HttpResponse:
    """Raise a query on one field of the record (the field chosen on the read view)."""
    page = _page_or_404(request, kind, object_id)
    initial = {
        "field_name": request.GET.get("field", ""),
        "due_date": timezone.localdate() + timedelta(days=QUERY_DUE_DAYS),
    }
    form = RaiseForm(
        request.POST if request.method == "POST" else None, target=page.target, initial=initial
    )
    if form.is_bound and form.is_valid():
        try:
            query = dataqueries.query_raise(
                user=request.user,
                kind=kind,
                object_id=page.record.pk,
                field_name=form.cleaned_data["field_name"],
                question=form.cleaned_data["question"],
                due_date=form.cleaned_data["due_date"],
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(
                request,
                _("Query %(n)s raised for %(id)s.")
                % {"n": query.number, "id": page.participant.subject_id},
            )
            return redirect(read_url(kind, page.record.pk))
    field = request.GET.get("field") or (form.data.get("field_name") if form.is_bound else "")
    current = None
    if field in page.target.fields:
        current = {
            "label": page.target.field_label(field),
            "value": value_shown(page.record, field),
        }
    return render(
        request,
        "safety/record_query.html",
        {"page": page, "participant": page.participant, "form": form, "current": current},
    )


@require_POST
@permission_required(sdv.VERIFY_PERMISSION, raise_exception=True)
def record_verify(request: HttpRequest, kind: str, object_id: int) -> HttpResponse:
    """The monitor marks the record verified at the version they read."""
    page = _page_or_404(request, kind, object_id)
    try:
        sdv.record_verify(
            kind=kind,
            object_id=page.record.pk,
            user=request.user,
            version=int(request.POST.get("version") or 0),
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request,
            _("%(record)s of %(id)s verified.")
            % {"record": page.label, "id": page.participant.subject_id},
        )
    return redirect(request.POST.get("next") or read_url(kind, page.record.pk))


# --- a query's page ---------------------------------------------------------------------


class AnswerForm(forms.Form):
    answer = forms.CharField(
        label=gettext_lazy("Answer"), widget=forms.Textarea(attrs={"rows": 3}), max_length=4000
    )
    version = forms.IntegerField(widget=forms.HiddenInput)


class CloseForm(forms.Form):
    comment = forms.CharField(
        label=gettext_lazy("Comment (optional)"),
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=4000,
        required=False,
    )
    version = forms.IntegerField(widget=forms.HiddenInput)


class ReopenForm(forms.Form):
    comment = forms.CharField(
        label=gettext_lazy("Why re-open"), widget=forms.Textarea(attrs={"rows": 2}), max_length=4000
    )
    version = forms.IntegerField(widget=forms.HiddenInput)


ACTIONS = {"answer": AnswerForm, "close": CloseForm, "reopen": ReopenForm}


def _query_context(request: HttpRequest, query: DataQuery, bound: dict[str, forms.Form]) -> dict:
    record = query_record(query)
    target = target_get(query.target_kind)
    user = request.user
    closed = query.state == QueryState.CLOSED
    forms_ = {}
    if user.has_perm(dataqueries.ANSWER_PERMISSION) and not closed:
        forms_["answer"] = bound.get("answer") or AnswerForm(
            initial={"answer": query.answer, "version": query.version}
        )
    if user.has_perm(dataqueries.RAISE_PERMISSION):
        if not closed:
            forms_["close"] = bound.get("close") or CloseForm(initial={"version": query.version})
        if query.state != QueryState.OPEN:
            forms_["reopen"] = bound.get("reopen") or ReopenForm(initial={"version": query.version})
    corrected = record is not None and getattr(record, "version", 1) != query.target_version
    can_correct = (
        record is not None
        and not closed
        and target is not None
        and user.has_perm(target.change_permission)
    )
    return {
        "query": query,
        "participant": query.participant,
        "record": record,
        "target": target,
        "record_label": target.label(record) if record is not None and target else "",
        "field_label": target.field_label(query.field_name) if target and query.field_name else "",
        "field_value": value_shown(record, query.field_name)
        if record is not None and query.field_name
        else "",
        "corrected": corrected,
        "can_correct": can_correct,
        "conversation": list(query.messages.select_related("author").order_by("at", "pk")),
        "forms": forms_,
        "history": history_rows(query),
    }


def _query_get(pk: int) -> DataQuery:
    return get_object_or_404(
        DataQuery.objects.select_related("participant", "raised_by", "answered_by", "closed_by"),
        pk=pk,
    )


@permission_required("safety.view_dataquery", raise_exception=True)
def query_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A query: its record and field, the conversation, and what the user may do next.

    POST `action` = answer (the site), close or reopen (monitors and data managers)."""
    query = _query_get(pk)
    bound: dict[str, forms.Form] = {}
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action not in ACTIONS:
            raise Http404(_("No such action."))
        permission = (
            dataqueries.ANSWER_PERMISSION if action == "answer" else dataqueries.RAISE_PERMISSION
        )
        if not request.user.has_perm(permission):
            raise PermissionDenied
        form = ACTIONS[action](request.POST)
        bound[action] = form
        if form.is_valid():
            data = form.cleaned_data
            try:
                if action == "answer":
                    dataqueries.query_answer(
                        query_id=query.pk,
                        user=request.user,
                        answer=data["answer"],
                        version=data["version"],
                    )
                    done = _("Answer recorded.")
                elif action == "close":
                    dataqueries.query_close(
                        query_id=query.pk,
                        user=request.user,
                        comment=data["comment"],
                        version=data["version"],
                    )
                    done = _("Query closed.")
                else:
                    dataqueries.query_reopen(
                        query_id=query.pk,
                        user=request.user,
                        comment=data["comment"],
                        version=data["version"],
                    )
                    done = _("Query re-opened.")
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                messages.success(request, done)
                return redirect("safety:query_detail", pk=query.pk)
    return render(request, "safety/query_detail.html", _query_context(request, query, bound))


@permission_required(dataqueries.ANSWER_PERMISSION, raise_exception=True)
def query_correct(request: HttpRequest, pk: int) -> HttpResponse:
    """The site corrects the data from the query: to the record's edit page, and back to the
    query once it is saved (safety.middleware.QueryCorrectionReturn)."""
    query = _query_get(pk)
    record = query_record(query)
    target = target_get(query.target_kind)
    if record is None or target is None or query.state == QueryState.CLOSED:
        raise Http404(_("Nothing to correct."))
    if not request.user.has_perm(target.change_permission):
        raise PermissionDenied
    url = target.edit_url(record)
    request.session[CORRECTING] = {"path": url, "query": query.pk}
    messages.info(
        request,
        _("Correcting the data for query %(n)s: saving brings you back to the query.")
        % {"n": query.number},
    )
    return redirect(url)


# --- source data verification: what is left -----------------------------------------------


class TodoFilterForm(forms.Form):
    kind = forms.ChoiceField(
        label=gettext_lazy("Form"),
        choices=[("", gettext_lazy("All forms"))] + list(QueryTarget.choices),
        required=False,
    )


@permission_required("safety.view_verification", raise_exception=True)
def sdv_todo(request: HttpRequest) -> HttpResponse:
    """The forms left to verify: never verified, or changed since (paginated)."""
    form = TodoFilterForm(request.GET or None)
    kind = form.cleaned_data["kind"] if form.is_valid() else ""
    participant = request.GET.get("participant")
    rows = sdv.sdv_todo(
        kind=kind or None,
        participant_id=int(participant) if participant and participant.isdigit() else None,
    )
    page = Paginator(rows, TODO_PER_PAGE).get_page(request.GET.get("page"))
    labels = dict(QueryTarget.choices)
    for row in page:
        row["kind_label"] = labels.get(row["r_kind"], row["r_kind"])
        row["url"] = reverse("safety:record", args=[row["r_kind"], row["pk"]])
    return render(
        request,
        "safety/sdv_todo.html",
        {
            "form": form,
            "page": page,
            "progress": sdv.sdv_trial_progress(),
            "kinds": TARGETS,
        },
    )
