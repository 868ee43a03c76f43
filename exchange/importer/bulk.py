"""The set-based import of new participants: a whole file judged in memory, then written in
a few statements, all or nothing.

The participants of subjects.csv not yet in the database, and every row of theirs in the
other files, are judged here; rows of participants already stored (corrections) go through
the per-record services. The row rules are not repeated: the same functions of
`subjects.py` and `clinical.py` run over a `HeldStore`, which answers their reads from the
records held in memory and judges each write with the services' own pure checks
(`consent_check`, `enrolment_check`, `infusion_prepare`, `_visit_prepare`, ...), in the
same dependency order, so a row is refused here exactly when the per-record path refuses
it. When nothing is refused, each participant's schedule is derived once
(`schedule_derive`) and its IWG response summarised once (`response_summarise`, stored as
`responses_sync` stores it), every table is written in batches (on PostgreSQL by COPY, with
ids taken from its sequence; elsewhere `bulk_create`), and its history is written already
sealed into the audit chain; the checks are queued once for the whole import.

The participants are judged CHUNK at a time, with their rows of every file (read from the
disk by `exchange.importer.source`), in the import's one transaction: the memory held does
not grow with the file (a chunk's rows and records are dropped once formatted for writing).
On PostgreSQL (`SpooledWriter`) each chunk's rows, and their history entries sealed
(`SealedHistory`), are formatted for COPY into temporary files, and each table is written
by one COPY at the end, its ids taken from its sequence once: the import's statements do
not grow with its rows or its chunks. Elsewhere (`Writer`: SQLite) each chunk is written
as it is judged (`bulk_create`, `history_write_sealed`). A refusal stops the writing, not
the judging: every refusal of the file is reported, and the transaction is rolled back.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from operator import attrgetter
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models.fields import AutoFieldMixin
from django.utils import timezone
from django.utils.translation import gettext as _
from psycopg._copy_base import TextFormatter  # COPY's text format, made ahead of the COPY
from psycopg.adapt import Transformer

from infusions.models import Infusion
from infusions.services import assign_fields, clean_fields_into, infusion_prepare
from itp_trial import protocol
from itp_trial.audit import (
    CONCURRENT_SAVE,
    SealedHistory,
    history_insert_select,
    history_write_sealed,
    ids_reserve,
)
from itp_trial.locks import lock_write_check, participants_write_check
from itp_trial.tasks import (
    CHECKS_FOR_PARTICIPANTS,
    FIGURES_SYNC,
    task_enqueue_on_commit,
    task_run,
)
from safety.models import AdverseEvent, ConcomitantMedication
from safety.services import CONMED_DATA_FIELDS, adverse_event_prepare, conmed_errors
from subjects.models import EligibilityAnswer, Participant, SequenceCounter
from subjects.rules import eligibility_decide
from subjects.services import (
    SCREENING_NUMBER_FORMAT,
    SUBJECT_ID_FORMAT,
    consent_check,
    discontinuation_check,
    eligibility_check,
    enrolment_check,
    identifier_check,
    screening_date_check,
    withdrawal_check,
)
from visits.models import VISIT_RESPONSE_FIELDS, ParticipantResponse, PlateletCount, Visit
from visits.response import PlateletSample, response_summarise
from visits.selectors import participants_with_schedule, schedule_input
from visits.services.entry import Held, _visit_prepare, platelet_check, visit_missed_check
from visits.services.fields import PLATELET_FIELDS
from visits.services.sync import _store as schedule_store
from visits.services.sync import responses_sync, schedule_derive

from . import clinical, subjects
from .parse import ParsedRow
from .run import Run, given_values, screening_dates_given

BATCH = 5000
# New participants judged and written at a time, with their rows of every file: the
# memory an import needs does not grow with its participants beyond this.
CHUNK = 500
Rows = Sequence[ParsedRow]
Finish = Callable[[], None] | None


@dataclass
class Person:
    """A new participant and everything of theirs the file gives, held until written."""

    participant: Participant
    visits: dict[str, Visit]
    infusions: dict[int, Infusion] = field(default_factory=dict)
    answers: dict[str, bool] = field(default_factory=dict)
    counts: dict[date, tuple[PlateletCount, str]] = field(default_factory=dict)
    events: dict[int, AdverseEvent] = field(default_factory=dict)
    conmeds: dict[tuple[str, date], ConcomitantMedication] = field(default_factory=dict)

    def current(self) -> Any:
        return schedule_input(
            self.participant, visits=self.visits.values(), infusions=self.infusions.values()
        )

    def held(self) -> Held:
        return Held(
            participant=self.participant,
            current=self.current(),
            counts={day: (c, code) for day, (c, code) in self.counts.items()},
        )


def new_subjects(subject_ids: Iterable[str]) -> set[str]:
    """Those of these subject ids that are not in the database (one query)."""
    given = set(subject_ids)
    stored = set(
        Participant.objects.filter(subject_id__in=given).values_list("subject_id", flat=True)
    )
    return given - stored


class HeldStore(clinical.RecordStore, subjects.SubjectStore):
    """The reads and writes of the row rules, on the new participants held in memory."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.people: dict[str, Person] = {}
        self.enrolled = Participant.objects.filter(enrolled_on__isnull=False).count()

    # --- reads -----------------------------------------------------------------------------

    def person(self, participant: Participant) -> Person:
        return self.people[participant.subject_id]

    def find(self, subject_id: str) -> Participant | None:
        person = self.people.get(subject_id)
        return person.participant if person else None

    def participant(self, row: ParsedRow) -> Participant | None:
        found = self.find(row.values["subject_id"])
        if found is None:
            self.run.missing(row)
        return found

    def answers(self, participant: Participant) -> dict[str, EligibilityAnswer]:
        """The answers held (not stored: no version to compare a row's with)."""
        return {
            code: EligibilityAnswer(participant=participant, criterion=code, met=met)
            for code, met in self.person(participant).answers.items()
        }

    def infusion(self, participant: Participant, number: int) -> Infusion | None:
        return self.person(participant).infusions.get(number)

    def visit(self, participant: Participant, code: str) -> Visit:
        return self.person(participant).visits[code]

    def platelet_count(
        self, participant: Participant, day: Any
    ) -> tuple[PlateletCount, str] | None:
        return self.person(participant).counts.get(day)

    def adverse_event(self, participant: Participant, number: int) -> AdverseEvent | None:
        return self.person(participant).events.get(number)

    def conmed(
        self, participant: Participant, drug: str, start: Any
    ) -> ConcomitantMedication | None:
        return self.person(participant).conmeds.get((drug, start))

    # --- writes: the services' checks, applied in memory ------------------------------------

    def write(self, row: ParsedRow, service: str, /, **call: Any) -> bool:
        options = {k: call.pop(k) for k in ("columns", "default_column", "hint") if k in call}
        method = getattr(self, f"_{service}")
        return self.run.judge(row, lambda: method(**call), **options)

    def record_eligibility(self, participant: Participant, answers: dict[str, Any]) -> None:
        eligibility_check(participant, answers)
        person = self.person(participant)
        person.answers.update({code: met for code, met in answers.items() if met is not None})
        decision = eligibility_decide(person.answers)
        participant.eligible = decision.eligible
        participant.eligibility_assessed_on = self.run.today if decision.complete else None

    def _participant_enrol(
        self,
        *,
        participant: Participant,
        planned_first_infusion_date: date,
        enrolled_on: date,
        today: date,
    ) -> None:
        enrolled_on = enrolled_on or today
        enrolment_check(
            participant,
            planned_first_infusion_date=planned_first_infusion_date,
            enrolled_on=enrolled_on,
            today=today,
            enrolled=self.enrolled,
        )
        participant.enrolled_on = enrolled_on
        participant.planned_first_infusion_date = planned_first_infusion_date
        self.enrolled += 1

    def _participant_update(
        self, *, participant: Participant, data: dict[str, Any], reason: str, today: date
    ) -> None:
        for name, value in data.items():
            setattr(participant, name, value)
        consent_check(participant, today=today)

    def _treatment_discontinue(
        self, *, participant: Participant, on: date, reason: str, today: date
    ) -> None:
        person = self.person(participant)
        given = [person.infusions[n].infusion_date for n in sorted(person.infusions)]
        discontinuation_check(
            participant, user=self.run.user, on=on, reason=reason, given=given, today=today
        )
        participant.treatment_discontinued_date = on
        participant.treatment_discontinued_reason = reason.strip()

    def _participant_withdraw(
        self,
        *,
        participant: Participant,
        on: date,
        withdrawal_reason: str,
        detail: str,
        today: date,
    ) -> None:
        person = self.person(participant)
        _changed, participant.status = schedule_derive(
            participant,
            visits=list(person.visits.values()),
            infusions=list(person.infusions.values()),
            today=today,
        )
        dates = [v.actual_date for v in person.visits.values() if v.actual_date is not None]
        withdrawal_check(
            participant,
            on=on,
            withdrawal_reason=withdrawal_reason,
            last_visit_date=max(dates, default=None),
            today=today,
        )
        participant.withdrawal_date = on
        participant.withdrawal_reason = withdrawal_reason
        participant.withdrawal_detail = detail.strip()

    def _infusion_record(
        self, *, participant: Participant, number: int, data: Any, reason: str, today: date
    ) -> None:
        person = self.person(participant)
        infusion, _adding = infusion_prepare(
            participant=participant,
            number=number,
            data=data,
            today=today,
            others=person.infusions,
        )
        person.infusions[number] = infusion

    def _visit_record(self, *, visit: Visit, data: Any, reason: str, today: date) -> None:
        person = self.person(visit.participant)
        entry = _visit_prepare(visit=visit, data=data, today=today, held=person.held())
        values = dict(entry.values)
        platelets = {name: values.pop(name) for name in PLATELET_FIELDS if name in values}
        for name, value in values.items():
            setattr(visit, name, value)
        visit.missed, visit.missed_reason = False, ""
        if platelets.get("platelets") is not None:
            count = entry.platelet_count or PlateletCount(
                participant=person.participant, sample_date=visit.actual_date
            )
            for day, (held, _code) in list(person.counts.items()):
                if held is count:
                    del person.counts[day]
            count.sample_date = visit.actual_date
            count.visit = visit
            count.platelets = platelets["platelets"]
            count.who_bleeding_grade = platelets.get("who_bleeding_grade")
            person.counts[visit.actual_date] = (count, visit.code)

    def _visit_mark_missed(
        self, *, visit: Visit, missed_reason: str, reason: str, today: date
    ) -> None:
        person = self.person(visit.participant)
        text = visit_missed_check(
            visit,
            missed_reason=missed_reason,
            participant=person.participant,
            current=person.current(),
            today=today,
        )
        visit.missed, visit.missed_reason = True, text

    def _platelet_record(
        self,
        *,
        participant: Participant,
        sample_date: Any,
        platelets: Any,
        who_bleeding_grade: Any,
        visit: Visit | None,
        reason: str,
        today: date,
    ) -> None:
        person = self.person(participant)
        day, value, grade = platelet_check(
            participant=participant,
            sample_date=sample_date,
            platelets=platelets,
            who_bleeding_grade=who_bleeding_grade,
            visit=visit,
            current=person.current,
            today=today,
        )
        found = person.counts.get(day)
        count, code = found if found else (None, protocol.UNSCHEDULED_VISIT_CODE)
        count = count or _new(PlateletCount, participant=participant, sample_date=day)
        count.platelets, count.who_bleeding_grade = value, grade
        if visit is not None:
            count.visit, code = visit, visit.code
        person.counts[day] = (count, code)

    def _adverse_event_record(
        self, *, participant: Participant, data: Any, ae_number: int, reason: str
    ) -> None:
        if ae_number < 1:
            raise ValidationError({"ae_number": _("The AE number starts at 1.")})
        person = self.person(participant)
        event = person.events.get(ae_number) or AdverseEvent(
            participant=participant, ae_number=ae_number
        )
        adverse_event_prepare(event, participant=participant, data=data, now=timezone.now())
        person.events[ae_number] = event

    def _conmed_record(
        self,
        *,
        participant: Participant,
        data: Any,
        conmed: ConcomitantMedication | None,
        reason: str,
        today: date,
    ) -> None:
        person = self.person(participant)
        conmed = conmed or ConcomitantMedication(participant=participant)
        errors: dict[str, list[Any]] = {}
        assign_fields(conmed, data, allowed=CONMED_DATA_FIELDS, errors=errors)
        clean_fields_into(conmed, errors=errors, exclude=("participant",))
        key = (conmed.drug, conmed.start_date)
        conmed_errors(
            conmed,
            participant=participant,
            today=today,
            errors=errors,
            duplicate=key in person.conmeds and person.conmeds[key] is not conmed,
        )
        if errors:
            raise ValidationError(errors)
        person.conmeds[key] = conmed


