"""The audit trail: every clinical and review record keeps full history, with the user and
a reason, a version that refuses lost updates, and a hash chain that shows tampering.

Three mechanisms, each reusable by any app (protocol section 8):

- **History** (`AuditedHistory`): simple-history, whose every row names its user through a
  PROTECTed key (a user who made a change cannot be deleted, only deactivated) and carries
  a place in the hash chain. Set-based writers record their history set-based too
  (`history_insert_select`).
- **Versions** (`VersionedModel`, `audited_save(version=...)`): every record counts its
  saves. A form or an import row carries the version it was based on; a save based on an
  older one is refused with what changed since (`StaleRecordError`), and nothing is written.
- **Reasons** (`audited_save`): creating a record, or filling a field that was empty, needs
  no reason; changing or clearing a stored value does.
- **Tamper evidence** (`audit_seal`, `audit_verify`): every history row gets a sequence
  number and `sha256(previous hash | entry)`; the head is kept in `AuditChainHead` and
  written into each export's manifest. Sealing runs once per committed transaction that
  wrote history, over all rows not yet sealed, a batch at a time (one SELECT and one UPDATE
  per batch, however many rows a set-based writer inserted). A set-based writer of new
  records may instead write their history already sealed (`history_write_sealed`), the
  same entries and hashes without the read-back and the UPDATE.

Clinical records are never hard-deleted: the model and its querysets refuse it.
"""

from __future__ import annotations

import hashlib
import heapq
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from operator import attrgetter
from typing import Any
from uuid import UUID

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, models, transaction
from django.db.models import Expression, F, Value
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

REASON_REQUIRED = _("A reason for change is required to change a saved record.")
CONCURRENT_SAVE = _(
    "Someone else saved this record at the same moment, so nothing was saved. Reload the "
    "page to see what is stored now."
)
GENESIS = "0" * 64
SEAL_BATCH = 2000
# Fields of a record that are its bookkeeping, not its data.
_NOT_DATA = {"version"}


class ClinicalRecordDeletionError(Exception):
    """Raised on any attempt to hard-delete a clinical record."""


class ClinicalQuerySet(models.QuerySet):
    def delete(self) -> Any:
        raise ClinicalRecordDeletionError("Clinical records are never deleted.")


class VersionedModel(models.Model):
    """A record two people may edit: it counts its saves (protocol section 8)."""

    version = models.PositiveIntegerField(_("version"), default=1, editable=False)

    class Meta:
        abstract = True


class ClinicalModel(VersionedModel):
    """Base of every clinical record: versioned, no hard delete, history on each model."""

    objects = ClinicalQuerySet.as_manager()
    # Where the record's participant is, for the locks (itp_trial.locks).
    lock_participant = "participant_id"

    class Meta:
        abstract = True

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise ClinicalRecordDeletionError("Clinical records are never deleted.")


# --- history -------------------------------------------------------------------------------


class ChainedEntry(models.Model):
    """An audit entry's place in the hash chain; empty until the entry is sealed."""

    audit_seq = models.BigIntegerField(null=True, blank=True, unique=True, editable=False)
    audit_hash = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        abstract = True


