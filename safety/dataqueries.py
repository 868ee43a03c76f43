"""Writes on data queries (protocol section 8): a monitor or data manager raises one on any
field of any record; the site answers (and may correct the data); the raiser's side closes
or re-opens it.

States: open → answered → closed; re-opening returns it to open. Each write checks the
version the user's page was based on, is recorded in the query's history with the user and
a reason, and adds a turn to the conversation (`QueryMessage`).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from itp_trial import stored_text
from itp_trial.audit import audited_save
from subjects.models import Participant
from visits.models import Visit

from .models import DataQuery, QueryMessage, QueryMessageKind, QueryState, QueryTarget
from .targets import target_get

# The reasons in a query's history: stored in English, shown translated (stored_text).
REASON_RAISED = gettext_noop("Query raised")
REASON_ANSWERED = gettext_noop("Query answered")
REASON_CLOSED = gettext_noop("Query closed")
REASON_REOPENED = gettext_noop("Query re-opened: %(why)s")
stored_text.register(REASON_RAISED, REASON_ANSWERED, REASON_CLOSED, REASON_REOPENED)

RAISE_PERMISSION = "safety.add_dataquery"  # monitors and data managers: raise, close, re-open
ANSWER_PERMISSION = "safety.change_dataquery"  # the site: coordinators and investigators


def query_target(kind: str, object_id: int | None) -> Any:
    """The record a query points at, or a validation error."""
    target = target_get(kind)
    if target is None:
        raise ValidationError({"target_kind": _("Unknown kind of record.")})
    record = target.model._default_manager.filter(pk=object_id).first()
    if record is None:
        raise ValidationError({"object_id": _("No such record.")})
    return record


def _message(query: DataQuery, *, kind: str, body: str, user: Any, at: datetime) -> None:
    message = QueryMessage(query=query, kind=kind, body=body, author=user, at=at)
    audited_save(message, user=user)


def _locked(query_id: int, version: int | None) -> DataQuery:
    query = DataQuery.objects.select_for_update().get(pk=query_id)
    if version is not None and int(version) != query.version:
        # The same refusal as every other stale form, with what changed since.
        from itp_trial.audit import stale_error

        raise stale_error(query, version=int(version), stored_version=query.version)
    return query


@transaction.atomic
def query_raise(
    *,
    user: Any,
    question: str,
    kind: str | None = None,
    object_id: int | None = None,
    field_name: str = "",
    due_date: date | None = None,
    participant: Participant | None = None,
    visit: Visit | None = None,
    now: datetime | None = None,
) -> DataQuery:
    """Raise a query on `field_name` of record (`kind`, `object_id`); without a kind, on the
    participant (or one of their visits, `visit`)."""
    if not user.has_perm(RAISE_PERMISSION):
        raise PermissionDenied(_("Only a monitor or a data manager can raise a query."))
    question = (question or "").strip()
    if not question:
        raise ValidationError({"question": _("Write the question for the site.")})
    if kind is None:
        if participant is None:
            raise ValidationError(_("Say which record the query is about."))
        if visit is not None and visit.participant_id != participant.pk:
            raise ValidationError({"visit": _("The visit belongs to another participant.")})
        kind = QueryTarget.VISIT if visit is not None else QueryTarget.PARTICIPANT
        object_id = visit.pk if visit is not None else participant.pk
    target = target_get(kind)
    record = query_target(kind, object_id)
    owner_id = target.participant_id_of(record)
    if participant is not None and participant.pk != owner_id:
        raise ValidationError(_("The record belongs to another participant."))
    if field_name and field_name not in target.fields:
        raise ValidationError({"field_name": _("This field cannot be queried.")})
    now = now or timezone.now()
    if due_date is not None and due_date < timezone.localdate(now):
        raise ValidationError({"due_date": _("The due date cannot be in the past.")})
    # One numbering per participant: lock the participant's row while taking the next one.
    owner = Participant.objects.select_for_update().get(pk=owner_id)
    last = DataQuery.objects.filter(participant=owner).aggregate(n=Max("number"))["n"] or 0
    query = DataQuery(
        participant=owner,
        number=last + 1,
        target_kind=kind,
        object_id=record.pk,
        field_name=field_name,
        target_version=getattr(record, "version", 1),
        visit=record if kind == QueryTarget.VISIT else None,
        question=question,
        due_date=due_date,
        raised_by=user,
    )
    audited_save(query, user=user, reason=REASON_RAISED)
    _message(query, kind=QueryMessageKind.QUESTION, body=question, user=user, at=now)
    return query


@transaction.atomic
def query_answer(
    *,
    query_id: int,
    user: Any,
    answer: str,
    version: int | None = None,
    now: datetime | None = None,
) -> DataQuery:
    """The site answers an open query; a later answer replaces it, kept in the history."""
    if not user.has_perm(ANSWER_PERMISSION):
        raise PermissionDenied(_("Only the site can answer a query."))
    answer = (answer or "").strip()
    if not answer:
        raise ValidationError({"answer": _("Write the answer.")})
    query = _locked(query_id, version)
    if query.state == QueryState.CLOSED:
        raise ValidationError(_("This query is closed."))
    now = now or timezone.now()
    query.answer = answer
    query.answered_by = user
    query.answered_at = now
    query.state = QueryState.ANSWERED
    audited_save(query, user=user, reason=REASON_ANSWERED)
    _message(query, kind=QueryMessageKind.ANSWER, body=answer, user=user, at=now)
    return query


@transaction.atomic
def query_close(
    *,
    query_id: int,
    user: Any,
    comment: str = "",
    version: int | None = None,
    now: datetime | None = None,
) -> DataQuery:
    """Close a query, answered or not (one step, also when the site corrected the data)."""
    if not user.has_perm(RAISE_PERMISSION):
        raise PermissionDenied(_("Only a monitor or a data manager can close a query."))
    query = _locked(query_id, version)
    if query.state == QueryState.CLOSED:
        raise ValidationError(_("This query is closed."))
    now = now or timezone.now()
    query.state = QueryState.CLOSED
    query.closed_at = now
    query.closed_by = user
    audited_save(query, user=user, reason=REASON_CLOSED)
    _message(query, kind=QueryMessageKind.CLOSE, body=(comment or "").strip(), user=user, at=now)
    return query


@transaction.atomic
def query_reopen(
    *,
    query_id: int,
    user: Any,
    comment: str,
    version: int | None = None,
    now: datetime | None = None,
) -> DataQuery:
    """Re-open an answered or closed query: it is open again, and the site answers anew."""
    if not user.has_perm(RAISE_PERMISSION):
        raise PermissionDenied(_("Only a monitor or a data manager can re-open a query."))
    comment = (comment or "").strip()
    if not comment:
        raise ValidationError({"comment": _("Say why the query is re-opened.")})
    query = _locked(query_id, version)
    if query.state == QueryState.OPEN:
        raise ValidationError(_("This query is already open."))
    now = now or timezone.now()
    query.state = QueryState.OPEN
    query.closed_at = None
    query.closed_by = None
    audited_save(query, user=user, reason=REASON_REOPENED % {"why": comment})
    _message(query, kind=QueryMessageKind.REOPEN, body=comment, user=user, at=now)
    return query
