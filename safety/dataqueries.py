"""Writes on data queries: a monitor raises one, the site answers it, the monitor closes it.

Each write is recorded in the query's history with the user.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from itp_trial import stored_text
from subjects.models import Participant
from visits.models import Visit

from .models import DataQuery

# The reasons in a query's history: stored in English, shown translated (stored_text).
REASON_RAISED = gettext_noop("Query raised")
REASON_ANSWERED = gettext_noop("Query answered")
REASON_CLOSED = gettext_noop("Query closed")
stored_text.register(REASON_RAISED, REASON_ANSWERED, REASON_CLOSED)

RAISE_PERMISSION = "safety.add_dataquery"  # monitors: they raise and close
ANSWER_PERMISSION = "safety.change_dataquery"  # the site: coordinators and investigators


def _save(query: DataQuery, *, user: Any, reason: str) -> DataQuery:
    query.full_clean()
    query._history_user = user
    query._change_reason = reason
    if query.pk is not None:
        query.version += 1
    query.save()
    return query


def _open(query_id: int) -> DataQuery:
    query = DataQuery.objects.select_for_update().get(pk=query_id)
    if query.closed_at is not None:
        raise ValidationError(_("This query is closed."))
    return query


@transaction.atomic
def query_raise(
    *, participant: Participant, user: Any, question: str, visit: Visit | None = None
) -> DataQuery:
    """A monitor asks the site about a participant's data, optionally at one visit."""
    if not user.has_perm(RAISE_PERMISSION):
        raise PermissionDenied(_("Only a monitor can raise a query."))
    question = (question or "").strip()
    if not question:
        raise ValidationError({"question": _("Write the question for the site.")})
    if visit is not None and visit.participant_id != participant.pk:
        raise ValidationError({"visit": _("The visit belongs to another participant.")})
    query = DataQuery(participant=participant, visit=visit, question=question, raised_by=user)
    return _save(query, user=user, reason=REASON_RAISED)


@transaction.atomic
def query_answer(
    *, query_id: int, user: Any, answer: str, now: datetime | None = None
) -> DataQuery:
    """The site answers an open query; a later answer replaces it, kept in the history."""
    if not user.has_perm(ANSWER_PERMISSION):
        raise PermissionDenied(_("Only the site can answer a query."))
    answer = (answer or "").strip()
    if not answer:
        raise ValidationError({"answer": _("Write the answer.")})
    query = _open(query_id)
    query.answer = answer
    query.answered_by = user
    query.answered_at = now or timezone.now()
    return _save(query, user=user, reason=REASON_ANSWERED)


@transaction.atomic
def query_close(*, query_id: int, user: Any, now: datetime | None = None) -> DataQuery:
    """The monitor closes a query: answered to their satisfaction, or no longer needed."""
    if not user.has_perm(RAISE_PERMISSION):
        raise PermissionDenied(_("Only a monitor can close a query."))
    query = _open(query_id)
    query.closed_at = now or timezone.now()
    return _save(query, user=user, reason=REASON_CLOSED)