class AuditedHistory(HistoricalRecords):
    """simple-history with a PROTECTed user and a place in the hash chain.

    simple-history's own user key is SET_NULL: deleting a user would erase "who" from every
    change they made. Here the user cannot be deleted while history names them.
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("bases", [ChainedEntry])
        super().__init__(**kwargs)

    def _get_history_user_fields(self) -> dict[str, Any]:
        return {
            "history_user": models.ForeignKey(
                settings.AUTH_USER_MODEL,
                null=True,
                related_name="+",
                on_delete=models.PROTECT,
            )
        }


def history_insert_select(
    *,
    model: type[models.Model],
    queryset: models.QuerySet,
    history_type: str,
    reason: str,
    at: datetime,
    overrides: Mapping[str, Expression] | None = None,
    user_id: int | None = None,
) -> int:
    """Record history for every row of `queryset` in one INSERT ... SELECT.

    For a set-based write: call it *before* the UPDATE, with `overrides` giving each changed
    field's new value as the UPDATE will set it, then restrict the UPDATE to the rows
    recorded (`history_recorded_ids`). The history rows are then exactly the rows changed.
    """
    history = model.history.model
    overrides = dict(overrides or {})
    tracked = [f for f in history.tracked_fields]
    annotations: dict[str, Any] = {}
    columns: list[str] = []
    for i, f in enumerate(tracked):
        annotations[f"h{i}"] = overrides.get(f.name, F(f.attname))
        columns.append(history._meta.get_field(f.name).column)
    annotations["h_date"] = Value(at, output_field=models.DateTimeField())
    annotations["h_type"] = Value(history_type, output_field=models.CharField())
    annotations["h_reason"] = Value(reason, output_field=models.CharField())
    annotations["h_user"] = Value(user_id, output_field=models.BigIntegerField())
    annotations["h_hash"] = Value("", output_field=models.CharField())
    columns += [
        "history_date",
        "history_type",
        "history_change_reason",
        "history_user_id",
        "audit_hash",
    ]
    select = queryset.order_by().annotate(**annotations).values_list(*annotations)
    sql, params = select.query.sql_with_params()
    quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
    table = connection.ops.quote_name(history._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({quoted}) {sql}", params)
        count = max(cursor.rowcount, 0)
    if count:
        audit_seal_on_commit()
    return count


def ids_reserve(model: type[models.Model], count: int) -> list[int]:
    """`count` new primary keys for `model`, taken from its sequence (PostgreSQL; one
    query), for rows written by COPY whose ids other rows or the history must name."""
    table, column = model._meta.db_table, model._meta.pk.column
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [connection.ops.quote_name(table), column, count],
        )
        return [row[0] for row in cursor.fetchall()]


def _history_ids(history: type[models.Model], count: int) -> list[int]:
    """Ids for new history rows: the sequence's on PostgreSQL; elsewhere (SQLite, which
    serialises writers) the next after the highest used."""
    if connection.vendor == "postgresql":
        return ids_reserve(history, count)
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT MAX({quote(history._meta.pk.column)}) FROM {quote(history._meta.db_table)}"
        )
        highest = cursor.fetchone()[0] or 0
        cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [history._meta.db_table])
        found = cursor.fetchone()
    start = max(highest, found[0] if found else 0) + 1
    return list(range(start, start + count))


def _stored_form(field: models.Field) -> Any:
    """How a value of `field` reads back from the database, for its hash before it is
    written: a decimal with the column's places (60 kg is stored 60.0); others as they are."""
    if isinstance(field, models.DecimalField):
        places = Decimal(1).scaleb(-field.decimal_places)
        return lambda value: None if value is None else Decimal(value).quantize(places)
    return None


