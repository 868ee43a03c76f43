"""Validation of the standards files with the official schemas that `odmlib` ships.

XML Schema validation with lxml; OID references with odmlib's checker; and what a schema
cannot say: every ItemData value has its ItemDef's data type and is in its code list.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from functools import cache
from pathlib import Path

from lxml import etree
from odmlib import define_loader, odm_loader
from odmlib.oid_generator import create_oid_checker
from odmlib.schema_manager import get_schema_path

ODM_NS = {"odm": "http://www.cdisc.org/ns/odm/v1.3"}


@cache
def _schema(standard: str, version: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(get_schema_path(standard, version)))


def schema_errors(xml: bytes, standard: str = "odm", version: str = "1.3.2") -> list[str]:
    schema = _schema(standard, version)
    doc = etree.fromstring(xml)
    if schema.validate(doc):
        return []
    return [f"line {e.line}: {e.message}" for e in schema.error_log]


def check_oids(xml: bytes, model: str = "odm_1_3_2") -> None:
    """Raises odmlib's OID error when a reference does not resolve (or an OID repeats)."""
    if model.startswith("define"):
        loader = define_loader.XMLDefineLoader(model_package=model)
    else:
        loader = odm_loader.XMLODMLoader(model_package=model)
    loader.create_document_from_string(xml.decode())
    root = loader.load_odm()
    root.verify_oids(create_oid_checker(model))


def _is(pattern: str, value: str) -> bool:
    return re.fullmatch(pattern, value) is not None


def _parses(kind, value: str) -> bool:
    try:
        kind.fromisoformat(value)
    except ValueError:
        return False
    return True


CHECKS = {
    "integer": lambda v: _is(r"-?\d+", v),
    "float": lambda v: _is(r"-?\d+(\.\d+)?", v),
    "date": lambda v: _is(r"\d{4}-\d{2}-\d{2}", v) and _parses(date, v),
    "datetime": lambda v: _is(r"\d{4}-\d{2}-\d{2}T.*[+-]\d{2}:\d{2}", v) and _parses(datetime, v),
    "time": lambda v: _parses(time, v),
    "text": lambda v: True,
}


def value_errors(xml: bytes) -> list[str]:
    """Every ItemData whose value does not fit its ItemDef's data type or code list."""
    doc = etree.fromstring(xml)
    items = {i.get("OID"): i for i in doc.iterfind(".//odm:ItemDef", ODM_NS)}
    codelists = {
        c.get("OID"): {e.get("CodedValue") for e in c.iterfind("odm:EnumeratedItem", ODM_NS)}
        for c in doc.iterfind(".//odm:CodeList", ODM_NS)
    }
    errors = []
    for data in doc.iterfind(".//odm:ItemData", ODM_NS):
        oid, value = data.get("ItemOID"), data.get("Value")
        item = items.get(oid)
        if item is None:
            errors.append(f"{oid}: no ItemDef")
            continue
        data_type = item.get("DataType")
        if not CHECKS[data_type](value):
            errors.append(f"{oid}: {value!r} is not {data_type}")
        ref = item.find("odm:CodeListRef", ODM_NS)
        if ref is not None and value not in codelists[ref.get("CodeListOID")]:
            errors.append(f"{oid}: {value!r} is not in {ref.get('CodeListOID')}")
    return errors


def assert_valid_odm(xml: bytes) -> None:
    assert schema_errors(xml) == []
    check_oids(xml)
    assert value_errors(xml) == []


def read(path: Path) -> bytes:
    return path.read_bytes()
