"""The clinical files applied through their services: infusions, visits, counts, safety.

A row is compared with what is stored under its natural key: a row equal to it writes
nothing (importing the same file twice adds no history), a new record is created, and a
changed value is written through the same service as a form, with the import's reason.
A visit entered for the first time needs no reason, as on its page; a correction does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.utils.translation import gettext as _

from infusions.models import Infusion
from infusions.services import infusion_record
from itp_trial import protocol
from safety.models import AdverseEvent, ConcomitantMedication
from safety.services import adverse_event_record, conmed_record, serious_criteria_codes
from subjects.models import Participant
from visits.models import PlateletCount, Visit
from visits.services import (
    VISIT_FIELDS_BY_KIND,
    platelet_record,
    visit_mark_missed,
    visit_record,
)

from .. import datasets
from .parse import ParsedRow
from .run import CHANGED, Run, given_values, is_empty

Rows = Sequence[ParsedRow]


class RecordStore:
    """Where the row rules read the stored records and write through the services: the
    database, one service call per row (the per-record path). The bulk path
    (`bulk.HeldStore`) gives the same reads and writes on records held in memory, judged by
    the same pure checks, so that the rules below are one implementation for both."""

    def __init__(self, run: Run) -> None:
        self.run = run

    def participant(self, row: ParsedRow) -> Participant | None:
        return self.run.participant(row)

    def infusion(self, participant: Participant, number: int) -> Infusion | None:
        return Infusion.objects.filter(participant=participant, number=number).first()

    def visit(self, participant: Participant, code: str) -> Visit:
        return Visit.objects.get(participant=participant, code=code)

    def platelet_count(
        self, participant: Participant, day: Any
    ) -> tuple[PlateletCount, str] | None:
        """The stored count of that day, with the code of its visit (unscheduled: none)."""
        stored = (
            PlateletCount.objects.select_related("visit")
            .filter(participant=participant, sample_date=day)
            .first()
        )
        if stored is None:
            return None
        return stored, stored.visit.code if stored.visit else protocol.UNSCHEDULED_VISIT_CODE

    def adverse_event(self, participant: Participant, number: int) -> AdverseEvent | None:
        return (
            AdverseEvent.objects.select_related("related_infusion")
            .filter(participant=participant, ae_number=number)
            .first()
        )

    def conmed(
        self, participant: Participant, drug: str, start: Any
    ) -> ConcomitantMedication | None:
        return ConcomitantMedication.objects.filter(
            participant=participant, drug=drug, start_date=start
        ).first()

    def write(self, row: ParsedRow, service: str, /, **call: Any) -> bool:
        """Call the service named by `service` for the row (`call`: its keyword arguments and
        the run.call options), its refusals becoming the row's issues."""
        options = {k: call.pop(k) for k in ("columns", "default_column", "hint") if k in call}
        function = SERVICES[service]
        return self.run.call(row, lambda: function(user=self.run.user, **call), **options)


SERVICES = {
    "infusion_record": infusion_record,
    "visit_mark_missed": visit_mark_missed,
    "visit_record": visit_record,
    "platelet_record": platelet_record,
    "adverse_event_record": adverse_event_record,
    "conmed_record": conmed_record,
}


def _columns(dataset: datasets.Dataset) -> tuple[str, ...]:
    """The raw columns of a dataset besides its natural key: what a service is given."""
    return tuple(c.name for c in dataset.raw_columns if c.name not in dataset.key)


INFUSION_COLUMNS = _columns(datasets.INFUSIONS)


def infusions_apply(run: Run, rows: Rows, store: RecordStore | None = None) -> None:
    store = store or RecordStore(run)
    for row in sorted(rows, key=lambda r: (r.values["subject_id"], r.values["infusion_number"])):
        participant = store.participant(row)
        if participant is None:
            continue
        number = row.values["infusion_number"]
        stored = store.infusion(participant, number)
        if run.stale(row, stored):
            continue
        data = given_values(row, INFUSION_COLUMNS)
        previous = {name: getattr(stored, name) for name in data} if stored else None
        action = run.outcome(
            row, f"{participant.subject_id} INF{number}", stored=previous, new=data
        )
        if run.may_write(action):
            store.write(
                row,
                "infusion_record",
                participant=participant,
                number=number,
                data=data,
                reason=run.service_reason,
                today=run.today,
                columns={"number": "infusion_number"},
                default_column="infusion_number",
            )