@dataclass
class _SealedEntries:
    """How to write one model's history entries sealed: each entry is the template (the
    values every entry of the write shares) with the record's tracked values and the
    entry's own id put in, then its place and hash appended."""

    history: type[models.Model]
    template: list[Any]
    at_pk: int
    at_tracked: list[int]
    read: Any  # the record's tracked values, in at_tracked's order
    forms: list[tuple[int, Any]]
    sql: str
    prepare: list[Any]  # elsewhere than PostgreSQL: each column's value as the driver takes it

    def __post_init__(self) -> None:
        # The template's values, canonical once (entry_hash's form, for the hash).
        self.canonical = [canonical_value(v) for v in self.template]

    @classmethod
    def plan(cls, model: type[models.Model], given: Mapping[str, Any]) -> _SealedEntries:
        history = model.history.model
        names = _data_fields(history)
        tracked = {
            history._meta.get_field(f.name).attname: f.attname for f in history.tracked_fields
        }
        at_tracked = [i for i, name in enumerate(names) if name in tracked]
        forms = [
            (i, form)
            for i in at_tracked
            if (form := _stored_form(history._meta.get_field(names[i]))) is not None
        ]
        quote = connection.ops.quote_name
        column = {f.attname: f.column for f in history._meta.concrete_fields}
        quoted = ", ".join(quote(column[name]) for name in (*names, "audit_seq", "audit_hash"))
        table = quote(history._meta.db_table)
        if connection.vendor == "postgresql":
            sql = f"COPY {table} ({quoted}) FROM STDIN"
        else:
            sql = f"INSERT INTO {table} ({quoted}) VALUES ({', '.join(['%s'] * (len(names) + 2))})"
        return cls(
            history=history,
            template=[given.get(name) for name in names],
            at_pk=names.index(history._meta.pk.attname),
            at_tracked=at_tracked,
            read=attrgetter(*(tracked[names[i]] for i in at_tracked)),
            forms=forms,
            sql=sql,
            prepare=[
                history._meta.get_field(name).get_db_prep_save
                for name in (*names, "audit_seq", "audit_hash")
            ],
        )

    def write(self, records: list[models.Model], *, seq: int, previous: str) -> tuple[int, str]:
        """Write the records' entries from place seq + 1 on; the last place and hash. On
        PostgreSQL each entry goes to the COPY as soon as it is hashed, so that the server
        stores one while the next is hashed."""
        label, plain = self.history._meta.label_lower, _PLAIN
        ids = _history_ids(self.history, len(records))
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                with connection.wrap_database_errors, cursor.copy(self.sql) as copy:
                    for record, entry_id in zip(records, ids, strict=True):
                        seq += 1
                        row, previous = self._entry(record, entry_id, seq, previous, label, plain)
                        copy.write_row(row)
                return seq, previous
            rows = []
            for record, entry_id in zip(records, ids, strict=True):
                seq += 1
                row, previous = self._entry(record, entry_id, seq, previous, label, plain)
                rows.append([p(v, connection) for p, v in zip(self.prepare, row, strict=True)])
            cursor.executemany(self.sql, rows)
        return seq, previous

    def _entry(
        self,
        record: models.Model,
        entry_id: int,
        seq: int,
        previous: str,
        label: str,
        plain: frozenset[type],
    ) -> tuple[list[Any], str]:
        """The entry's stored values and its hash."""
        row, canonical = self.template.copy(), self.canonical.copy()
        for i, value in zip(self.at_tracked, self.read(record), strict=True):
            row[i] = value
        for i, form in self.forms:
            row[i] = form(row[i])
        row[self.at_pk] = canonical[self.at_pk] = entry_id
        for i in self.at_tracked:
            value = row[i]
            canonical[i] = value if type(value) in plain else canonical_value(value)
        entry = canonical_hash(previous, label, seq, canonical)
        row += [seq, entry]
        return row, entry


def _head_locked() -> AuditChainHead:
    """The chain head, locked to the commit. The same two statements whether it exists or
    not (an import's queries do not depend on what was there before it)."""
    AuditChainHead.objects.bulk_create([AuditChainHead(pk=1)], ignore_conflicts=True)
    return AuditChainHead.objects.select_for_update().get(pk=1)


class SealedHistory:
    """`history_write_sealed` for records written in parts and stored together later (an
    import's chunks, each table written once at its end): each part's entries placed on
    the chain and hashed as the part comes (`entries`, given the entries' ids), handed back
    as the rows of their history table's COPY (`copy_sql`), the head moved once (`close`).
    The head is locked at the first part, to the commit: the entries must be stored in the
    same transaction, before `close`."""

    def __init__(
        self, *, history_type: str, reason: str, at: datetime, user_id: int | None = None
    ) -> None:
        self.given = {
            "history_date": at,
            "history_type": history_type,
            "history_change_reason": reason,
            "history_user_id": user_id,
        }
        self.head: AuditChainHead | None = None
        self.seq, self.previous, self.written = 0, "", 0
        self._plans: dict[type[models.Model], _SealedEntries] = {}

    def _plan(self, model: type[models.Model]) -> _SealedEntries:
        if model not in self._plans:
            self._plans[model] = _SealedEntries.plan(model, self.given)
        return self._plans[model]

    def copy_sql(self, model: type[models.Model]) -> str:
        """The COPY of the model's history rows, as `entries` gives them (PostgreSQL)."""
        return self._plan(model).sql

    def lock(self) -> None:
        """The chain head locked and read, once (at the first part, unless called before)."""
        if self.head is None:
            self.head = _head_locked()
            self.seq, self.previous = self.head.seq, self.head.hash

    def entries(
        self, model: type[models.Model], records: Iterable[models.Model], ids: Iterable[int]
    ) -> Iterator[list[Any]]:
        """The records' entries, each given its id, place and hash, in order."""
        self.lock()
        plan, label = self._plan(model), model.history.model._meta.label_lower
        for record, entry_id in zip(records, ids, strict=False):
            self.seq += 1
            row, self.previous = plan._entry(
                record, entry_id, self.seq, self.previous, label, _PLAIN
            )
            self.written += 1
            yield row

    def close(self) -> None:
        """The head moved past the entries (once they are stored)."""
        if self.head is not None and self.written:
            head = self.head
            head.seq, head.hash, head.sealed_at = self.seq, self.previous, timezone.now()
            head.save()


