"""Reads for the participant pages: the list, one participant, the eligibility decision.

The list loads its rows with one query whatever the amount of data. The participant's
record page, which reads the schedule and the outcomes too, is built in reporting.
"""

from __future__ import annotations

from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils.translation import gettext as _

from itp_trial import protocol
from itp_trial.choices import WindowStatus

from .models import Participant, ParticipantStatus


def participant_list(*, status: str = "", search: str = "") -> QuerySet[Participant]:
    """Participants filtered by status and by subject ID or screening number, one query.

    Each carries `screening_date` (V1's date) and `overdue_visits`, annotated in the same
    query as correlated subqueries, not a join grouped over every visit: a page's LIMIT
    applies first, so only the rows shown compute them, and the paginator's count (which
    drops unused annotations) reads the participants alone.
    """
    queryset = Participant.objects.all()
    if status in ParticipantStatus.values:
        queryset = queryset.filter(status=status)
    search = search.strip()
    if search:
        queryset = queryset.filter(
            Q(subject_id__icontains=search) | Q(screening_number__icontains=search)
        )
    # The visits app sits above this one: its model is reached through the relation.
    visits = (
        Participant.visits.rel.related_model.objects.filter(participant=OuterRef("pk")).order_by()
    )
    # The participant's visits by its key alone (a dozen rows), counted with a filter: a
    # condition on the status in WHERE would let the planner scan the status index of the
    # whole study for each row shown.
    overdue = (
        visits.values("participant")
        .annotate(n=Count("pk", filter=Q(window_status=WindowStatus.OVERDUE)))
        .values("n")
    )
    return queryset.annotate(
        overdue_visits=Coalesce(Subquery(overdue, output_field=IntegerField()), 0),
        screening_date=Subquery(visits.filter(code=protocol.SCREENING_VISIT_CODE).values("actual_date")[:1]),
    ).order_by("subject_id")


def participant_get(participant_id: int) -> Participant:
    """The participant, or the 404 page: every participant page starts here."""
    participant = Participant.objects.filter(pk=participant_id).first()
    if participant is None:
        raise Http404(_("No such participant."))
    return participant