# What the visit CRF holds besides the date and whether it was missed.
VISIT_CRF_COLUMNS = tuple(
    name
    for name in _columns(datasets.VISITS)
    if name not in ("actual_date", "missed", "missed_reason")
)


def _visit_infusion_row(
    run: Run, row: ParsedRow, participant: Participant, visit: Visit, store: RecordStore
) -> None:
    """An infusion visit is done by its infusion: its row is checked, never written."""
    number = visit.definition.infusion_number
    actual = row.values.get("actual_date")
    if row.values.get("missed"):
        run.issue(
            row,
            "missed",
            _(
                "An infusion is never marked missed: it is given late, or the investigator "
                "discontinues treatment."
            ),
        )
    infusion = store.infusion(participant, number)
    if actual is not None:
        if infusion is None:
            run.issue(
                row,
                "actual_date",
                _("Infusion %(n)s is not recorded: give it in infusions.csv.") % {"n": number},
            )
        elif infusion.infusion_date != actual:
            run.issue(
                row,
                "actual_date",
                _("%(code)s is done on the date of infusion %(n)s, %(date)s.")
                % {"code": visit.code, "n": number, "date": infusion.infusion_date.isoformat()},
            )
    for name in VISIT_CRF_COLUMNS:
        if not is_empty(row.values.get(name)):
            run.issue(row, name, _("Entered with the infusion, in infusions.csv."))
    run.outcome(row, f"{participant.subject_id} {visit.code}", stored={}, new={})


def visits_apply(run: Run, rows: Rows, store: RecordStore | None = None) -> None:
    store = store or RecordStore(run)

    def order(row: ParsedRow) -> tuple[str, int]:
        return row.values["subject_id"], protocol.VISIT_ORDER[row.values["visit_code"]]

    for row in sorted(rows, key=order):
        participant = store.participant(row)
        if participant is None:
            continue
        visit = store.visit(participant, row.values["visit_code"])
        if run.stale(row, visit):
            continue
        if visit.definition.kind == protocol.KIND_INFUSION:
            _visit_infusion_row(run, row, participant, visit, store)
            continue
        record = f"{participant.subject_id} {visit.code}"
        actual = row.values.get("actual_date")
        missed = bool(row.values.get("missed"))
        missed_reason = row.values.get("missed_reason") or ""
        allowed = VISIT_FIELDS_BY_KIND[visit.definition.kind]
        crf = {n: row.values[n] for n in VISIT_CRF_COLUMNS if n in row.values}
        refused = False
        for name, value in crf.items():
            if name not in allowed and not is_empty(value):
                run.issue(row, name, _("Not entered at %(code)s.") % {"code": visit.code})
                refused = True
        if not missed and missed_reason:
            run.issue(row, "missed_reason", _("Only a missed visit has a reason for missing."))
            refused = True
        if refused:
            continue

        if missed:
            if actual is not None or any(not is_empty(v) for v in crf.values()):
                run.issue(
                    row, "missed", _("A missed visit has no date and no data: it was not done.")
                )
                continue
            stored = {"missed": visit.missed, "missed_reason": visit.missed_reason}
            first = not visit.missed and visit.actual_date is None
            action = run.outcome(
                row,
                record,
                stored=None if first else stored,
                new={"missed": True, "missed_reason": missed_reason},
            )
            if run.may_write(action):
                store.write(
                    row,
                    "visit_mark_missed",
                    visit=visit,
                    missed_reason=missed_reason,
                    reason=run.service_reason if action == CHANGED else "",
                    today=run.today,
                    default_column="missed",
                )
        elif actual is not None:
            data = {"actual_date": actual, **{n: v for n, v in crf.items() if n in allowed}}
            first = visit.actual_date is None and not visit.missed
            stored = {name: getattr(visit, name) for name in data}
            if "missed" in row.values:
                stored["missed"] = visit.missed
            new = {**data, **({"missed": False} if "missed" in row.values else {})}
            action = run.outcome(row, record, stored=None if first else stored, new=new)
            if run.may_write(action):
                store.write(
                    row,
                    "visit_record",
                    visit=visit,
                    data=data,
                    reason=run.service_reason if action == CHANGED else "",
                    today=run.today,
                    default_column="actual_date",
                )
        elif visit.actual_date is not None or visit.missed:
            run.issue(
                row,
                "actual_date",
                _("%(code)s is recorded: a visit cannot be cleared by an import.")
                % {"code": visit.code},
            )
        else:
            run.outcome(row, record, stored={}, new={})


