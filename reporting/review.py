"""The investigator's signature and the locks (protocol section 8): the sign page, the
casebook lock and unlock, the database lock. Each page reads a fixed number of queries
whatever the number of participants or records."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from itp_trial import protocol
from itp_trial.forms import add_service_errors
from itp_trial.locks import database_lock_current
from safety.locking import (
    LOCK_CASEBOOK_PERMISSION,
    LOCK_DATABASE_PERMISSION,
    casebook_lock,
    casebook_readiness,
    casebook_unlock,
    database_lock,
    database_unlock,
    lock_summary,
)
from safety.signatures import SIGN_PERMISSION, casebook_sign, sae_report_open
from subjects.models import CasebookLock, Participant, Signature

PARTICIPANTS_PER_PAGE = 50


class SignForm(forms.Form):
    meaning = forms.ChoiceField(
        label=gettext_lazy("Meaning of your signature"),
        choices=protocol.SIGNATURE_MEANINGS,
        widget=forms.RadioSelect,
        help_text=gettext_lazy("Shown with your signature wherever it is displayed or printed."),
    )
    password = forms.CharField(
        label=gettext_lazy("Your password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text=gettext_lazy(
            "Enter your password again: it is your electronic signature, the legally binding "
            "equivalent of your handwritten one."
        ),
    )


class LockForm(forms.Form):
    confirm = forms.BooleanField(
        label=gettext_lazy("I have checked the list above; lock now"),
        help_text=gettext_lazy("A locked record refuses every change until it is unlocked."),
    )


class UnlockForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Reason for unlocking"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy(
            "Kept in the audit trail. Unlocking makes the investigator's signature stale."
        ),
    )


def _signatures(participant: Participant) -> list[Signature]:
    return list(participant.signatures.select_related("signed_by").order_by("-signed_at", "-id"))


@permission_required(SIGN_PERMISSION, raise_exception=True)
def casebook_sign_page(request: HttpRequest, participant_id: int) -> HttpResponse:
    """The investigator signs the casebook: what is still open is listed first."""
    participant = get_object_or_404(Participant, pk=participant_id)
    form = SignForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            casebook_sign(
                participant_id=participant.pk,
                user=request.user,
                password=form.cleaned_data["password"],
                meaning=form.cleaned_data["meaning"],
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(
                request, _("You signed the casebook of %(id)s.") % {"id": participant.subject_id}
            )
            return redirect("subjects:sign", participant_id=participant.pk)
    readiness = casebook_readiness([participant.pk])[participant.pk]
    return render(
        request,
        "reporting/sign.html",
        {
            "participant": participant,
            "form": form,
            "readiness": readiness,
            "state": readiness.signature,
            "signatures": _signatures(participant),
            "sae_open": sae_report_open(participant.pk, now=timezone.now()),
            "database_locked": database_lock_current() is not None,
        },
    )


@permission_required(LOCK_CASEBOOK_PERMISSION, raise_exception=True)
def casebook_lock_page(request: HttpRequest, participant_id: int) -> HttpResponse:
    """Lock a casebook: the page lists what is missing; the lock asks for confirmation."""
    participant = get_object_or_404(Participant, pk=participant_id)
    form = LockForm(request.POST if request.method == "POST" else None, prefix="lock")
    unlock_form = UnlockForm(prefix="unlock")
    if request.method == "POST" and form.is_valid():
        try:
            casebook_lock(participant_id=participant.pk, user=request.user)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(
                request, _("The casebook of %(id)s is locked.") % {"id": participant.subject_id}
            )
            return redirect("subjects:lock", participant_id=participant.pk)
    return _lock_page(request, participant, form, unlock_form)


@permission_required(LOCK_CASEBOOK_PERMISSION, raise_exception=True)
def casebook_unlock_page(request: HttpRequest, participant_id: int) -> HttpResponse:
    participant = get_object_or_404(Participant, pk=participant_id)
    if request.method != "POST":
        return redirect("subjects:lock", participant_id=participant.pk)
    unlock_form = UnlockForm(request.POST, prefix="unlock")
    if unlock_form.is_valid():
        try:
            casebook_unlock(
                participant_id=participant.pk,
                user=request.user,
                reason=unlock_form.cleaned_data["reason"],
            )
        except ValidationError as error:
            add_service_errors(unlock_form, error)
        else:
            messages.success(
                request,
                _("The casebook of %(id)s is unlocked; its signature is stale.")
                % {"id": participant.subject_id},
            )
            return redirect("subjects:lock", participant_id=participant.pk)
    return _lock_page(request, participant, LockForm(prefix="lock"), unlock_form)


def _lock_page(
    request: HttpRequest, participant: Participant, form: LockForm, unlock_form: UnlockForm
) -> HttpResponse:
    participant.refresh_from_db(fields=["locked_at"])
    readiness = casebook_readiness([participant.pk])[participant.pk]
    return render(
        request,
        "reporting/lock.html",
        {
            "participant": participant,
            "form": form,
            "unlock_form": unlock_form,
            "readiness": readiness,
            "state": readiness.signature,
            "locks": list(
                CasebookLock.objects.filter(participant=participant).select_related(
                    "locked_by", "unlocked_by"
                )
            ),
            "database_locked": database_lock_current() is not None,
        },
    )


@permission_required(LOCK_DATABASE_PERMISSION, raise_exception=True)
def database_lock_page(request: HttpRequest) -> HttpResponse:
    """Lock or unlock the whole database; every casebook is listed with what it lacks."""
    form, unlock_form = LockForm(prefix="lock"), UnlockForm(prefix="unlock")
    if request.method == "POST":
        if "unlock-reason" in request.POST:
            action = "unlock"
            chosen = unlock_form = UnlockForm(request.POST, prefix="unlock")
        else:
            action = "lock"
            chosen = form = LockForm(request.POST, prefix="lock")
        if chosen.is_valid():
            try:
                if action == "lock":
                    database_lock(user=request.user)
                else:
                    database_unlock(user=request.user, reason=chosen.cleaned_data["reason"])
            except ValidationError as error:
                add_service_errors(chosen, error)
            else:
                messages.success(
                    request,
                    _("The database is locked; the archive is being built.")
                    if action == "lock"
                    else _("The database is unlocked; every signature is stale."),
                )
                return redirect("subjects:database_lock")
    page = Paginator(Participant.objects.order_by("subject_id"), PARTICIPANTS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    participants = list(page.object_list)
    readiness = casebook_readiness([p.pk for p in participants])
    return render(
        request,
        "reporting/database_lock.html",
        {
            "form": form,
            "unlock_form": unlock_form,
            "lock": database_lock_current(),
            "page": page,
            "rows": [(p, readiness[p.pk]) for p in participants],
            "summary": lock_summary(),
        },
    )