@dataclass
class Numbering:
    """The identifiers across the chunks of one import: the screening numbers taken (stored
    or given to a participant judged before) and the two sequences' values so far."""

    taken: set[str]
    subject_seq: int
    number_seq: int

    @classmethod
    def start(cls, numbers: set[str]) -> Numbering:
        """Read once for the whole file (two queries); `numbers`: those the file gives."""
        taken = set(
            Participant.objects.filter(screening_number__in=numbers).values_list(
                "screening_number", flat=True
            )
        )
        counters = dict(
            SequenceCounter.objects.filter(name__in=("subject_id", "screening_number")).values_list(
                "name", "value"
            )
        )
        return cls(taken, counters.get("subject_id", 0), counters.get("screening_number", 0))

    def store(self) -> None:
        """The sequences moved once, after the file (the identifiers it gives move them, as
        on the per-record path)."""
        for name, value in (
            ("subject_id", self.subject_seq),
            ("screening_number", self.number_seq),
        ):
            SequenceCounter.objects.get_or_create(name=name)
            SequenceCounter.objects.filter(name=name, value__lt=value).update(value=value)


def _screen(
    run: Run,
    store: HeldStore,
    rows: Rows,
    *,
    screening_dates: dict[str, Any],
    numbering: Numbering,
) -> None:
    """participant_screen's rules for each new participant, in memory, in file order; the
    identifiers they take counted in `numbering`."""
    taken = numbering.taken
    for row in rows:
        subject_id = row.values["subject_id"]
        new = subjects.adults_not_applicable(given_values(row, subjects.SUBJECT_RAW))
        run.outcome(row, subject_id, stored=None, new=new)
        data = subjects.adults_not_applicable(given_values(row, subjects.PARTICIPANT_FIELDS))
        state: dict[str, Any] = {}

        def check(
            row: ParsedRow = row,
            subject_id: str = subject_id,
            data: Any = data,
            number_seq: int = numbering.number_seq,
            state: dict[str, Any] = state,
        ) -> None:
            participant = Participant(**data)
            consent_check(participant, today=run.today)
            n = identifier_check(subject_id, name="subject_id", fmt=SUBJECT_ID_FORMAT, taken=False)
            given = row.values.get("screening_number")
            if given:
                number = identifier_check(
                    given,
                    name="screening_number",
                    fmt=SCREENING_NUMBER_FORMAT,
                    taken=given in taken,
                )
                screening_number, next_seq = given, max(number_seq, number)
            else:
                next_seq = number_seq + 1
                screening_number = SCREENING_NUMBER_FORMAT.format(next_seq)
            participant.subject_id = subject_id
            participant.screening_number = screening_number
            participant.full_clean(validate_unique=False, validate_constraints=False)
            day = screening_dates.get(subject_id) or participant.consent_date
            screening_date_check(day, consent_date=participant.consent_date, today=run.today)
            state.update(participant=participant, n=n, seq=next_seq, day=day)

        if not run.judge(row, check, columns={"screening_date": "consent_date"}):
            run.refused_subjects[subject_id] = row
            continue
        participant = state["participant"]
        numbering.subject_seq = max(numbering.subject_seq, state["n"])
        numbering.number_seq = state["seq"]
        taken.add(participant.screening_number)
        store.people[subject_id] = Person(
            participant=participant,
            visits={
                d.code: _new(
                    Visit,
                    participant=participant,
                    code=d.code,
                    actual_date=state["day"] if d.kind == protocol.KIND_SCREENING else None,
                )
                for d in protocol.VISITS
            },
        )


