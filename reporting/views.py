"""The pages that read across apps: a participant's record, the participant dashboard (with
the investigator's sign-off), the trial overview and the coordinator's worklist."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import permission_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from itp_trial import protocol
from itp_trial.history import history_rows
from safety.casebook import signature_states
from safety.context_processors import request_query_totals
from safety.locking import LOCK_CASEBOOK_PERMISSION
from safety.review import (
    participant_query_totals,
    participant_review,
    query_totals,
    worklist_queries,
)
from safety.sdv import forms_progress, participant_forms, verified_versions
from safety.selectors import open_flags_summary
from safety.signatures import SIGN_PERMISSION
from subjects.models import ParticipantStatus

from .selectors import participant_dashboard, trial_overview, worklist
from .selectors.common import OPEN_FLAGS_SHOWN
from .selectors.participant import participant_page
from .selectors.worklist import SECTIONS


@require_safe
@permission_required("subjects.view_participant", raise_exception=True)
def dashboard(request: HttpRequest, participant_id: int) -> HttpResponse:
    """One participant at a glance, with the state of the investigator's signature."""
    data = participant_dashboard(
        participant_id=participant_id, counts_page=request.GET.get("counts")
    )
    if data is None:
        raise Http404(_("No such participant."))
    return render(
        request,
        "reporting/dashboard.html",
        {
            "d": data,
            "counts_nav": _page_links(request, "counts", data.platelets_page),
            "participant": data.participant,
            "signature": signature_states([participant_id])[participant_id],
            "can_sign": request.user.has_perm(SIGN_PERMISSION),
            "can_lock": request.user.has_perm(LOCK_CASEBOOK_PERMISSION),
            "review_queries": participant_query_totals(participant_id=participant_id),
            "review_progress": forms_progress(
                participant_forms(
                    records=data.records, verified=verified_versions(participant_id=participant_id)
                )
            ),
        },
    )


@permission_required("subjects.view_participant", raise_exception=True)
def overview(request: HttpRequest) -> HttpResponse:
    """The whole trial: enrolment, visit compliance, response, safety, dose deviations; the
    lists of responders and deviating infusions a page at a time."""
    o = trial_overview(
        responders_page=request.GET.get("responders"),
        deviations_page=request.GET.get("deviations"),
    )
    nav = {
        key: _page_links(request, key, page)
        for key, page in (("responders", o.responders_page), ("deviations", o.deviations_page))
    }
    # The SDV progress is among the overview's stored figures; the queries by state are
    # counted live (whether one is overdue moves with the date), once: the navigation's
    # counts when it shows them (the template prefers them), else these.
    return render(
        request,
        "reporting/overview.html",
        {
            "o": o,
            "nav": nav,
            "review_queries": SimpleLazyObject(query_totals),
            "review_progress": o.sdv,
        },
    )


def _page_links(request: HttpRequest, key: str, page: Any) -> dict[str, str]:
    """The previous and next links of one paginated list, the other lists' pages kept."""

    def link(number: int) -> str:
        query = request.GET.copy()
        query[key] = str(number)
        return f"?{query.urlencode()}"

    return {
        "previous": link(page.previous_page_number()) if page.has_previous() else "",
        "next": link(page.next_page_number()) if page.has_next() else "",
    }


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
            # The open queries counted once, for the navigation's badge and this panel.
            **worklist_queries(open_count=request_query_totals(request)["open"]),
        },
    )


@permission_required("subjects.view_participant", raise_exception=True)
def participant_detail(request: HttpRequest, participant_id: int) -> HttpResponse:
    page = participant_page(
        participant_id=participant_id,
        today=timezone.localdate(),
        counts_page=request.GET.get("counts"),
    )
    if page is None:
        raise Http404(_("No such participant."))
    participant = page.participant
    review = participant_review(
        participant_id=participant.pk, records=page.records, forms_page=request.GET.get("forms")
    )
    return render(
        request,
        "subjects/detail.html",
        {
            "page": page,
            "counts_nav": _page_links(request, "counts", page.platelets_page),
            "forms_nav": _page_links(request, "forms", review["review_forms_page"]),
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
            "signature": signature_states([participant.pk])[participant.pk],
            "can_sign": request.user.has_perm(SIGN_PERMISSION),
            "can_lock": request.user.has_perm(LOCK_CASEBOOK_PERMISSION),
            # The context of safety/_open_flags.html and the SAE clocks, from the loaded flags.
            "open_flags": page.open_flags[:OPEN_FLAGS_SHOWN],
            "open_flags_count": len(page.open_flags),
            "sae_clocks": page.sae_clocks,
            **review,
        },
    )
