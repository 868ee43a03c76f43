"""Reads for the participant pages: the list, one participant, the eligibility decision.

The list loads its rows with one query whatever the amount of data. The participant's
record page, which reads the schedule and the outcomes too, is built in reporting.
"""

from __future__ import annotations

from django.db.models import Count, Max, Q, QuerySet
from django.http import Http404
from django.utils.translation import gettext as _

from itp_trial import protocol
from itp_trial.choices import WindowStatus

from .models import Participant, ParticipantStatus


def participant_list(*, status: str = "", search: str = "") -> QuerySet[Participant]:
    """Participants filtered by status and by subject ID or screening number, one query.

    Each carries `screening_date` (V1's date) and `overdue_visits`, annotated in the same
    query.
    """
    queryset = Participant.objects.all()
    if status in ParticipantStatus.values:
        queryset = queryset.filter(status=status)
    search = search.strip()
    if search:
        queryset = queryset.filter(
            Q(subject_id__icontains=search) | Q(screening_number__icontains=search)
        )
    return queryset.annotate(
        overdue_visits=Count("visits", filter=Q(visits__window_status=WindowStatus.OVERDUE)),
        screening_date=Max(
            "visits__actual_date", filter=Q(visits__code=protocol.SCREENING_VISIT_CODE)
        ),
    ).order_by("subject_id")


def participant_get(participant_id: int) -> Participant:
    """The participant, or the 404 page: every participant page starts here."""
    participant = Participant.objects.filter(pk=participant_id).first()
    if participant is None:
        raise Http404(_("No such participant."))
    return participant