def platelets_apply(run: Run, rows: Rows, store: RecordStore | None = None) -> None:
    store = store or RecordStore(run)
    unscheduled = protocol.UNSCHEDULED_VISIT_CODE
    for row in sorted(rows, key=lambda r: (r.values["subject_id"], r.values["sample_date"])):
        participant = store.participant(row)
        if participant is None:
            continue
        day, code = row.values["sample_date"], row.values["visit_code"]
        visit = None
        if code != unscheduled:
            visit = store.visit(participant, code)
        found = store.platelet_count(participant, day)
        stored, stored_code = found if found is not None else (None, None)
        if run.stale(row, stored):
            continue
        new = {
            name: row.values[name]
            for name in ("platelets_10e9_l", "who_bleeding_grade", "visit_code")
            if name in row.values
        }
        previous = None
        if stored is not None:
            previous = {
                "platelets_10e9_l": stored.platelets,
                "who_bleeding_grade": stored.who_bleeding_grade,
                "visit_code": stored_code,
            }
            if stored_code != unscheduled and code == unscheduled:
                run.issue(
                    row,
                    "visit_code",
                    _("The count was entered at %(code)s; it cannot become unscheduled.")
                    % {"code": stored_code},
                )
                continue
        action = run.outcome(
            row, f"{participant.subject_id} {day.isoformat()}", stored=previous, new=new
        )
        grade = row.values.get(
            "who_bleeding_grade", stored.who_bleeding_grade if stored is not None else None
        )
        if run.may_write(action):
            store.write(
                row,
                "platelet_record",
                participant=participant,
                sample_date=day,
                platelets=row.values["platelets_10e9_l"],
                who_bleeding_grade=grade,
                visit=visit,
                reason=run.service_reason,
                today=run.today,
                columns={"platelets": "platelets_10e9_l", "visit": "visit_code"},
            )


AE_COLUMNS = _columns(datasets.ADVERSE_EVENTS)


def adverse_events_apply(run: Run, rows: Rows, store: RecordStore | None = None) -> None:
    store = store or RecordStore(run)
    for row in sorted(rows, key=lambda r: (r.values["subject_id"], r.values["ae_number"])):
        participant = store.participant(row)
        if participant is None:
            continue
        number = row.values["ae_number"]
        given = given_values(row, AE_COLUMNS)
        if given.get("action_taken") == "":
            del given["action_taken"]  # the model's default, none
        if "serious_criteria" in given:
            given["serious_criteria"] = ";".join(serious_criteria_codes(given["serious_criteria"]))
        stored = store.adverse_event(participant, number)
        if run.stale(row, stored):
            continue
        previous = None
        if stored is not None:
            previous = {name: getattr(stored, name) for name in given}
            previous["related_infusion"] = (
                stored.related_infusion.number if stored.related_infusion else None
            )
        action = run.outcome(
            row, f"{participant.subject_id} AE{number}", stored=previous, new=given
        )
        data = dict(given)
        if data.get("related_infusion") is not None:
            infusion = store.infusion(participant, data["related_infusion"])
            if infusion is None:
                run.issue(
                    row,
                    "related_infusion",
                    _("Infusion %(n)s of %(id)s is not recorded.")
                    % {"n": data["related_infusion"], "id": participant.subject_id},
                )
                continue
            data["related_infusion"] = infusion
        if run.may_write(action):
            store.write(
                row,
                "adverse_event_record",
                participant=participant,
                data=data,
                ae_number=number,
                reason=run.service_reason,
            )


CONMED_COLUMNS = _columns(datasets.CONMEDS) + ("drug", "start_date")


def conmeds_apply(run: Run, rows: Rows, store: RecordStore | None = None) -> None:
    store = store or RecordStore(run)

    def order(row: ParsedRow) -> tuple[Any, ...]:
        return row.values["subject_id"], row.values["start_date"], row.values["drug"]

    for row in sorted(rows, key=order):
        participant = store.participant(row)
        if participant is None:
            continue
        drug, start = row.values["drug"], row.values["start_date"]
        stored = store.conmed(participant, drug, start)
        if run.stale(row, stored):
            continue
        data = given_values(row, CONMED_COLUMNS)
        previous = {name: getattr(stored, name) for name in data} if stored else None
        record = f"{participant.subject_id} {drug} {start.isoformat()}"
        action = run.outcome(row, record, stored=previous, new=data)
        if run.may_write(action):
            store.write(
                row,
                "conmed_record",
                participant=participant,
                data=data,
                conmed=stored,
                reason=run.service_reason,
                today=run.today,
            )
