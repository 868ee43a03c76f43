"""CSV import of the contract datasets: parsed, applied through the services, all or nothing.

`import_files` reads every file, then applies the rows in dependency order inside one
transaction: participants are screened before their eligibility, enrolled before their
infusions, their treatment discontinued after the infusions, visits and counts entered
after that, and withdrawals come last (nothing new can be recorded after one). Every
refusal is collected with its file, row and column; if there is any, or for a preview,
the transaction is rolled back and nothing is saved.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import datasets
from ..models import DataImport
from . import bulk as set_based
from . import clinical, subjects
from .parse import Issue, ParsedRow
from .run import CHANGED, NEW, REFUSED, UNCHANGED, Outcome, Run, screening_dates_given
from .source import Content, Files, text_issues

IMPORT_ORDER: tuple[str, ...] = (
    "subjects",
    "eligibility",
    "visits",
    "infusions",
    "platelets",
    "adverse_events",
    "conmeds",
)
assert set(IMPORT_ORDER) == {d.name for d in datasets.IMPORTABLE}
# New participants are imported set-based (exchange.importer.bulk) unless told otherwise;
# the per-record path stays for corrections of stored participants, and for comparison.
BULK = True

__all__ = [
    "CHANGED",
    "IMPORT_ORDER",
    "NEW",
    "REFUSED",
    "UNCHANGED",
    "ImportResult",
    "Issue",
    "import_files",
]


@dataclass
class ImportResult:
    issues: list[Issue] = field(default_factory=list)
    # Every row's outcome; without `outcomes` (import_files) the changed rows' only, the
    # others counted in `tally` (per file and action, refused rows left out).
    outcomes: list[Outcome] = field(default_factory=list)
    tally: dict[str, Counter] = field(default_factory=dict)
    applied: bool = False
    record: DataImport | None = None

    @property
    def ok(self) -> bool:
        return not self.issues

    @property
    def needs_reason(self) -> bool:
        return any(o.action == CHANGED and o.needs_reason for o in self.outcomes)

    def counts(self) -> dict[str, dict[str, int]]:
        """Per file: how many rows are new, changed, unchanged and refused (a refused row
        counts as refused only, whatever it would have done)."""
        result: dict[str, Counter] = {}
        refused = {(issue.file, issue.row) for issue in self.issues if issue.row is not None}
        for outcome in self.outcomes:
            if (outcome.file, outcome.row) not in refused:
                result.setdefault(outcome.file, Counter())[outcome.action] += 1
        for file, counted in self.tally.items():
            result.setdefault(file, Counter()).update(counted)
        for file, _row in refused:
            result.setdefault(file, Counter())[REFUSED] += 1
        actions = (NEW, CHANGED, UNCHANGED)
        return {
            file: {
                **{action: counter[action] for action in actions},
                **({REFUSED: counter[REFUSED]} if counter[REFUSED] else {}),
            }
            for file, counter in result.items()
        }

    def accepted(self, action: str) -> list[Outcome]:
        """The outcomes of rows with this action that nothing refused."""
        refused = {(issue.file, issue.row) for issue in self.issues if issue.row is not None}
        return [o for o in self.outcomes if o.action == action and (o.file, o.row) not in refused]


def import_files(
    *,
    files: Mapping[str, Content],
    user: Any,
    reason: str = "",
    preview: bool = False,
    reason_later: bool = False,
    source: str = "",
    upload_name: str = "",
    today: date | None = None,
    bulk: bool | None = None,
    outcomes: bool = True,
    chunk: int | None = None,
) -> ImportResult:
    """Import contract files ({dataset name: its bytes, text or path}) as `user`, all or
    nothing. A file given by its path is read streamed, never held whole.

    With `preview` everything is judged by the services and then rolled back. With
    `reason_later` (a preview whose confirmation will ask for it) a change needing a reason
    is not refused for want of one. A confirmed import is recorded as a DataImport.
    `bulk` (default BULK): the participants new to the database are judged and written
    set-based, by the same rules (exchange.importer.bulk), `chunk` participants at a time
    (default bulk.CHUNK); False: every row through the per-record services. Without
    `outcomes` (a caller that shows the counts and the refusals only), the outcome of a
    new or unchanged row is counted, not kept: the memory an import of new participants
    needs stays flat as its rows grow.
    """
    today = today or timezone.localdate()
    if bulk is None:
        bulk = BULK
    result = ImportResult()
    readable: dict[str, Content] = {}
    for name, content in files.items():
        if name not in IMPORT_ORDER:
            result.issues.append(
                Issue(f"{name}.csv", None, None, "", _("This dataset cannot be imported."))
            )
            continue
        found = text_issues(f"{name}.csv", content)
        result.issues.extend(found)
        if not found:
            readable[name] = content
    given = [name for name in IMPORT_ORDER if name in readable]
    read = Files(
        readable,
        order=IMPORT_ORDER,
        today=today,
        issues=result.issues,
        chunk=chunk or set_based.CHUNK,
    )
    run = Run(
        user=user, reason=reason, today=today, reason_later=reason_later, keep_outcomes=outcomes
    )
    with read, transaction.atomic():
        read.read(set_based.new_subjects if bulk else _none_new)
        run.refused_subjects.update(read.refused_subjects)
        others = read.others
        finish = (
            set_based.apply(
                run,
                read.new_rows(),
                numbers=read.numbers,
                given=read.spooled,
                refused=result.issues,
                seal=not (preview or result.issues),
            )
            if read.chunks
            else None
        )
        # A participant not new is screened on V1's date when visits.csv gives it.
        screening_dates = screening_dates_given(others["visits"])

        def rest(name: str) -> list[ParsedRow]:
            return others[name]

        people = rest("subjects")
        subjects.subjects_screen(run, people, screening_dates=screening_dates)
        subjects.eligibility_apply(run, rest("eligibility"))
        subjects.subjects_enrol(run, people)
        clinical.infusions_apply(run, rest("infusions"))
        subjects.subjects_discontinue(run, people)
        clinical.visits_apply(run, rest("visits"))
        if bulk:
            set_based.platelets_stored(run, rest("platelets"), write=not (preview or result.issues))
        else:
            clinical.platelets_apply(run, rest("platelets"))
        clinical.conmeds_apply(run, rest("conmeds"))
        clinical.adverse_events_apply(run, rest("adverse_events"))
        subjects.subjects_withdraw(run, people)
        result.issues.extend(run.issues)
        run.fold()
        result.outcomes = run.outcomes
        result.tally = run.tally
        if result.issues or preview:
            transaction.set_rollback(True)
        else:
            if finish is not None:
                finish()  # the new participants' sequences moved and checks queued
            result.record = DataImport.objects.create(
                imported_by=user if getattr(user, "is_authenticated", False) else None,
                files=",".join(f"{name}.csv" for name in given)[:300],
                reason=run.reason,
                summary={
                    "source": source,
                    "upload_name": upload_name,
                    "counts": result.counts(),
                },
            )
            result.applied = True
    result.issues.sort(key=_issue_order)
    return result


def _none_new(subject_ids: Iterable[str]) -> set[str]:
    return set()


def _issue_order(issue: Issue) -> tuple[int, int, int]:
    name = issue.file.removesuffix(".csv")
    position = IMPORT_ORDER.index(name) if name in IMPORT_ORDER else len(IMPORT_ORDER)
    return position, issue.row or 0, issue.line or 0