_DEFAULTS: dict[Any, tuple[list[Any], dict[str, int], list[tuple[int, Any]]]] = {}


def _new(model: Any, *, participant: Participant, **values: Any) -> Any:
    """A new `model` instance of the participant with these field values, the others their
    defaults, as `model(participant=..., **values)` gives it: built from its values in
    field order (a hundred thousand counts are built this way; keyword arguments cost
    twice as much)."""
    if model not in _DEFAULTS:
        fields = model._meta.concrete_fields
        _DEFAULTS[model] = (
            [None if callable(f.default) else f.get_default() for f in fields],
            {f.attname: i for i, f in enumerate(fields)},
            [(i, f) for i, f in enumerate(fields) if callable(f.default)],
        )
    defaults, at, calls = _DEFAULTS[model]
    row = defaults.copy()
    for i, default in calls:
        row[i] = default.get_default()
    for name, value in values.items():
        row[at[name]] = value
    instance = model(*row)
    # The relation cached as its descriptor would (which also asks the database routers, of
    # which there are none): the id is taken from it when the row is written.
    relation = model._meta.get_field("participant")
    relation.set_cached_value(instance, participant)
    setattr(instance, relation.attname, participant.pk)
    return instance


def _in_batches(model: Any, objects: list[Any], *, keys: bool = True) -> None:
    """Insert the objects, their ids set. PostgreSQL is given them by COPY, as tuples (a
    bulk_create costs more to build its statement than to run it), with ids taken from the
    table's sequence beforehand when other rows or the history name them (`keys`);
    elsewhere bulk_create in batches."""
    if connection.vendor != "postgresql":
        for start in range(0, len(objects), BATCH):
            model.objects.bulk_create(objects[start : start + BATCH])
        return
    for start in range(0, len(objects), BATCH):
        _copy(model, objects[start : start + BATCH], keys=keys)