def history_write_sealed(
    *,
    records: Iterable[tuple[type[models.Model], Iterable[models.Model]]],
    history_type: str,
    reason: str,
    at: datetime,
    user_id: int | None = None,
    batch: int = 5000,
) -> int:
    """Record the history of records just written set-based, each entry sealed as it is
    written: its place in the chain and its hash computed here, then the rows given to
    PostgreSQL by COPY (elsewhere one INSERT run per batch). The same entries and hashes as
    `history_insert_select` followed by `audit_seal`, without reading the rows back and
    updating each one. The chain head is locked from here to the commit, as `audit_seal`
    locks it: call it last in the transaction. Returns the entries written.

    `records`: (model, its saved instances), read a batch at a time (no history model
    instance is built)."""
    head = _head_locked()
    seq, previous, written = head.seq, head.hash, 0
    given = {
        "history_date": at,
        "history_type": history_type,
        "history_change_reason": reason,
        "history_user_id": user_id,
    }
    for model, instances in records:
        entries = _SealedEntries.plan(model, given)
        pending: list[models.Model] = []
        for instance in instances:
            pending.append(instance)
            if len(pending) == batch:
                seq, previous = entries.write(pending, seq=seq, previous=previous)
                written, pending = written + len(pending), []
        if pending:
            seq, previous = entries.write(pending, seq=seq, previous=previous)
            written += len(pending)
    if written:
        head.seq, head.hash, head.sealed_at = seq, previous, timezone.now()
        head.save()
    return written


def history_recorded_ids(
    *, model: type[models.Model], history_type: str, reason: str, at: datetime
) -> models.QuerySet:
    """The ids of the records `history_insert_select` recorded with these values (a subquery)."""
    return model.history.model.objects.filter(
        history_date=at, history_type=history_type, history_change_reason=reason
    ).values("id")


# --- versions and reasons ------------------------------------------------------------------


def _empty(value: Any) -> bool:
    return value is None or value == ""


