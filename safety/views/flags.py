"""The flags page: what the background checks found, filtered; reviewers acknowledge here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import conditional_escape, format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from itp_trial.forms import form_version, version_add
from itp_trial.paging import BoundedPaginator, row_url
from itp_trial.protocol import SUBJECT_ID_FORMAT
from subjects.models import Participant

from ..models import ACKNOWLEDGED_KINDS, FlagKind, FlagStatus
from ..selectors import FlagRow, flag_get, flag_rows_of, flags_list
from ..services import ACKNOWLEDGE_PERMISSION
from ..services import flag_acknowledge as flag_acknowledge_service
from ..templatetags.flags import (
    flag_about_html,
    flag_line_html,
    flag_status_html,
    local_minute,
)
from ..triage import flag_view

# A page is worked from the top, as the participant list's 25: the rows, not the queries,
# were most of the page's time.
FLAGS_PER_PAGE = 25
ALL = "all"


class ParticipantSearchField(forms.CharField):
    """A participant named by subject ID, typed (ITP-007, itp-7 or 7), looked up on the
    server: a list of every participant would be thousands of options. Cleans to the
    Participant, or None when empty."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", 16)
        kwargs.setdefault(
            "help_text", gettext_lazy("A subject ID, e.g. ITP-007 (or 7); empty: everyone.")
        )
        kwargs.setdefault(
            "widget", forms.TextInput(attrs={"placeholder": "ITP-007", "autocomplete": "off"})
        )
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> Any:
        if isinstance(value, Participant):
            return value
        return super().to_python(value)

    def clean(self, value: Any) -> Participant | None:
        text = (super().clean(value) or "").strip().upper()
        if not text:
            return None
        prefix = SUBJECT_ID_FORMAT.split("{")[0]
        number = text.removeprefix(prefix)
        subject_id = SUBJECT_ID_FORMAT.format(int(number)) if number.isdigit() else text
        found = Participant.objects.filter(subject_id=subject_id).only("pk", "subject_id").first()
        if found is None:
            raise ValidationError(_("No participant %(id)s.") % {"id": subject_id})
        return found

    def prepare_value(self, value: Any) -> Any:
        return value.subject_id if isinstance(value, Participant) else value


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
    participant = ParticipantSearchField(label=gettext_lazy("Participant"))


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
    number = request.GET.get("page")
    page = BoundedPaginator(flags_list(**filters), FLAGS_PER_PAGE, number=number).get_page(number)
    # The page's statement is made from the filters and the page alone: compiled once.
    key = ("flags_list", tuple(sorted(filters.items())), page.number, FLAGS_PER_PAGE)
    page.object_list = flag_rows_of(page.object_list, key=key)
    can_acknowledge = request.user.has_perm(ACKNOWLEDGE_PERMISSION)
    next_path = request.get_full_path()
    return render(
        request,
        "safety/flag_list.html",
        {
            "form": form,
            "page": page,
            "rows": _flag_list_rows(
                page.object_list,
                can_acknowledge=can_acknowledge,
                form_fields=_acknowledge_fields(get_token(request), next_path),
            ),
            "next_path": next_path,
        },
    )


@dataclass(frozen=True)
class FlagListRow:
    flag: FlagRow
    acknowledgeable: bool  # by this user, now
    html: SafeString  # the row: <tr>…</tr>


def _acknowledge_fields(csrf_token: str, next_path: str) -> SafeString:
    """The hidden fields every row's acknowledgement form posts: as {% csrf_token %} writes
    the token, and the page to come back to."""
    return format_html(
        '<input type="hidden" name="csrfmiddlewaretoken" value="{}">'
        '<input type="hidden" name="next" value="{}">',
        csrf_token,
        next_path,
    )


def _flag_list_rows(
    flags: list[FlagRow], *, can_acknowledge: bool, form_fields: SafeString
) -> list[FlagListRow]:
    """The page's rows written here, whole: twenty-five rows of template tags and cells cost
    more than the rest of the page (issue 15)."""
    now = timezone.now()
    today = timezone.localdate(now)
    participant_url = row_url("subjects:detail")
    acknowledge_url = row_url("safety:flag_acknowledge")
    # The words of the form, translated once for the page.
    comment_label, acknowledge_label = _("Comment"), _("Acknowledge")
    confirm_text = _(
        "Acknowledge this deviation? Your name, the time and the comment are recorded."
    )
    e = conditional_escape
    form_fields = e(form_fields)
    rows = []
    for flag in flags:
        acknowledgeable = (
            can_acknowledge and flag.kind in ACKNOWLEDGED_KINDS and flag.acknowledged_at is None
        )
        pk = e(flag.pk)
        form = (
            f'<form method="post" action="{e(acknowledge_url(flag.pk))}" class="d-flex gap-1" '
            f'data-confirm="{e(confirm_text)}">\n'
            f'{form_fields}<input type="hidden" name="version" value="{e(flag.version)}">\n'
            f'<label class="small align-self-center" for="ack-{pk}">{e(comment_label)}</label>\n'
            f'<input class="form-control form-control-sm" id="ack-{pk}" name="comment" '
            'required maxlength="2000" aria-describedby="ack-help">\n'
            '<button class="btn btn-sm btn-outline-primary text-nowrap" type="submit">'
            f"{e(acknowledge_label)}</button>\n</form>"
            if acknowledgeable
            else ""
        )
        html = mark_safe(  # every value is escaped
            f'<tr data-flag="{pk}">\n'
            f'<td class="text-nowrap">{e(local_minute(flag.raised_at))}</td>\n'
            f'<td><a href="{e(participant_url(flag.participant_id))}">'
            f"{e(flag.participant.subject_id)}</a></td>\n"
            f"<td>{flag_line_html(flag_view(flag, now=now, today=today))}</td>\n"
            f'<td class="text-nowrap">{flag_about_html(flag)}</td>\n'
            f'<td class="small">{e(flag.detail_display)}</td>\n'
            f'<td class="text-nowrap">{flag_status_html(flag)}</td>\n'
            f'<td style="min-width: 16rem">{form}</td>\n</tr>'
        )
        rows.append(FlagListRow(flag=flag, acknowledgeable=acknowledgeable, html=html))
    return rows


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