def _copy(model: Any, objects: list[Any], *, keys: bool) -> None:
    """COPY the objects' rows into the model's table (`_rows`), their ids taken from the
    table's sequence when `keys`."""
    if not objects:
        return
    ids = ids_reserve(model, len(objects)) if keys and _auto_pk(model) else None
    sql, rows = _rows(model, objects, keys=keys, ids=ids)
    # The driver's errors as Django's (a unique key lost to another save: IntegrityError).
    with connection.wrap_database_errors, connection.cursor() as cursor, cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)


def _auto_pk(model: Any) -> bool:
    return model._meta.pk.auto_created or isinstance(model._meta.pk, AutoFieldMixin)


def _rows(
    model: Any, objects: Iterable[Any], *, keys: bool, ids: Iterable[int] | None
) -> tuple[str, Iterator[list[Any]]]:
    """The COPY of the model's table, and the objects' rows for it: each field's value as
    bulk_create would save it (pre_save: defaults and automatic dates; the ids of related
    objects written before), adapted by the driver; each object given its id from `ids`
    (when `keys`: other rows or the history name it) and marked saved as its row is made."""
    meta = model._meta
    auto_pk = _auto_pk(model)
    fields = [f for f in meta.concrete_fields if keys or not f.primary_key or not auto_pk]
    relations = [f for f in fields if f.many_to_one or f.one_to_one]
    automatic = [
        (i, f)
        for i, f in enumerate(fields)
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
    ]
    read = attrgetter(*(f.attname for f in fields))
    quote = connection.ops.quote_name
    sql = f"COPY {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) FROM STDIN"
    given = iter(ids) if ids is not None else None

    def rows() -> Iterator[list[Any]]:
        for obj in objects:
            if given is not None:
                obj.pk = next(given)
            for relation in relations:
                related = relation.get_cached_value(obj, None)
                if related is not None:
                    setattr(obj, relation.attname, related.pk)
            row = list(read(obj))
            for i, f in automatic:
                row[i] = f.pre_save(obj, True)
            obj._state.adding = False
            yield row

    return sql, rows()