def _shown(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    if isinstance(value, datetime):
        return timezone.localtime(value).isoformat(sep=" ", timespec="minutes")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


class StaleRecordError(ValidationError):
    """A save based on a version older than the stored one: nothing was written."""


def changes_since(instance: models.Model, version: int) -> list[str]:
    """What was changed in `instance`'s record after `version`, newest last, as sentences."""
    records = list(
        instance.history.filter(version__gte=version)
        .select_related("history_user")
        .order_by("history_date", "history_id")
    )
    lines = []
    for previous, record in zip(records, records[1:], strict=False):
        if record.version <= version:
            continue
        delta = record.diff_against(previous)
        fields = [
            gettext("%(field)s %(old)s → %(new)s")
            % {
                "field": record.instance_type._meta.get_field(c.field).verbose_name,
                "old": _shown(c.old),
                "new": _shown(c.new),
            }
            for c in delta.changes
            if c.field not in _NOT_DATA
        ]
        user = record.history_user
        lines.append(
            gettext("%(when)s by %(user)s: %(fields)s")
            % {
                "when": _shown(record.history_date),
                "user": (user.get_full_name() or user.username) if user else gettext("the system"),
                "fields": "; ".join(fields) or gettext("no field shown here"),
            }
        )
    return lines


def stale_error(instance: models.Model, *, version: int, stored_version: int) -> StaleRecordError:
    lines = changes_since(instance, version)
    message = gettext(
        "This record was changed by someone else after you opened it (your version %(mine)s, "
        "now %(now)s), so nothing was saved. Changes since: %(changes)s. Reload the page to see "
        "the current values, then make your change again."
    ) % {
        "mine": version,
        "now": stored_version,
        "changes": " | ".join(lines) or gettext("not shown"),
    }
    return StaleRecordError(message, code="stale")


def changed_fields(
    instance: models.Model, stored: models.Model | None = None
) -> dict[str, tuple[Any, Any]]:
    """The concrete fields whose value differs from the stored row: {name: (old, new)}."""
    if instance._state.adding or instance.pk is None:
        return {}
    if stored is None:
        stored = type(instance)._default_manager.filter(pk=instance.pk).first()
    if stored is None:
        return {}
    changes = {}
    for field in instance._meta.concrete_fields:
        if field.name in _NOT_DATA:
            continue
        old, new = field.value_from_object(stored), field.value_from_object(instance)
        if old != new:
            changes[field.name] = (old, new)
    return changes


def reason_needed(changes: Mapping[str, tuple[Any, Any]]) -> bool:
    """Changing or clearing a stored value needs a reason; filling an empty field does not."""
    return any(not _empty(old) for old, _new in changes.values())


def overwritten(model: type[models.Model], changes: Mapping[str, tuple[Any, Any]]) -> str:
    """What a change would overwrite, as a sentence for the reason's error: the stored value
    of each changed field that held one, and the value entered instead."""
    parts = []
    for name, (old, new) in changes.items():
        if _empty(old):
            continue
        try:
            label = str(model._meta.get_field(name).verbose_name)
        except Exception:  # noqa: BLE001 - a value the form holds but the model does not
            label = name
        parts.append(
            gettext("%(field)s %(old)s → %(new)s")
            % {"field": label, "old": _shown(old), "new": _shown(new)}
        )
    return gettext("Stored values this overwrites: %(values)s.") % {"values": "; ".join(parts)}


def reason_required_error(
    model: type[models.Model], changes: Mapping[str, tuple[Any, Any]]
) -> list[str]:
    """The reason's refusal, with the stored values the change would overwrite."""
    return [str(REASON_REQUIRED), overwritten(model, changes)]


def version_check(
    instance: models.Model, *, version: int | None, stored: models.Model | None = None
) -> None:
    """Refuse a save based on `version` when the stored record has moved on."""
    if version is None or instance.pk is None:
        return
    if stored is None:
        stored = type(instance)._default_manager.filter(pk=instance.pk).first()
    stored_version = getattr(stored, "version", None)
    if stored_version is not None and int(version) != stored_version:
        raise stale_error(instance, version=int(version), stored_version=stored_version)


# Checks every audited save passes first, e.g. the locks (itp_trial.locks registers its own).
_write_guards: list[Any] = []


def write_guard_register(guard: Any) -> None:
    """Add `guard(instance, stored=...)`, which raises to refuse a write, to every save."""
    if guard not in _write_guards:
        _write_guards.append(guard)


def audited_save(
    instance: models.Model, *, user: Any, reason: str = "", version: int | None = None
) -> bool:
    """Validate and save `instance`, recording `user` and `reason` in its history.

    A new record needs no reason, nor filling a field that was empty; changing or clearing a
    stored value does, and is refused without one (nothing is written). `version` is the
    version the caller's form or import row was based on: a save based on an older one is
    refused with what changed since. An unchanged record is not saved again. A record of a
    locked casebook, or any record under the database lock, is refused (itp_trial.locks).
    Returns whether it wrote.
    """
    reason = (reason or "").strip()
    stored = None
    if not instance._state.adding:
        stored = type(instance)._default_manager.select_for_update().filter(pk=instance.pk).first()
    for guard in _write_guards:
        guard(instance, stored=stored)
    if not instance._state.adding:
        version_check(instance, version=version, stored=stored)
        changes = changed_fields(instance, stored)
        if not changes:
            return False
        if reason_needed(changes) and not reason:
            raise ValidationError({"reason": reason_required_error(type(instance), changes)})
        if isinstance(instance, VersionedModel) and stored is not None:
            instance.version = stored.version + 1
    instance.full_clean()
    instance._history_user = user if getattr(user, "is_authenticated", False) else None
    instance._change_reason = reason
    try:
        # A savepoint, so that losing a race for a unique value (two people saving the same
        # new record at the same instant) is a refusal, not a broken transaction.
        with transaction.atomic():
            instance.save()
    except IntegrityError as error:
        raise ValidationError(CONCURRENT_SAVE, code="concurrent") from error
    return True


# --- the hash chain ------------------------------------------------------------------------


class AuditChainHead(models.Model):
    """The last sealed entry of the hash chain: its sequence number and hash (one row)."""

    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64, default=GENESIS)
    sealed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "itp_trial"
        verbose_name = _("audit chain head")

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash[:12]}"


