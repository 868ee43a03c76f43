"""The data exchange contract of protocol section 7, as data.

One `Dataset` per file, its columns in file order: first the minimum the protocol lists
(names are a contract: monitors, statisticians and import files rely on them), then the
extra columns this system adds after them. The export writes these columns, the data
dictionary describes them, and the importer reads the ones that are not derived.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext_lazy as _

from itp_trial import protocol
from itp_trial.text import interpolated
from safety.models import (
    ActionTaken,
    FlagKind,
    FlagStatus,
    Outcome,
    QueryState,
    Relationship,
    SeriousCriterion,
)
from subjects.models import ParticipantStatus, Sex, WithdrawalReason
from visits.models import WindowStatus
from visits.response import CATEGORIES

TEXT = "text"
INTEGER = "integer"
DECIMAL = "decimal"
DATE = "date"
DATETIME = "datetime"
TIME = "time"
BOOLEAN = "boolean"
CODE = "code"  # one of `allowed`
CODES = "codes"  # any of `allowed`, ';'-separated

TYPE_FORMATS = {
    TEXT: "UTF-8 text",
    INTEGER: "whole number",
    DECIMAL: "decimal number, point as separator",
    DATE: "YYYY-MM-DD",
    DATETIME: "ISO 8601 with offset, e.g. 2026-03-01T14:30:00+08:00",
    TIME: "HH:MM[:SS]",
    BOOLEAN: "Y or N",
    CODE: "one of the allowed values",
    CODES: "allowed values separated by ;",
}


@dataclass(frozen=True)
class Column:
    name: str
    label: Any
    type: str = TEXT
    unit: str = ""
    allowed: tuple[str, ...] = ()
    range: str = ""  # documented in the dictionary; the services enforce it
    # Checked as the file is read too, so that a value out of range is reported even on a
    # row refused for another reason (the services check it again).
    bounds: tuple[Any, Any] | None = None
    derived: bool = False  # computed by the system: exported, ignored on import
    required: bool = False  # on import: the header must have it and the cell must be filled
    past: bool = False  # on import: a date that cannot be in the future
    pattern: str = ""  # on import: a regular expression the text must match whole
    # Not a value of the record but a check read on import: the `version` a row is based
    # on (a row based on an older version than the stored one is refused). Neither raw
    # (no service is given it) nor derived (no rule computes it: the database counts).
    checked_on_import: bool = False

    @property
    def allowed_values(self) -> str:
        if self.allowed:
            return "|".join(self.allowed)
        if self.type == BOOLEAN:
            return "Y|N"
        return self.range


@dataclass(frozen=True)
class Dataset:
    name: str
    label: Any
    columns: tuple[Column, ...]
    key: tuple[str, ...]  # the natural key of a row
    importable: bool = True

    @property
    def filename(self) -> str:
        return f"{self.name}.csv"

    @property
    def header(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def raw_columns(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if not c.derived and not c.checked_on_import)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


def _values(choices: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in choices.values)


def _d(name: str, label: Any, type_: str = TEXT, **kwargs: Any) -> Column:
    return Column(name, label, type_, derived=True, **kwargs)


VERSION_COLUMN = "version"


def _version() -> Column:
    """The record's stored version (itp_trial.audit.VersionedModel), the last column of
    every importable dataset: empty for a record not yet stored."""
    return Column(
        VERSION_COLUMN,
        _("Version of the stored record (on import: the version the row is based on)"),
        INTEGER,
        checked_on_import=True,
    )


def identifier_pattern(fmt: str) -> tuple[str, str]:
    """The documented form (ITP-NNN) and a regular expression of an identifier format.

    `fmt` is a str.format pattern such as "ITP-{:03d}": a prefix and a zero-padded number.
    """
    prefix, spec = fmt.split("{")
    width = int(re.search(r"(\d+)d", spec).group(1))
    return prefix + "N" * width, re.escape(prefix) + rf"(\d{{{width}}}|[1-9]\d{{{width},}})"


SUBJECT_ID_FORM, SUBJECT_ID_PATTERN = identifier_pattern(protocol.SUBJECT_ID_FORMAT)
SCREENING_NUMBER_FORM, SCREENING_NUMBER_PATTERN = identifier_pattern(
    protocol.SCREENING_NUMBER_FORMAT
)
SUBJECT = Column(
    "subject_id",
    _("Subject ID"),
    range=SUBJECT_ID_FORM,
    pattern=SUBJECT_ID_PATTERN,
    required=True,
)
VISIT_CODES = protocol.VISIT_CODES
INFUSION_NUMBER_RANGE = f"1 to {protocol.INFUSION_COUNT}"
PLATELET_RANGE = f"{protocol.PLATELET_MIN} to {protocol.PLATELET_MAX}"
PLATELET_UNIT = "10^9/L"


def _range(low: Any, high: Any) -> str:
    return f"{low} to {high}"


_VITAL_LABELS = {
    "": (_("systolic BP"), _("diastolic BP"), _("heart rate"), _("temperature")),
    "pre_": (
        _("systolic BP before"),
        _("diastolic BP before"),
        _("heart rate before"),
        _("temperature before"),
    ),
    "post_": (
        _("systolic BP after"),
        _("diastolic BP after"),
        _("heart rate after"),
        _("temperature after"),
    ),
}


def _vital_columns(prefix: str) -> tuple[Column, ...]:
    """Blood pressure, heart rate and temperature, named as the model fields are."""
    r = protocol.VITAL_RANGES
    systolic, diastolic, heart_rate, temperature = _VITAL_LABELS[prefix]
    return (
        Column(f"{prefix}systolic_bp", systolic, INTEGER, "mmHg", range=_range(*r["systolic_bp"])),
        Column(
            f"{prefix}diastolic_bp", diastolic, INTEGER, "mmHg", range=_range(*r["diastolic_bp"])
        ),
        Column(f"{prefix}heart_rate", heart_rate, INTEGER, "/min", range=_range(*r["heart_rate"])),
        Column(
            f"{prefix}temperature_c", temperature, DECIMAL, "°C", range=_range(*r["temperature_c"])
        ),
    )


SUBJECTS = Dataset(
    "subjects",
    _("Participants"),
    (
        SUBJECT,
        Column(
            "screening_number",
            _("Screening number"),
            range=SCREENING_NUMBER_FORM,
            pattern=SCREENING_NUMBER_PATTERN,
            required=True,
        ),
        Column("sex", _("Sex"), CODE, allowed=_values(Sex), required=True),
        Column("birth_date", _("Date of birth"), DATE, required=True, past=True),
        Column("consent_date", _("Consent date"), DATE, required=True, past=True),
        Column("consent_version", _("Consent form version"), required=True),
        Column(
            "guardian_consent",
            interpolated(
                _("Guardian consent signed (Y required under %(adult)s)"),
                adult=protocol.ADULT_AGE_YEARS,
            ),
            BOOLEAN,
        ),
        Column(
            "child_assent",
            interpolated(
                _("Child assent obtained (Y required under %(adult)s)"),
                adult=protocol.ADULT_AGE_YEARS,
            ),
            BOOLEAN,
        ),
        Column(
            "enrolled_on",
            _("Enrolment date (required with the planned date of infusion 1)"),
            DATE,
            past=True,
        ),
        Column(
            "planned_first_infusion_date",
            _("Planned date of infusion 1 (required with the enrolment date)"),
            DATE,
        ),
        Column("treatment_discontinued_date", _("Treatment discontinued on"), DATE, past=True),
        Column("treatment_discontinued_reason", _("Reason for discontinuing treatment")),
        Column("withdrawal_date", _("Withdrawal date"), DATE, past=True),
        Column(
            "withdrawal_reason", _("Withdrawal reason"), CODE, allowed=_values(WithdrawalReason)
        ),
        _d("age_at_consent", _("Age at consent"), INTEGER, unit="years"),
        _d("status", _("Status"), CODE, allowed=_values(ParticipantStatus)),
        _d("baseline_platelets", _("Baseline platelets"), INTEGER, unit=PLATELET_UNIT),
        _d("best_response", _("Best overall response"), CODE, allowed=CATEGORIES),
        _d(
            "time_to_response_days",
            _("Time to response: first date of the confirming run minus infusion 1"),
            INTEGER,
            unit="days",
        ),
        _d(
            "response_lost_on",
            interpolated(
                _(
                    "Loss of response: first date of the first run below the best level "
                    "(>= %(days)s day)"
                ),
                days=protocol.LOSS_OF_RESPONSE_APART_DAYS,
            ),
            DATE,
        ),
        _d(
            "response_duration_days",
            _("Duration of response: response_lost_on minus the response start; empty if not lost"),
            INTEGER,
            unit="days",
        ),
        # Extra columns: the rest of the screening CRF, so that an export imports back whole.
        Column("itp_diagnosis_date", _("ITP diagnosis date"), DATE, past=True),
        Column("prior_therapies", _("Prior ITP therapies")),
        Column("splenectomy", _("Splenectomy"), BOOLEAN),
        Column("splenectomy_date", _("Splenectomy date"), DATE, past=True),
        Column("height_cm", _("Height"), DECIMAL, "cm", range=_range(*protocol.HEIGHT_RANGE_CM)),
        Column("withdrawal_detail", _("Withdrawal details")),
        _version(),
    ),
    key=("subject_id",),
)

ELIGIBILITY = Dataset(
    "eligibility",
    _("Eligibility answers"),
    (
        SUBJECT,
        Column(
            "criterion",
            _("Criterion"),
            CODE,
            allowed=tuple(c.code for c in protocol.CRITERIA),
            required=True,
        ),
        Column("met", _("Met"), BOOLEAN, required=True),
        _version(),
    ),
    key=("subject_id", "criterion"),
)

VISITS = Dataset(
    "visits",
    _("Visits"),
    (
        SUBJECT,
        Column("visit_code", _("Visit"), CODE, allowed=VISIT_CODES, required=True),
        Column("actual_date", _("Visit date"), DATE, past=True),
        Column("missed", _("Missed"), BOOLEAN),
        Column("missed_reason", _("Reason the visit was missed")),
        _d("target_date", _("Target date"), DATE),
        _d("window_start", _("Window start"), DATE),
        _d("window_end", _("Window end"), DATE),
        _d("window_status", _("Window status"), CODE, allowed=_values(WindowStatus)),
        _d("study_day", _("Study day"), INTEGER, unit="day"),
        # Extra columns: the rest of the visit CRF.
        Column("weight_kg", _("Weight"), DECIMAL, "kg", range=_range(*protocol.WEIGHT_RANGE_KG)),
        Column("height_cm", _("Height"), DECIMAL, "cm", range=_range(*protocol.HEIGHT_RANGE_CM)),
        *_vital_columns(""),
        Column(
            "respiratory_rate",
            _("respiratory rate"),
            INTEGER,
            "/min",
            range=_range(*protocol.VITAL_RANGES["respiratory_rate"]),
        ),
        Column("physical_exam_normal", _("Physical examination normal"), BOOLEAN),
        Column("physical_exam_findings", _("Abnormal findings")),
        Column("new_adverse_event", _("Any new adverse event since the last visit"), BOOLEAN),
        Column("medication_change", _("Any change of medication since the last visit"), BOOLEAN),
        _version(),
    ),
    key=("subject_id", "visit_code"),
)

INFUSIONS = Dataset(
    "infusions",
    _("Infusions"),
    (
        SUBJECT,
        Column(
            "infusion_number",
            _("Infusion number"),
            INTEGER,
            range=INFUSION_NUMBER_RANGE,
            required=True,
        ),
        Column("infusion_date", _("Infusion date"), DATE, required=True, past=True),
        Column(
            "dosing_weight_kg",
            _("Dosing weight"),
            DECIMAL,
            "kg",
            range=_range(protocol.DOSING_WEIGHT_MIN_KG, protocol.DOSING_WEIGHT_MAX_KG),
            required=True,
        ),
        Column("actual_cells", _("Actual cells infused"), INTEGER, "cells", required=True),
        Column("lot_number", _("Product lot"), required=True),
        Column(
            "viability_pct",
            _("Viability"),
            DECIMAL,
            "%",
            range=_range(protocol.VIABILITY_MIN_PCT, protocol.VIABILITY_MAX_PCT),
        ),
        Column(
            "volume_ml",
            _("Volume"),
            DECIMAL,
            "mL",
            range=_range(0, protocol.INFUSION_VOLUME_MAX_ML),
        ),
        Column("reaction", _("Infusion reaction"), BOOLEAN),
        Column("interrupted", _("Infusion interrupted"), BOOLEAN),
        _d("dose_per_kg", _("Dose per kg"), INTEGER, unit="cells/kg"),
        _d("planned_cells", _("Planned cells"), INTEGER, unit="cells"),
        _d("deviation_pct", _("Deviation from the planned dose"), DECIMAL, unit="%"),
        _d("dose_deviation", _("Dose deviation"), BOOLEAN),
        # Extra columns: the rest of the infusion CRF.
        Column("start_time", _("Start time"), TIME),
        Column("end_time", _("End time"), TIME),
        *_vital_columns("pre_"),
        *_vital_columns("post_"),
        _version(),
    ),
    key=("subject_id", "infusion_number"),
)

PLATELETS = Dataset(
    "platelets",
    _("Platelet counts"),
    (
        SUBJECT,
        Column("sample_date", _("Sample date"), DATE, required=True, past=True),
        Column(
            "platelets_10e9_l",
            _("Platelet count"),
            INTEGER,
            PLATELET_UNIT,
            range=PLATELET_RANGE,
            bounds=(protocol.PLATELET_MIN, protocol.PLATELET_MAX),
            required=True,
        ),
        Column(
            "who_bleeding_grade",
            _("WHO bleeding grade"),
            INTEGER,
            range=_range(protocol.WHO_BLEEDING_MIN, protocol.WHO_BLEEDING_MAX),
            bounds=(protocol.WHO_BLEEDING_MIN, protocol.WHO_BLEEDING_MAX),
        ),
        Column(
            "visit_code",
            _("Visit (UNS: unscheduled)"),
            CODE,
            allowed=(*VISIT_CODES, protocol.UNSCHEDULED_VISIT_CODE),
            required=True,
        ),
        _d("study_day", _("Study day"), INTEGER, unit="day"),
        _d("evaluable", _("Evaluable"), BOOLEAN),
        _d(
            "category", _("Response category (empty for baseline counts)"), CODE, allowed=CATEGORIES
        ),
        _version(),
    ),
    key=("subject_id", "sample_date"),
)

ADVERSE_EVENTS = Dataset(
    "adverse_events",
    _("Adverse events"),
    (
        SUBJECT,
        Column("ae_number", _("AE number"), INTEGER, required=True),
        Column(
            "term",
            interpolated(_("Term (CTCAE v%(version)s)"), version=protocol.CTCAE_VERSION),
            required=True,
        ),
        Column("onset_date", _("Onset date"), DATE, required=True, past=True),
        Column("end_date", _("End date"), DATE, past=True),
        Column("ongoing", _("Ongoing"), BOOLEAN),
        Column(
            "ctcae_grade",
            _("CTCAE grade"),
            INTEGER,
            range=_range(protocol.CTCAE_GRADE_MIN, protocol.CTCAE_GRADE_MAX),
            required=True,
        ),
        Column("serious", _("Serious"), BOOLEAN),
        Column(
            "serious_criteria", _("Seriousness criteria"), CODES, allowed=_values(SeriousCriterion)
        ),
        Column(
            "relationship",
            _("Relationship to MSC"),
            CODE,
            allowed=_values(Relationship),
            required=True,
        ),
        Column("related_infusion", _("Related infusion"), INTEGER, range=INFUSION_NUMBER_RANGE),
        Column("action_taken", _("Action taken"), CODE, allowed=_values(ActionTaken)),
        Column("outcome", _("Outcome"), CODE, allowed=_values(Outcome), required=True),
        Column("awareness_at", _("Site aware at"), DATETIME, required=True),
        Column("reported_at", _("Reported at"), DATETIME),
        _d("report_due_at", _("Report due at (serious events)"), DATETIME),
        _d("treatment_emergent", _("Treatment-emergent"), BOOLEAN),
        _version(),
    ),
    key=("subject_id", "ae_number"),
)

CONMEDS = Dataset(
    "conmeds",
    _("Concomitant medications"),
    (
        SUBJECT,
        Column("drug", _("Drug"), required=True),
        Column("indication", _("Indication"), required=True),
        Column("start_date", _("Start date"), DATE, required=True, past=True),
        Column("end_date", _("End date"), DATE, past=True),
        Column("rescue", _("Rescue therapy"), BOOLEAN),
        # Extra column.
        Column("dose", _("Dose")),
        _version(),
    ),
    key=("subject_id", "drug", "start_date"),
)

FLAGS = Dataset(
    "flags",
    _("Flags"),
    (
        SUBJECT,
        _d("kind", _("Kind"), CODE, allowed=_values(FlagKind)),
        _d("visit_code", _("Visit"), CODE, allowed=VISIT_CODES),
        _d("raised_at", _("Raised at"), DATETIME),
        _d("resolved_at", _("Resolved at"), DATETIME),
        _d("status", _("Status"), CODE, allowed=_values(FlagStatus)),
        _d("detail", _("Detail")),
        # Extra columns.
        _d("ae_number", _("AE number"), INTEGER),
        _d("acknowledged_at", _("Acknowledged at"), DATETIME),
        _d("acknowledged_by", _("Acknowledged by")),
        _d("acknowledgement_comment", _("Acknowledgement comment")),
    ),
    key=("subject_id", "kind", "visit_code", "ae_number"),
    importable=False,
)

SIGNATURES = Dataset(
    "signatures",
    _("Investigator signatures"),
    (
        SUBJECT,
        _d("signed_at", _("Signed at"), DATETIME),
        _d("time_zone", _("Time zone of the signer")),
        _d("signed_by", _("Signed by (user)")),
        _d("signer_name", _("Signed by (full name)")),
        _d(
            "meaning", _("Meaning"), CODE, allowed=tuple(c for c, _t in protocol.SIGNATURE_MEANINGS)
        ),
        _d("statement", _("Meaning, as the signer read it")),
        _d("casebook_sha256", _("sha256 of the casebook data signed")),
        _d("status", _("Status"), CODE, allowed=("current", "stale", "superseded")),
        _d("stale_at", _("Stale since"), DATETIME),
        _d("stale_reason", _("Why it is stale")),
    ),
    key=("subject_id", "signed_at"),
    importable=False,
)

LOCKS = Dataset(
    "locks",
    _("Casebook and database locks"),
    (
        _d("scope", _("Scope"), CODE, allowed=("casebook", "database")),
        _d("subject_id", _("Subject ID (empty for the database)")),
        _d("locked_at", _("Locked at"), DATETIME),
        _d("locked_by", _("Locked by")),
        _d("unlocked_at", _("Unlocked at"), DATETIME),
        _d("unlocked_by", _("Unlocked by")),
        _d("unlock_reason", _("Reason for unlocking")),
    ),
    key=("scope", "subject_id", "locked_at"),
    importable=False,
)

# The datasets a review record may point at (safety.targets), by their exported name.
REVIEWED_DATASETS = (
    "subjects",
    "eligibility",
    "visits",
    "infusions",
    "platelets",
    "adverse_events",
    "conmeds",
)
SDV_STATES = ("verified", "changed")
# Review records (protocol section 8), not a participant's clinical data: exported, and
# left out of the clinical standards files (exchange.standards.source.CLINICAL).
REVIEW_DATASET_NAMES = ("queries", "sdv")

QUERIES = Dataset(
    "queries",
    _("Data queries"),
    (
        SUBJECT,
        _d("query_number", _("Query number (per participant)"), INTEGER),
        _d("dataset", _("Dataset of the queried record"), CODE, allowed=REVIEWED_DATASETS),
        _d("record", _("Record (its natural key within the participant)")),
        _d("field", _("Field queried (empty: the record as a whole)")),
        _d("state", _("State"), CODE, allowed=_values(QueryState)),
        _d("due_date", _("Due date"), DATE),
        _d("question", _("Question")),
        _d("raised_by", _("Raised by")),
        _d("raised_at", _("Raised at"), DATETIME),
        _d("answer", _("Latest answer")),
        _d("answered_by", _("Answered by")),
        _d("answered_at", _("Answered at"), DATETIME),
        _d("closed_by", _("Closed by")),
        _d("closed_at", _("Closed at"), DATETIME),
        _d("record_version_raised", _("Record version when raised"), INTEGER),
        _d("messages", _("Turns of the conversation"), INTEGER),
    ),
    key=("subject_id", "query_number"),
    importable=False,
)

SDV = Dataset(
    "sdv",
    _("Source data verification"),
    (
        SUBJECT,
        _d("dataset", _("Dataset of the verified record"), CODE, allowed=REVIEWED_DATASETS),
        _d("record", _("Record (its natural key within the participant)")),
        _d("state", _("State"), CODE, allowed=SDV_STATES),
        _d("verified_version", _("Version verified"), INTEGER),
        _d("current_version", _("Current version"), INTEGER),
        _d("verified_by", _("Verified by")),
        _d("verified_at", _("Verified at"), DATETIME),
    ),
    key=("subject_id", "dataset", "record"),
    importable=False,
)

AUDIT_ACTIONS = ("created", "changed", "deleted", "exported", "imported")

AUDIT_TRAIL = Dataset(
    "audit_trail",
    _("Audit trail"),
    (
        Column("timestamp", _("When"), DATETIME),
        Column("user", _("User")),
        Column("action", _("Action"), CODE, allowed=AUDIT_ACTIONS),
        Column("dataset", _("Dataset")),
        Column("subject_id", _("Subject ID")),
        Column("record", _("Record (its natural key within the participant)")),
        Column("field", _("Field (the column name where the field is exported)")),
        Column("old_value", _("Old value")),
        Column("new_value", _("New value")),
        Column("reason", _("Reason for change")),
    ),
    key=(),
    importable=False,
)

DATASETS: tuple[Dataset, ...] = (
    SUBJECTS,
    ELIGIBILITY,
    VISITS,
    INFUSIONS,
    PLATELETS,
    ADVERSE_EVENTS,
    CONMEDS,
    FLAGS,
    SIGNATURES,
    LOCKS,
    QUERIES,
    SDV,
    AUDIT_TRAIL,
)
DATASETS_BY_NAME: dict[str, Dataset] = {d.name: d for d in DATASETS}
IMPORTABLE: tuple[Dataset, ...] = tuple(d for d in DATASETS if d.importable)

DICTIONARY_FILENAME = "data_dictionary.csv"
MANIFEST_FILENAME = "manifest.csv"
DICTIONARY_HEADER = [
    "dataset",
    "column",
    "label",
    "type",
    "unit",
    "allowed_values",
    "derived",
    "imported",
]
# audit_chain_seq/_head: the last sealed entry of the audit trail's hash chain when the export
# was taken (itp_trial.audit), so that a later `verify_audit` can show the trail has not been
# rewritten since.
MANIFEST_HEADER = [
    "file",
    "rows",
    "sha256",
    "exported_at",
    "exported_by",
    "audit_chain_seq",
    "audit_chain_head",
]


def dictionary_rows() -> list[list[Any]]:
    """The data dictionary: one row per column of every dataset, with its format."""
    rows = []
    for dataset in DATASETS:
        for column in dataset.columns:
            rows.append(
                [
                    dataset.name,
                    column.name,
                    str(column.label),
                    column.type,
                    column.unit,
                    column.allowed_values,
                    column.derived,
                    dataset.importable and not column.derived,
                ]
            )
    return rows