def _ids_in_batches(ids: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), BATCH):
        yield ids[start : start + BATCH]


def _response(person: Person) -> ParticipantResponse:
    """The participant's IWG response by the rule (`response_summarise`), stored as
    `responses_sync` stores it: each count's category, each visit's counters of its counts
    by category and the response row, set on the held records before they are written (a
    test holds the two equal)."""
    first = person.infusions.get(1)
    counts = sorted((count for count, _code in person.counts.values()), key=_sample_date)
    summary = response_summarise(
        (PlateletSample(c.sample_date, c.platelets, c.who_bleeding_grade) for c in counts),
        first_infusion=first.infusion_date if first is not None else None,
        rescue_starts=[c.start_date for c in person.conmeds.values() if c.rescue],
    )
    by_date = {a.sample.sample_date: a.category for a in summary.assessments}
    for count in counts:
        count.response_category = category = by_date.get(count.sample_date, "")
        if category and count.visit is not None:
            name = VISIT_RESPONSE_FIELDS[category]
            setattr(count.visit, name, getattr(count.visit, name) + 1)
    return ParticipantResponse(
        participant=person.participant,
        baseline_platelets=summary.baseline,
        best_response=summary.best_response,
        time_to_response_days=summary.time_to_response_days,
        response_start=summary.response_start,
        response_lost_on=summary.response_lost_on,
        response_duration_days=summary.response_duration_days,
    )


def _sample_date(count: PlateletCount) -> date:
    return count.sample_date


def _write(run: Run, store: HeldStore, writer: Writer) -> list[int]:
    """The chunk's participants, written set-based by `writer`: each schedule derived and
    each response summarised once, in memory; every table's rows and (unless a preview)
    their history. Returns their ids."""
    people = list(store.people.values())
    if not people:
        return []
    for person in people:
        _changed, person.participant.status = schedule_derive(
            person.participant,
            visits=list(person.visits.values()),
            infusions=list(person.infusions.values()),
            today=run.today,
        )
    responses = [_response(person) for person in people]
    tables: list[tuple[Any, list[Any]]] = [
        (Participant, [p.participant for p in people]),
        (Visit, [v for p in people for v in p.visits.values()]),
        (
            EligibilityAnswer,
            [
                EligibilityAnswer(participant=p.participant, criterion=code, met=met)
                for p in people
                for code, met in p.answers.items()
            ],
        ),
        (Infusion, [i for p in people for i in p.infusions.values()]),
        (PlateletCount, [c for p in people for c, _code in p.counts.values()]),
        (AdverseEvent, [e for p in people for e in p.events.values()]),
        (ConcomitantMedication, [c for p in people for c in p.conmeds.values()]),
    ]
    for model, objects in tables:
        writer.rows(model, objects)
    writer.rows(ParticipantResponse, responses, keys=False)
    writer.history(tables)
    return [p.participant.pk for p in people]


class Writer:
    """How the new participants' records are stored: elsewhere than PostgreSQL (SQLite,
    which serialises writers anyway), each chunk's as it is judged, by bulk_create, its
    history sealed (`history_write_sealed`); `finish` after the last chunk."""

    def __init__(self, run: Run, *, seal: bool, bounds: dict[Any, int]) -> None:
        self.run = run
        self.seal = seal
        self.bounds = bounds
        self.at = timezone.now()
        self.user_id = run.user.pk if getattr(run.user, "is_authenticated", False) else None
        self.reason = run.reason or _("Imported")

    def rows(self, model: Any, objects: list[Any], *, keys: bool = True) -> None:
        for start in range(0, len(objects), BATCH):
            model.objects.bulk_create(objects[start : start + BATCH])

    def history(self, tables: list[tuple[Any, list[Any]]]) -> None:
        if self.seal:
            history_write_sealed(
                records=tables,
                history_type="+",
                reason=self.reason,
                at=self.at,
                user_id=self.user_id,
                batch=BATCH,
            )

    def finish(self) -> None:
        """After the last chunk, when nothing is refused."""

    def close(self) -> None:
        """In any case: what the writer holds released."""


