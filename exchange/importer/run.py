"""What one import run keeps: the user and reason, the refusals and the outcome of each row."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from itp_trial import protocol
from itp_trial.audit import version_check
from subjects.models import Participant

from ..cells import format_value
from .parse import VERSION, Issue, ParsedRow

NEW = "new"
CHANGED = "changed"
UNCHANGED = "unchanged"
REFUSED = "refused"  # counted only: a row with any refusal, whatever it would have done

# When the reason is asked for later (the web preview, before confirmation), the services
# are called with this one so that they judge a change as they will on confirmation; a
# preview is always rolled back.
PREVIEW_REASON = "(preview)"


@dataclass(frozen=True)
class Change:
    column: str
    old: str
    new: str


@dataclass(slots=True)
class Outcome:
    """What a row does: creates a record, changes some of its values, or nothing."""

    file: str
    row: int
    record: str  # the natural key, for people: "ITP-001 V2"
    action: str  # NEW, CHANGED or UNCHANGED
    changes: list[Change] = field(default_factory=list)
    needs_reason: bool = False
    values: dict[str, str] = field(default_factory=dict)  # a new record's values, as text


# Booleans stored without an "unknown": an empty cell leaves the model's default on a new
# record and the stored value on an old one.
NOT_NULL_BOOLEANS = frozenset(
    {"splenectomy", "reaction", "interrupted", "ongoing", "serious", "rescue"}
)


def screening_dates_given(visits: Iterable[ParsedRow]) -> dict[str, date]:
    """Each participant's V1 date that these visits.csv rows give: a new participant is
    screened on it."""
    return {
        row.values["subject_id"]: row.values["actual_date"]
        for row in visits
        if row.values["visit_code"] == protocol.SCREENING_VISIT_CODE
        and row.values.get("actual_date")
    }


def given_values(row: ParsedRow, names: Sequence[str]) -> dict[str, Any]:
    """The row's values for these columns (those its file has), for a service."""
    return {
        name: row.values[name]
        for name in names
        if name in row.values and not (name in NOT_NULL_BOOLEANS and row.values[name] is None)
    }


def is_empty(value: Any) -> bool:
    return value is None or value == ""


def same(old: Any, new: Any) -> bool:
    """Equal as stored values: None and "" are both empty, 62.0 kg is 62 kg."""
    if old in (None, "") and new in (None, ""):
        return True
    if isinstance(old, Decimal | int) and isinstance(new, Decimal | int):
        return Decimal(old) == Decimal(new)
    return old == new


