"""The flags page: what the background checks found, filtered; reviewers acknowledge here."""

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
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from itp_trial.forms import form_version, version_add
from subjects.models import Participant

from ..models import ACKNOWLEDGED_KINDS, FlagKind, FlagStatus
from ..selectors import flag_get, flags_list
from ..services import ACKNOWLEDGE_PERMISSION
from ..services import flag_acknowledge as flag_acknowledge_service

FLAGS_PER_PAGE = 50
ALL = "all"


class ParticipantChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Participant) -> str:
        return obj.subject_id


class FlagFilterForm(forms.Form):
    kind = forms.ChoiceField(
        label=gettext_lazy("Kind"),
        choices=[("", gettext_lazy("All kinds")), *FlagKind.choices],
        required=False,
    )
    status = forms.ChoiceField(
        label=gettext_lazy("Status"),
        choices=[*FlagStatus.choices, (ALL, gettext_lazy("Any status"))],
        required=False,
    )
    participant = ParticipantChoiceField(
        label=gettext_lazy("Participant"),
        queryset=Participant.objects.only("pk", "subject_id").order_by("subject_id"),
        required=False,
        empty_label=gettext_lazy("All participants"),
    )


class AcknowledgeForm(forms.Form):
    comment = forms.CharField(
        label=gettext_lazy("Comment"),
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=2000,
        help_text=gettext_lazy("Why the deviation is acceptable, or what was done about it."),
    )


def _next_url(request: HttpRequest) -> str | None:
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return None


@permission_required("safety.view_flag", raise_exception=True)
def flag_list(request: HttpRequest) -> HttpResponse:
    """Every flag, filtered by kind, status (open by default) and participant, paginated."""
    data = request.GET.copy()
    data.setdefault("status", FlagStatus.OPEN)
    form = FlagFilterForm(data)
    filters: dict[str, Any] = {}
    if form.is_valid():
        status = form.cleaned_data["status"]
        participant = form.cleaned_data["participant"]
        filters = {
            "kind": form.cleaned_data["kind"] or None,
            "status": None if status in ("", ALL) else status,
            "participant_id": participant.pk if participant else None,
        }
    page = Paginator(flags_list(**filters), FLAGS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "safety/flag_list.html",
        {
            "form": form,
            "page": page,
            "can_acknowledge": request.user.has_perm(ACKNOWLEDGE_PERMISSION),
            "acknowledged_kinds": [k.value for k in ACKNOWLEDGED_KINDS],
        },
    )


@permission_required(ACKNOWLEDGE_PERMISSION, raise_exception=True)
def flag_acknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    """Acknowledge a protocol deviation with a comment (POST); GET shows the form alone."""
    flag = flag_get(pk)
    form = AcknowledgeForm(request.POST if request.method == "POST" else None)
    version_add(form, flag)
    if form.is_bound and form.is_valid():
        try:
            flag_acknowledge_service(
                flag_id=flag.pk,
                user=request.user,
                comment=form.cleaned_data["comment"],
                version=form_version(form),
            )
        except ValidationError as error:
            if hasattr(error, "error_dict"):
                form.add_error(None, [m for ms in error.message_dict.values() for m in ms])
            else:
                form.add_error(None, error)
        else:
            messages.success(
                request,
                _("Flag acknowledged: %(kind)s, %(subject)s.")
                % {"kind": flag.get_kind_display(), "subject": flag.participant.subject_id},
            )
            return redirect(_next_url(request) or "safety:flags")
    return render(
        request,
        "safety/flag_acknowledge.html",
        {
            "flag": flag,
            "form": form,
            "acknowledgeable": flag.kind in ACKNOWLEDGED_KINDS and flag.acknowledged_at is None,
            "next": _next_url(request) or "",
            "back": _next_url(request) or reverse("safety:flags"),
        },
    )