class SpooledWriter(Writer):
    """PostgreSQL: every table written by one COPY for the whole import, whatever its rows,
    the ids taken from each table's sequence once (`bounds`: the most rows each table, or
    history table, can get from the files; those not used are left as gaps, as a rolled
    back insert leaves them). The largest table's COPY is opened before the first chunk and
    given each chunk's rows as they are judged, so that the server stores them while the
    next chunk is judged; the other tables' rows, and their history entries sealed, are
    formatted for COPY into temporary files, each written by one COPY at the end. So the
    import's statements do not grow with its rows, nor its memory. While that COPY is open
    nothing else runs on the connection: the row rules read nothing from the database
    (what they would read is read before: the user's permissions)."""

    def __init__(self, run: Run, *, seal: bool, bounds: dict[Any, int]) -> None:
        super().__init__(run, seal=seal, bounds=bounds)
        self.sealed = (
            SealedHistory(history_type="+", reason=self.reason, at=self.at, user_id=self.user_id)
            if seal
            else None
        )
        self._spools: dict[str, tuple[Any, Any]] = {}  # COPY statement: (file, formatter)
        self._ids = {model: _id_runs(model, count) for model, count in bounds.items()}
        if self.sealed is not None:
            self.sealed.lock()
        user = run.user
        if getattr(user, "is_authenticated", False):
            user.get_all_permissions()  # cached on the user: has_perm reads no more
        connection.ensure_connection()
        self._transformer = Transformer(connection.connection)
        live = max(
            (m for m in bounds if self.sealed is not None or not _is_history(m)),
            key=lambda m: (bounds[m], _is_history(m)),
        )
        self._live_sql = (
            self.sealed.copy_sql(live.instance_type)
            if _is_history(live)
            else _rows(live, (), keys=True, ids=None)[0]
        )
        self._cursor = connection.cursor()
        with connection.wrap_database_errors:
            self._live_copy = self._cursor.copy(self._live_sql)
            self._live = self._live_copy.__enter__()

    def _write_rows(self, sql: str, rows: Iterable[list[Any]]) -> None:
        if sql == self._live_sql and self._live is not None:
            with connection.wrap_database_errors:
                for row in rows:
                    self._live.write_row(row)
            return
        if sql not in self._spools:
            self._spools[sql] = (tempfile.TemporaryFile(), TextFormatter(self._transformer))
        file, formatter = self._spools[sql]
        for row in rows:
            if data := formatter.write_row(row):
                file.write(data)

    def rows(self, model: Any, objects: list[Any], *, keys: bool = True) -> None:
        ids = self._ids[model] if keys and _auto_pk(model) else None
        sql, rows = _rows(model, objects, keys=keys, ids=ids)
        self._write_rows(sql, rows)

    def history(self, tables: list[tuple[Any, list[Any]]]) -> None:
        if self.sealed is None:
            return
        for model, objects in tables:
            entries = self.sealed.entries(model, objects, self._ids[model.history.model])
            self._write_rows(self.sealed.copy_sql(model), entries)

    def _live_end(self, *exc: Any) -> None:
        if self._live is not None:
            self._live = None
            with connection.wrap_database_errors:
                self._live_copy.__exit__(*exc)
            self._cursor.close()

    def finish(self) -> None:
        """The largest table's COPY ended; one COPY per other table, in the order first
        written (a record before those naming it), from its file; then the chain head
        moved past the history."""
        self._live_end(None, None, None)
        with connection.wrap_database_errors, connection.cursor() as cursor:
            for sql, (file, formatter) in self._spools.items():
                if data := formatter.end():
                    file.write(data)
                file.seek(0)
                with cursor.copy(sql) as copy:
                    while block := file.read(SPOOL_BLOCK):
                        copy.write(block)
        if self.sealed is not None:
            self.sealed.close()

    def close(self) -> None:
        """The COPY still open ended: aborted on an error (the transaction fails with
        it), else completed (a refused import is rolled back by its caller)."""
        self._live_end(*sys.exc_info())
        for file, _formatter in self._spools.values():
            file.close()
        self._spools.clear()


def _is_history(model: Any) -> bool:
    return getattr(model, "instance_type", None) is not None


SPOOL_BLOCK = 1 << 20


def _id_runs(model: Any, count: int) -> Iterator[int]:
    """`count` new ids of the model, taken from its table's sequence now, in one query, and
    read back as runs of consecutive ids (nearly always one): held as a few numbers, given
    one by one."""
    table, column = model._meta.db_table, model._meta.pk.column
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT min(id), max(id) FROM (SELECT id, id - row_number() OVER (ORDER BY id) AS run"
            " FROM (SELECT nextval(pg_get_serial_sequence(%s, %s)) AS id"
            " FROM generate_series(1, %s)) AS taken) AS numbered GROUP BY run ORDER BY 1",
            [connection.ops.quote_name(table), column, count],
        )
        runs = cursor.fetchall()

    def ids() -> Iterator[int]:
        for first, last in runs:
            yield from range(first, last + 1)
        raise RuntimeError(f"More {model._meta.label} rows than the import's files could give.")

    return ids()