def chained_models() -> list[type[models.Model]]:
    """Every concrete model whose rows are audit entries, in a fixed order."""
    from django.apps import apps

    found = [
        m
        for m in apps.get_models()
        if issubclass(m, ChainedEntry) and not m._meta.abstract and not m._meta.proxy
    ]
    return sorted(found, key=lambda m: m._meta.label_lower)


def _data_fields(model: type[models.Model]) -> list[str]:
    return [
        f.attname for f in model._meta.concrete_fields if f.name not in ("audit_seq", "audit_hash")
    ]


def canonical_value(value: Any) -> Any:
    """A stored value as JSON can hold it, the same on every database and machine."""
    if isinstance(value, datetime):
        if timezone.is_aware(value):
            value = value.astimezone(UTC)
        return value.isoformat()
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, (Decimal, UUID)):
        return str(value)
    if isinstance(value, (bytes, memoryview)):
        return bytes(value).hex()
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, default=str)
    return value


# Values canonical_value returns as they are: not passed to it (a call per value is most of
# the cost of hashing a set-based write's history).
_PLAIN = frozenset({str, int, bool, float, type(None)})


def entry_hash(previous: str, label: str, seq: int, row: Sequence[Any]) -> str:
    """sha256 of the previous hash and the entry's table, place and every stored value."""
    plain = _PLAIN
    return canonical_hash(
        previous, label, seq, [v if type(v) in plain else canonical_value(v) for v in row]
    )


