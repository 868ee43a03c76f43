"""CDISC ODM 1.3.2: the study's metadata and every participant's data, audited and signed.

The metadata is generated, never written by hand: study events from the protocol's visits
(`itp_trial.protocol.VISITS`, plus the unscheduled and the participant-level events),
forms, item groups and items from the dataset definitions (`exchange.datasets`), with
their data types, code lists (allowed values), units and range checks. The clinical data
are the CSV export's rows (`source.study_records`), one item group per row, each value
written as the CSV writes it (`exchange.cells.format_value`), without the spreadsheet
quote. Each item group carries the audit record of its creation and each item that of its
last change (who, when, why), from the audit trail dataset; every change with its old and
new value is the audit trail file of the archive. Signatures: every investigator
signature is in ClinicalData/Signatures, the latest on its participant's SubjectData.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import IO, Any

from django.contrib.auth import get_user_model
from django.utils import timezone, translation
from lxml import etree

from itp_trial import protocol

from .. import datasets
from ..cells import format_value
from . import review, source

NS = "http://www.cdisc.org/ns/odm/v1.3"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
ODM_VERSION = "1.3.2"
STUDY_OID = protocol.REGISTRY_ID
MDV_OID = "MDV.1"
LOCATION_OID = "LOC.SITE"
SYSTEM_USER_OID = "USR.SYSTEM"
SIGNATURE_DEF_OID = "SD.INVESTIGATOR"
LANGUAGES = ("en", "zh-hans")

UNSCHEDULED = protocol.UNSCHEDULED_VISIT_CODE
COMMON = "COMMON"

DATA_TYPES = {
    datasets.TEXT: "text",
    datasets.INTEGER: "integer",
    datasets.DECIMAL: "float",
    datasets.DATE: "date",
    datasets.DATETIME: "datetime",
    datasets.TIME: "time",
    datasets.BOOLEAN: "text",  # Y/N, with the code list CL.YN
    datasets.CODE: "text",
    datasets.CODES: "text",
}
YN_CODELIST = "CL.YN"


def _e(tag: str, parent: etree._Element | None = None, **attrib: Any) -> etree._Element:
    attrs = {k: str(v) for k, v in attrib.items() if v is not None and v != ""}
    if parent is None:
        return etree.Element(f"{{{NS}}}{tag}", attrs, nsmap={None: NS})
    return etree.SubElement(parent, f"{{{NS}}}{tag}", attrs)


def _translated(parent: etree._Element, tag: str, text: Any) -> None:
    """A description element with its English and Chinese text."""
    holder = _e(tag, parent)
    for lang in LANGUAGES:
        with translation.override(lang):
            _e("TranslatedText", holder).text = str(text)
        holder[-1].set(XML_LANG, "zh" if lang.startswith("zh") else lang)


def _oid(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.\-_]+", "_", text).upper().strip("_")


def event_oid(code: str) -> str:
    return f"SE.{code}"


def form_oid(dataset: datasets.Dataset) -> str:
    return f"F.{dataset.name.upper()}"


def group_oid(dataset: datasets.Dataset) -> str:
    return f"IG.{dataset.name.upper()}"


def item_oid(dataset: datasets.Dataset, column: datasets.Column) -> str:
    return f"IT.{dataset.name.upper()}.{column.name.upper()}"


def codelist_oid(dataset: datasets.Dataset, column: datasets.Column) -> str | None:
    if column.type == datasets.BOOLEAN:
        return YN_CODELIST
    if column.type == datasets.CODE and column.allowed:
        return f"CL.{dataset.name.upper()}.{column.name.upper()}"
    return None


UNIT_OIDS = {"°C": "MU.CEL", "/min": "MU.PER_MIN", "%": "MU.PCT", "10^9/L": "MU.10E9_L"}


def unit_oid(unit: str) -> str:
    return UNIT_OIDS.get(unit) or f"MU.{_oid(unit)}"


# Where each dataset's forms are collected: at which study events.
_VISIT_CODES = protocol.VISIT_CODES
_PLACEMENT: dict[str, tuple[str, ...]] = {
    datasets.SUBJECTS.name: (protocol.SCREENING_VISIT_CODE,),
    datasets.ELIGIBILITY.name: (protocol.SCREENING_VISIT_CODE,),
    datasets.VISITS.name: _VISIT_CODES,
    datasets.INFUSIONS.name: tuple(protocol.INFUSION_VISIT_CODES.values()),
    datasets.PLATELETS.name: (*_VISIT_CODES, UNSCHEDULED),
}
# One record per form at its event; the others repeat (ItemGroupRepeatKey).
_SINGLE = {datasets.SUBJECTS.name, datasets.VISITS.name, datasets.INFUSIONS.name}


def placements(dataset: datasets.Dataset) -> tuple[str, ...]:
    return _PLACEMENT.get(dataset.name, (COMMON,))


def event_of(dataset: datasets.Dataset, record: source.Record) -> str:
    """The study event a row belongs to."""
    if dataset.name in (datasets.VISITS.name, datasets.PLATELETS.name):
        return record["visit_code"]
    if dataset.name == datasets.INFUSIONS.name:
        return protocol.INFUSION_VISIT_CODES[record["infusion_number"]]
    return placements(dataset)[0]


def events() -> list[tuple[str, Any, str, bool]]:
    """(code, name, ODM type, repeating) of every study event, in protocol order."""
    result: list[tuple[str, Any, str, bool]] = [
        (v.code, v.name, "Scheduled", False) for v in protocol.VISITS
    ]
    result.append((UNSCHEDULED, "Unscheduled", "Unscheduled", True))
    result.append((COMMON, "Participant-level records", "Common", False))
    return result


def _range(column: datasets.Column) -> tuple[str, str] | None:
    match = re.fullmatch(r"\s*(-?[\d.]+)\s+to\s+(-?[\d.]+)\s*", column.range or "")
    return (match[1], match[2]) if match else None


def metadata() -> etree._Element:
    """The Study element: global variables, units and the metadata version."""
    study = _e("Study", OID=STUDY_OID)
    gv = _e("GlobalVariables", study)
    _e("StudyName", gv).text = protocol.REGISTRY_ID
    _e("StudyDescription", gv).text = str(protocol.STUDY_TITLE)
    _e("ProtocolName", gv).text = protocol.REGISTRY_ID

    forms = source.CLINICAL
    units = sorted({c.unit for d in forms for c in d.columns if c.unit})
    basic = _e("BasicDefinitions", study)
    for unit in units:
        mu = _e("MeasurementUnit", basic, OID=unit_oid(unit), Name=unit)
        symbol = _e("Symbol", mu)
        _e("TranslatedText", symbol).text = unit

    mdv = _e("MetaDataVersion", study, OID=MDV_OID, Name=f"{protocol.REGISTRY_ID} version 1")
    proto = _e("Protocol", mdv)
    for order, (code, *_rest) in enumerate(events(), start=1):
        _e("StudyEventRef", proto, StudyEventOID=event_oid(code), OrderNumber=order, Mandatory="No")
    for code, name, kind, repeating in events():
        se = _e(
            "StudyEventDef",
            mdv,
            OID=event_oid(code),
            Name=str(name),
            Repeating="Yes" if repeating else "No",
            Type=kind,
        )
        order = 0
        for dataset in forms:
            if code in placements(dataset):
                order += 1
                _e("FormRef", se, FormOID=form_oid(dataset), OrderNumber=order, Mandatory="No")
    for dataset in forms:
        form = _e("FormDef", mdv, OID=form_oid(dataset), Name=str(dataset.label), Repeating="No")
        _e("ItemGroupRef", form, ItemGroupOID=group_oid(dataset), Mandatory="Yes")
    for dataset in forms:
        group = _e(
            "ItemGroupDef",
            mdv,
            OID=group_oid(dataset),
            Name=dataset.name,
            Repeating="No" if dataset.name in _SINGLE else "Yes",
            SASDatasetName=dataset.name.upper()[:8],
        )
        for order, column in enumerate(dataset.columns, start=1):
            _e(
                "ItemRef",
                group,
                ItemOID=item_oid(dataset, column),
                OrderNumber=order,
                Mandatory="Yes" if column.required else "No",
            )
    codelists: list[tuple[str, tuple[str, ...]]] = [(YN_CODELIST, ("Y", "N"))]
    for dataset in forms:
        for column in dataset.columns:
            item = _e(
                "ItemDef",
                mdv,
                OID=item_oid(dataset, column),
                Name=column.name,
                DataType=DATA_TYPES[column.type],
                Origin="Derived" if column.derived else "CRF",
                Comment=datasets.TYPE_FORMATS[column.type],
            )
            _translated(item, "Question", column.label)
            if column.unit:
                _e("MeasurementUnitRef", item, MeasurementUnitOID=unit_oid(column.unit))
            bounds = _range(column)
            if bounds and column.type in (datasets.INTEGER, datasets.DECIMAL):
                for comparator, value in zip(("GE", "LE"), bounds, strict=True):
                    check = _e("RangeCheck", item, Comparator=comparator, SoftHard="Hard")
                    _e("CheckValue", check).text = value
            cl = codelist_oid(dataset, column)
            if cl:
                _e("CodeListRef", item, CodeListOID=cl)
                if cl != YN_CODELIST:
                    codelists.append((cl, column.allowed))
    for oid, values in codelists:
        cl = _e("CodeList", mdv, OID=oid, Name=oid, DataType="text")
        for value in values:
            _e("EnumeratedItem", cl, CodedValue=value)
    return study


def user_oid(username: str) -> str:
    return f"USR.{_oid(username)}" if username else SYSTEM_USER_OID


def admin_data(usernames: Iterable[str]) -> etree._Element:
    """Users (every person named by an audit record or a signature), the site, the
    signature meaning."""
    admin = _e("AdminData", StudyOID=STUDY_OID)
    names = sorted({u for u in usernames if u})
    people = {u.username: u for u in get_user_model().objects.filter(username__in=names)}
    system = _e("User", admin, OID=SYSTEM_USER_OID, UserType="Other")
    _e("LoginName", system).text = "system"
    _e("FullName", system).text = "Background checks and derived values"
    for name in names:
        person = people.get(name)
        user = _e("User", admin, OID=user_oid(name))
        _e("LoginName", user).text = name
        full = person.get_full_name() if person else ""
        if full:
            _e("FullName", user).text = full
    location = _e("Location", admin, OID=LOCATION_OID, Name="Site 1", LocationType="Site")
    _e(
        "MetaDataVersionRef",
        location,
        StudyOID=STUDY_OID,
        MetaDataVersionOID=MDV_OID,
        EffectiveDate=timezone.localdate().isoformat(),
    )
    sd = _e("SignatureDef", admin, OID=SIGNATURE_DEF_OID, Methodology="Electronic")
    _e("Meaning", sd).text = "Investigator signature of the participant's casebook"
    _e("LegalReason", sd).text = "21 CFR Part 11 (11.50, 11.70, 11.200)"
    return admin


def _audit(parent: etree._Element, entry: source.Record) -> None:
    audit = _e("AuditRecord", parent)
    _e("UserRef", audit, UserOID=user_oid(entry["user"]))
    _e("LocationRef", audit, LocationOID=LOCATION_OID)
    _e("DateTimeStamp", audit).text = format_value(entry["timestamp"])
    if entry.get("reason"):
        _e("ReasonForChange", audit).text = entry["reason"]
    _e("SourceID", audit).text = f"audit_trail: {entry['action']} {entry['dataset']}"


def _signature(parent: etree._Element, sig: review.Signature, *, with_id: bool) -> None:
    element = _e("Signature", parent, ID=f"SIG.{sig.id}" if with_id else None)
    _e("UserRef", element, UserOID=user_oid(sig.username))
    _e("LocationRef", element, LocationOID=LOCATION_OID)
    _e("SignatureRef", element, SignatureOID=SIGNATURE_DEF_OID)
    _e("DateTimeStamp", element).text = format_value(sig.signed_at)


class AuditIndex:
    """The creation and the latest change of each record and field, from the audit trail."""

    def __init__(self, entries: Iterable[source.Record]) -> None:
        self.created: dict[tuple[str, str, str], source.Record] = {}
        self.changed: dict[tuple[str, str, str, str], source.Record] = {}
        self.usernames: set[str] = set()
        for e in entries:
            self.usernames.add(e["user"])
            key = (e["dataset"], e["subject_id"], e["record"])
            if e["action"] == "created":
                self.created.setdefault(key, e)
            elif e["action"] == "changed" and e["field"]:
                self.changed[(*key, e["field"])] = e


def subject_data(
    subject_id: str,
    study: source.Study,
    audit: AuditIndex,
    signed: list[review.Signature],
) -> etree._Element:
    subject = _e("SubjectData", SubjectKey=subject_id)
    created = audit.created.get((datasets.SUBJECTS.name, subject_id, ""))
    if created:
        _audit(subject, created)
    # Only a signature that still matches the data signs it; a stale one is in the
    # signatures dataset and the audit trail, with why it went stale.
    if signed and signed[-1].current:
        _signature(subject, signed[-1], with_id=False)
    _e("SiteRef", subject, LocationOID=LOCATION_OID)
    by_event: dict[str, list[tuple[datasets.Dataset, source.Record]]] = {}
    for dataset in source.CLINICAL:
        for record in study.of(dataset.name, subject_id):
            by_event.setdefault(event_of(dataset, record), []).append((dataset, record))
    for code, *_rest in events():
        rows = by_event.get(code)
        if not rows:
            continue
        repeats = (
            [r for r in rows if r[0].name == datasets.PLATELETS.name]
            if code == UNSCHEDULED
            else [None]
        )
        for repeat in repeats:
            event_rows = rows if repeat is None else [repeat]
            se = _e(
                "StudyEventData",
                subject,
                StudyEventOID=event_oid(code),
                StudyEventRepeatKey=(
                    format_value(repeat[1]["sample_date"]) if repeat is not None else None
                ),
            )
            forms: dict[str, etree._Element] = {}
            counters: dict[str, int] = {}
            for dataset, record in event_rows:
                form = forms.get(dataset.name)
                if form is None:
                    form = forms[dataset.name] = _e("FormData", se, FormOID=form_oid(dataset))
                counters[dataset.name] = counters.get(dataset.name, 0) + 1
                _item_group(form, dataset, record, subject_id, audit, counters[dataset.name])
    return subject


def _item_group(
    form: etree._Element,
    dataset: datasets.Dataset,
    record: source.Record,
    subject_id: str,
    audit: AuditIndex,
    repeat: int,
) -> None:
    group = _e(
        "ItemGroupData",
        form,
        ItemGroupOID=group_oid(dataset),
        ItemGroupRepeatKey=None if dataset.name in _SINGLE else repeat,
    )
    key = source.audit_key(dataset.name, record)
    created = audit.created.get((dataset.name, subject_id, key)) if key is not None else None
    if created:
        _audit(group, created)
    for column in dataset.columns:
        value = format_value(record[column.name])
        if value == "":
            continue
        item = _e("ItemData", group, ItemOID=item_oid(dataset, column), Value=value)
        changed = (
            audit.changed.get((dataset.name, subject_id, key, column.name))
            if key is not None
            else None
        )
        entry = changed or created
        if entry:
            _audit(item, entry)
        if column.unit:
            _e("MeasurementUnitRef", item, MeasurementUnitOID=unit_oid(column.unit))


def odm_write(out: IO[bytes], *, today=None, subject_ids: list[str] | None = None) -> int:
    """Write the ODM document of the study into a binary file; returns participants written."""
    study = source.study_records(today=today, subject_ids=subject_ids)
    audit = AuditIndex(source.audit_records(subject_ids=subject_ids))
    signed = review.signatures(subject_ids=subject_ids)
    usernames = set(audit.usernames) | {s.username for sigs in signed.values() for s in sigs}
    created_at: datetime = study.exported_at
    stamp = timezone.localtime(created_at)
    with etree.xmlfile(out, encoding="utf-8") as xf:
        xf.write_declaration()
        with xf.element(
            f"{{{NS}}}ODM",
            {
                "FileType": "Snapshot",
                "Granularity": "All",
                "FileOID": f"{protocol.REGISTRY_ID}.ODM.{stamp:%Y%m%dT%H%M%S}",
                "CreationDateTime": format_value(created_at),
                "ODMVersion": ODM_VERSION,
                "Originator": "ITP MSC trial EDC",
                "SourceSystem": "itp-trial-edc",
            },
            nsmap={None: NS},
        ):
            xf.write(metadata(), pretty_print=True)
            xf.write(admin_data(usernames), pretty_print=True)
            with xf.element(
                f"{{{NS}}}ClinicalData", {"StudyOID": STUDY_OID, "MetaDataVersionOID": MDV_OID}
            ):
                for subject_id in study.subjects():
                    xf.write(
                        subject_data(subject_id, study, audit, signed.get(subject_id, [])),
                        pretty_print=True,
                    )
                everyone = [s for sigs in signed.values() for s in sigs]
                if everyone:
                    holder = _e("Signatures")
                    for sig in everyone:
                        _signature(holder, sig, with_id=True)
                    xf.write(holder, pretty_print=True)
    return len(study.subjects())