class StoredStore(HeldStore):
    """The stored participants of a platelets file (the lab upload), loaded once: their
    counts judged in memory by the same row rules and the services' own checks, then
    written set-based (`platelets_stored`). Four reads, whatever the number of rows."""

    def __init__(self, run: Run, rows: Rows) -> None:
        super().__init__(run)
        given = {row.values["subject_id"] for row in rows}
        loaded = list(participants_with_schedule(Participant.objects.filter(subject_id__in=given)))
        by_pk = {p.pk: p for p in loaded}
        for participant in loaded:
            visits = {v.code: v for v in participant.visits.all()}
            for visit in visits.values():
                visit.participant = participant
            self.people[participant.subject_id] = Person(
                participant=participant,
                visits=visits,
                infusions={i.number: i for i in participant.infusions.all()},
            )
        # The stored counts the file's rows may meet: those of its participants and days.
        wanted = {(row.values["subject_id"], row.values["sample_date"]) for row in rows}
        self.stored: dict[int, tuple[Any, ...]] = {}
        counts = PlateletCount.objects.filter(
            participant_id__in=list(by_pk),
            sample_date__in={day for _sid, day in wanted},
        )
        for count in counts:
            participant = by_pk[count.participant_id]
            if (participant.subject_id, count.sample_date) not in wanted:
                continue
            person = self.people[participant.subject_id]
            count.participant = participant
            visit = next((v for v in person.visits.values() if v.pk == count.visit_id), None)
            code = visit.code if visit is not None else protocol.UNSCHEDULED_VISIT_CODE
            person.counts[count.sample_date] = (count, code)
            self.stored[count.pk] = _count_values(count)
        # The locks, as every audited save asks them: once for all, per record only when
        # some casebook (or the database) is locked.
        try:
            participants_write_check(participant_model=Participant, ids=list(by_pk))
            self.some_locked = False
        except ValidationError:
            self.some_locked = True

    def _platelet_record(self, **call: Any) -> None:
        super()._platelet_record(**call)
        if self.some_locked:
            participant = call["participant"]
            lock_write_check(self.person(participant).counts[call["sample_date"]][0])

    def written(self) -> tuple[list[PlateletCount], list[PlateletCount]]:
        """The counts to insert, and the stored ones whose values the file changes."""
        new, changed = [], []
        for person in self.people.values():
            for count, _code in person.counts.values():
                if count.pk is None:
                    new.append(count)
                elif self.stored[count.pk] != _count_values(count):
                    changed.append(count)
        return new, changed


COUNT_VALUES = ("platelets", "who_bleeding_grade", "visit_id")


def _count_values(count: PlateletCount) -> tuple[Any, ...]:
    return tuple(getattr(count, name) for name in COUNT_VALUES)


def platelets_stored(run: Run, rows: Rows, *, write: bool = True) -> None:
    """The platelet counts of stored participants (new results and corrections), judged by
    the per-record path's row rules on the records loaded once, and, when nothing in the
    run is refused, written set-based: one INSERT and one UPDATE run, their history by
    INSERT ... SELECT, each participant's schedule brought in step once (from the records
    loaded: a count moves no anchor) and their response synced once, the checks queued
    once. Without `write` (a preview, or a file already refused: it will be rolled back,
    and no later row rule reads the counts), the rows are only judged."""
    if not rows:
        return
    store = StoredStore(run, rows)
    clinical.platelets_apply(run, rows, store)
    if run.issues or not write:
        return
    new, changed = store.written()
    if not new and not changed:
        return
    at = timezone.now()
    user_id = run.user.pk if getattr(run.user, "is_authenticated", False) else None
    quote = connection.ops.quote_name
    table = quote(PlateletCount._meta.db_table)
    columns = ", ".join(
        f"{quote(PlateletCount._meta.get_field(n).column)} = %s" for n in COUNT_VALUES
    )
    try:
        # A savepoint: losing a race for a new count's day to another save is a refusal.
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(
                f"UPDATE {table} SET {columns}, {quote('version')} = {quote('version')} + 1 "
                f"WHERE {quote('id')} = %s",
                [(*_count_values(c), c.pk) for c in changed],
            )
            _in_batches(PlateletCount, new)
    except IntegrityError:
        run.issue(rows[0], "", CONCURRENT_SAVE)
        return
    for history_type, counts in (("~", changed), ("+", new)):
        for chunk in _ids_in_batches([c.pk for c in counts]):
            history_insert_select(
                model=PlateletCount,
                queryset=PlateletCount.objects.filter(pk__in=chunk),
                history_type=history_type,
                reason=run.reason,
                at=at,
                user_id=user_id,
            )
    ids = sorted({c.participant_id for c in (*new, *changed)})
    visits, participants = [], []
    for person in store.people.values():
        participant = person.participant
        if participant.pk not in ids:
            continue
        moved, status = schedule_derive(
            participant,
            visits=list(person.visits.values()),
            infusions=list(person.infusions.values()),
            today=run.today,
        )
        visits.extend(moved)
        if status != participant.status:
            participant.status = status
            participants.append(participant)
    schedule_store(visits, participants)
    responses_sync(ids)
    # The overview's stored figures (reporting.figures, a layer above: by its task's name).
    task_run(FIGURES_SYNC, participant_ids=ids)
    task_enqueue_on_commit(CHECKS_FOR_PARTICIPANTS, participant_ids=ids)