def changes(stored: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    return [
        Change(column, format_value(stored.get(column)), format_value(value))
        for column, value in new.items()
        if not same(stored.get(column), value)
    ]


class Run:
    """The state of one import: refusals and outcomes, in the order they were found."""

    def __init__(
        self,
        *,
        user: Any,
        reason: str,
        today: date,
        reason_later: bool,
        keep_outcomes: bool = True,
    ) -> None:
        self.user = user
        self.reason = reason.strip()
        self.today = today
        self.reason_later = reason_later
        self.issues: list[Issue] = []
        self.outcomes: list[Outcome] = []
        # Without `keep_outcomes` (the command: it shows counts and refusals), the rows that
        # are new or unchanged and not refused are only counted, per file and action, when
        # `fold` is called; the changed ones are always kept (a reason is asked for them).
        self.keep_outcomes = keep_outcomes
        self.tally: dict[str, Counter[str]] = {}
        self._folded = 0  # outcomes[:_folded] were looked at by `fold`
        self._refused: set[tuple[str, int]] = set()
        self._issues_seen = 0
        self.refused_subjects: dict[str, ParsedRow] = {}  # subjects.csv rows not imported
        # Participants this import creates: their records are new here, so the versions a
        # file gives for them (another database's saves) are not compared.
        self.created_subjects: set[str] = set()

    @property
    def service_reason(self) -> str:
        return self.reason or (PREVIEW_REASON if self.reason_later else "")

    def issue(self, row: ParsedRow, column: str, message: Any) -> None:
        self.issues.append(row.issue(column, str(message)))

    def fold(self) -> None:
        """Count, and drop, the outcomes recorded since the last fold that need not be kept:
        call it when every refusal of their rows is known (after a chunk of participants,
        whose rows no later row is judged against)."""
        if self.keep_outcomes:
            return
        for issue in self.issues[self._issues_seen :]:
            if issue.row is not None:
                self._refused.add((issue.file, issue.row))
        self._issues_seen = len(self.issues)
        kept = self.outcomes[: self._folded]
        for outcome in self.outcomes[self._folded :]:
            if outcome.action == CHANGED:
                kept.append(outcome)
            elif (outcome.file, outcome.row) not in self._refused:
                self.tally.setdefault(outcome.file, Counter())[outcome.action] += 1
        self.outcomes = kept
        self._folded = len(kept)

    def participant(self, row: ParsedRow) -> Participant | None:
        """The row's participant, fresh from the database; an issue when there is none."""
        subject_id = row.values["subject_id"]
        participant = Participant.objects.filter(subject_id=subject_id).first()
        if participant is None:
            self.missing(row)
        return participant

    def missing(self, row: ParsedRow) -> None:
        """The issue of a row whose participant is neither stored nor imported."""
        subject_id = row.values["subject_id"]
        refused = self.refused_subjects.get(subject_id)
        if refused is not None:
            message = _(
                "%(id)s is not in the database, and its row in %(file)s (row %(row)s) was refused."
            ) % {"id": subject_id, "file": refused.file, "row": refused.row}
        else:
            message = _("Unknown participant %(id)s: not in the database nor in %(file)s.") % {
                "id": subject_id,
                "file": "subjects.csv",
            }
        self.issue(row, "subject_id", message)

    def outcome(
        self,
        row: ParsedRow,
        record: str,
        *,
        stored: Mapping[str, Any] | None,
        new: Mapping[str, Any],
        needs_reason: bool = True,
    ) -> str:
        """Record what the row does; a change that needs a reason and has none is refused."""
        if stored is None:
            values = {column: format_value(value) for column, value in new.items()}
            self.outcomes.append(Outcome(row.file, row.row, record, NEW, values=values))
            return NEW
        found = changes(stored, new)
        if not found:
            self.outcomes.append(Outcome(row.file, row.row, record, UNCHANGED))
            return UNCHANGED
        self.outcomes.append(
            Outcome(row.file, row.row, record, CHANGED, found, needs_reason=needs_reason)
        )
        if needs_reason and not self.reason and not self.reason_later:
            for change in found:
                self.issue(
                    row,
                    change.column,
                    _(
                        "This changes the stored value “%(old)s” to “%(new)s”: give the "
                        "reason for the change."
                    )
                    % {"old": change.old, "new": change.new},
                )
        return CHANGED

    def may_write(self, action: str, *, needs_reason: bool = True) -> bool:
        """Whether to call the service for a row whose outcome is `action`."""
        if action == UNCHANGED:
            return False
        return not (action == CHANGED and needs_reason and not self.service_reason)

    def call(
        self,
        row: ParsedRow,
        write: Callable[[], Any],
        *,
        columns: Mapping[str, str] | None = None,
        default_column: str = "",
        hint: str = "",
    ) -> bool:
        """Run one service call in its own savepoint; its refusals become the row's issues.

        `columns` maps the service's field names to the file's column names; an error not
        about a field of the file goes on `default_column`.
        """
        try:
            with transaction.atomic():
                write()
            return True
        except ValidationError as error:
            self.refused(row, error, columns=columns or {}, default_column=default_column)
            if hint:
                self.issue(row, default_column, hint)
            return False

    def stale(self, row: ParsedRow, record: Any) -> bool:
        """Whether the row is refused as stale: it gives the version it was exported from
        (column `version`) and the stored record is newer (the data contract). The edit
        pages' own check and message (itp_trial.audit.version_check), with what changed
        since. The records of a participant this import creates are new: never stale."""
        version = row.values.get(VERSION)
        if version is None or record is None or record.pk is None:
            return False
        if row.values.get("subject_id") in self.created_subjects:
            return False
        if version >= record.version:  # refused only when the stored record is newer
            return False
        return not self.judge(
            row,
            lambda: version_check(record, version=version, stored=record),
            default_column=VERSION,
            hint=_("Export the file again to see the stored values, and make the change in it."),
        )

    def judge(
        self,
        row: ParsedRow,
        check: Callable[[], Any],
        *,
        columns: Mapping[str, str] | None = None,
        default_column: str = "",
        hint: str = "",
    ) -> bool:
        """As `call`, for a check that writes nothing (the bulk path): no savepoint."""
        try:
            check()
            return True
        except ValidationError as error:
            self.refused(row, error, columns=columns or {}, default_column=default_column)
            if hint:
                self.issue(row, default_column, hint)
            return False

    def refused(
        self,
        row: ParsedRow,
        error: ValidationError,
        *,
        columns: Mapping[str, str],
        default_column: str = "",
    ) -> None:
        header = set(row.dataset.header)
        if hasattr(error, "error_dict"):
            for name, messages in error.message_dict.items():
                if name in columns:
                    column = columns[name]
                elif name in header and name != NON_FIELD_ERRORS:
                    column = name
                else:
                    column = default_column
                for message in messages:
                    self.issue(row, column, message)
        else:
            for message in error.messages:
                self.issue(row, default_column, message)