def canonical_hash(previous: str, label: str, seq: int, values: list[Any]) -> str:
    """entry_hash of a row whose values are already canonical (`canonical_value`)."""
    body = json.dumps(
        [previous, label, seq, values], ensure_ascii=False, separators=(",", ":"), default=str
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _seal() -> None:
    audit_seal()


def audit_seal_on_commit() -> None:
    """Seal this transaction's new audit entries once it commits (queued once per transaction)."""
    conn = transaction.get_connection()
    if any(item[1] is _seal for item in conn.run_on_commit):
        return
    transaction.on_commit(_seal)


@transaction.atomic
def audit_seal() -> int:
    """Give every unsealed audit entry its place and hash in the chain; how many were sealed.

    Serialised on the head row, so concurrent sealers never fork the chain. A batch at a
    time: one SELECT of unsealed rows (an index lookup on `audit_seq IS NULL`) and one
    parameterised UPDATE run over the batch, whatever the number of rows a set-based
    writer inserted.
    """
    AuditChainHead.objects.get_or_create(pk=1)
    head = AuditChainHead.objects.select_for_update().get(pk=1)
    seq, previous, sealed = head.seq, head.hash, 0
    for model in chained_models():
        label = model._meta.label_lower
        names = _data_fields(model)
        pk = model._meta.pk.attname
        quote = connection.ops.quote_name
        update = (
            f"UPDATE {quote(model._meta.db_table)} SET {quote('audit_seq')} = %s, "
            f"{quote('audit_hash')} = %s WHERE {quote(model._meta.pk.column)} = %s"
        )
        while True:
            rows = list(
                model._default_manager.filter(audit_seq__isnull=True)
                .order_by(pk)
                .values_list(*names)[:SEAL_BATCH]
            )
            if not rows:
                break
            updates = []
            at = names.index(pk)
            for row in rows:
                seq += 1
                previous = entry_hash(previous, label, seq, row)
                updates.append((seq, previous, row[at]))
            _seal_store(model, update, updates)
            sealed += len(rows)
    if sealed:
        head.seq, head.hash, head.sealed_at = seq, previous, timezone.now()
        head.save()
    return sealed


def _seal_store(model: type[models.Model], update: str, updates: list[tuple[Any, ...]]) -> None:
    """Store a batch's places and hashes. PostgreSQL: one UPDATE joined to the batch's
    arrays (2,000 single-row UPDATEs, even pipelined, cost ten times more); elsewhere one
    parameterised UPDATE run for the batch. A bulk_update's CASE costs more to build than
    to run."""
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            cursor.executemany(update, updates)
            return
        quote = connection.ops.quote_name
        pk = quote(model._meta.pk.column)
        seqs, hashes, pks = (list(column) for column in zip(*updates, strict=True))
        cursor.execute(
            f"UPDATE {quote(model._meta.db_table)} AS t SET {quote('audit_seq')} = b.seq, "
            f"{quote('audit_hash')} = b.hash FROM unnest(%s::bigint[], %s::text[], "
            f"%s::bigint[]) AS b(seq, hash, pk) WHERE t.{pk} = b.pk",
            [seqs, hashes, pks],
        )


def audit_head() -> tuple[int, str]:
    head = AuditChainHead.objects.filter(pk=1).first()
    return (head.seq, head.hash) if head else (0, GENESIS)


@dataclass(frozen=True)
class VerifyResult:
    entries: int
    head_seq: int
    head_hash: str
    unsealed: int
    problem: str = ""  # empty when the chain holds

    @property
    def ok(self) -> bool:
        return not self.problem


def _sealed_entries(chunk_size: int) -> Iterator[tuple[int, str, str, Any, tuple[Any, ...]]]:
    """(seq, label, stored hash, pk, row) of every sealed entry, merged in chain order."""

    def one(model: type[models.Model]) -> Iterator[tuple[int, str, str, Any, tuple[Any, ...]]]:
        label = model._meta.label_lower
        names = _data_fields(model)
        index = names.index(model._meta.pk.attname)
        rows = (
            model._default_manager.filter(audit_seq__isnull=False)
            .order_by("audit_seq")
            .values_list("audit_seq", "audit_hash", *names)
        )
        for seq, stored, *row in rows.iterator(chunk_size=chunk_size):
            yield seq, label, stored, row[index], tuple(row)

    return heapq.merge(*(one(m) for m in chained_models()), key=lambda e: e[0])


def audit_verify(*, chunk_size: int = 5000) -> VerifyResult:
    """Recompute the whole chain from the stored rows; name the first entry that differs.

    Finds a changed row (its hash no longer matches), a removed one (a gap in the sequence),
    an inserted or reordered one, and a chain cut short at its end (the head disagrees).
    Reads every entry once, streaming.
    """
    head_seq, head_hash = audit_head()
    unsealed = sum(
        m._default_manager.filter(audit_seq__isnull=True).count() for m in chained_models()
    )
    previous, expected, count = GENESIS, 1, 0

    def result(problem: str = "") -> VerifyResult:
        return VerifyResult(count, head_seq, head_hash, unsealed, problem)

    for seq, label, stored, pk, row in _sealed_entries(chunk_size):
        if seq != expected:
            return result(
                gettext(
                    "entry %(seq)s is missing (the next one is %(label)s #%(pk)s, entry %(next)s)"
                )
                % {"seq": expected, "label": label, "pk": pk, "next": seq}
            )
        computed = entry_hash(previous, label, seq, row)
        if computed != stored:
            return result(
                gettext(
                    "entry %(seq)s (%(label)s #%(pk)s) does not match its hash: "
                    "it was changed outside the application"
                )
                % {"seq": seq, "label": label, "pk": pk}
            )
        previous, expected, count = stored, expected + 1, count + 1
    if count != head_seq or previous != head_hash:
        return result(
            gettext(
                "the chain ends at entry %(count)s but its head says entry %(head)s: "
                "entries were removed"
            )
            % {"count": count, "head": head_seq}
        )
    return result()


def history_saved(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    """post_save of an audit entry: seal it once its transaction commits."""
    if created and isinstance(instance, ChainedEntry):
        audit_seal_on_commit()