def apply(
    run: Run,
    chunks: Iterable[dict[str, list[ParsedRow]]],
    *,
    numbers: set[str],
    given: Mapping[str, int],
    refused: list[Any],
    seal: bool = True,
) -> Finish:
    """Judge the new participants' rows, a chunk of participants at a time (`chunks`: each
    chunk's rows of every file, by dataset, in file order; the participants in the order
    of subjects.csv, in which the enrolment count and the sequences run), and, while
    nothing is refused (in the run, or in `refused`: the files' own refusals, found as
    they are read), write them, so that memory does not grow with the file. Each chunk in
    the per-record path's dependency order, through its row rules. After a refusal the
    later chunks are still judged, every refusal reported, but not written: the caller
    rolls the transaction back. With `seal` (not a preview) the history is written too,
    sealed. `numbers`: the screening numbers subjects.csv gives; `given`: each file's rows
    of new participants (the most records each table can get).

    Returns what the caller runs last in its transaction, before the commit: the sequences
    moved and the checks queued once for all; None when nothing was written."""
    numbering = Numbering.start(numbers)
    store = HeldStore(run)
    written: list[int] = []
    kind = SpooledWriter if connection.vendor == "postgresql" else Writer
    writer = kind(run, seal=seal, bounds=_bounds(given))
    try:
        for part in chunks:
            store.people = {}
            screening_dates = screening_dates_given(part.get("visits", []))
            _judge(run, store, part, screening_dates=screening_dates, numbering=numbering)
            del part
            if not run.issues and not refused:
                written += _write(run, store, writer)
            run.fold()  # the chunk's outcomes counted, kept only as the caller asked
        store.people = {}
        if run.issues or refused or not written:
            return None
        writer.finish()
    finally:
        writer.close()
    # The overview's stored figures (reporting.figures, a layer above: by its task's name),
    # once for the import (it reads them back a bounded number of participants at a time).
    task_run(FIGURES_SYNC, participant_ids=written)

    def finish() -> None:
        numbering.store()
        task_enqueue_on_commit(CHECKS_FOR_PARTICIPANTS, participant_ids=written)

    return finish


def _bounds(given: Mapping[str, int]) -> dict[Any, int]:
    """The most records of each table (and entries of its history) that files with these
    rows of new participants can give: a participant per subjects.csv row, each with every
    visit of the protocol; a count per platelets.csv row or visit; one record per row of
    the others."""
    people = given.get("subjects", 0)
    most = {
        Participant: people,
        Visit: people * len(protocol.VISITS),
        EligibilityAnswer: given.get("eligibility", 0),
        Infusion: given.get("infusions", 0),
        PlateletCount: given.get("platelets", 0) + given.get("visits", 0),
        AdverseEvent: given.get("adverse_events", 0),
        ConcomitantMedication: given.get("conmeds", 0),
    }
    return most | {model.history.model: count for model, count in most.items()}


def _judge(
    run: Run,
    store: HeldStore,
    rows: dict[str, list[ParsedRow]],
    *,
    screening_dates: dict[str, Any],
    numbering: Numbering,
) -> None:
    """One chunk's rows, in the per-record path's dependency order, through its row rules."""
    people = rows.get("subjects", [])
    _screen(run, store, people, screening_dates=screening_dates, numbering=numbering)
    subjects.eligibility_apply(run, rows.get("eligibility", []), store)
    subjects.subjects_enrol(run, people, store)
    clinical.infusions_apply(run, rows.get("infusions", []), store)
    subjects.subjects_discontinue(run, people, store)
    clinical.visits_apply(run, rows.get("visits", []), store)
    clinical.platelets_apply(run, rows.get("platelets", []), store)
    clinical.conmeds_apply(run, rows.get("conmeds", []), store)
    clinical.adverse_events_apply(run, rows.get("adverse_events", []), store)
    subjects.subjects_withdraw(run, people, store)


__all__ = [
    "BATCH",
    "CHUNK",
    "HeldStore",
    "StoredStore",
    "apply",
    "new_subjects",
    "platelets_stored",
]
