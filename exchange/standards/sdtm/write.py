"""Writing the SDTM datasets: SAS transport v5 (pyreadstat) and CSV, and define.xml 2.1.

Character variables are text (empty for missing), numeric ones floats (missing as SAS
missing); a dataset's variables are in the order of its declaration (`spec`). The
Define-XML describes exactly the files written: each variable's type, length (the longest
value written), label, origin with its source, and its code list.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pyreadstat
from django.utils import timezone
from lxml import etree

from itp_trial import protocol

from ...cells import format_value
from . import spec
from .build import Row

DEFINE_FILENAME = "define.xml"
ODM_NS = "http://www.cdisc.org/ns/odm/v1.3"
DEF_NS = "http://www.cdisc.org/ns/def/v2.1"
XLINK_NS = "http://www.w3.org/1999/xlink"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
NSMAP = {None: ODM_NS, "def": DEF_NS, "xlink": XLINK_NS}


def _cell(var: spec.Var, value: Any) -> Any:
    if var.numeric:
        return math.nan if value is None or value == "" else float(value)
    return "" if value is None else str(value)


def frame(domain: spec.Domain, rows: list[Row]) -> pd.DataFrame:
    columns = {v.name: [_cell(v, r.get(v.name)) for r in rows] for v in domain.variables}
    df = pd.DataFrame(columns, columns=domain.names)
    for v in domain.variables:
        df[v.name] = df[v.name].astype("float64" if v.numeric else "object")
    return df


def xpt_write(path: Path, domain: spec.Domain, rows: list[Row]) -> None:
    pyreadstat.write_xport(
        frame(domain, rows),
        str(path),
        file_label=domain.label[:40],
        column_labels={v.name: v.label for v in domain.variables},
        table_name=domain.name,
        file_format_version=5,
    )


def _csv_text(var: spec.Var, value: Any) -> str:
    if value is None or value == "" or (isinstance(value, float) and math.isnan(value)):
        return ""
    if var.type == spec.INTEGER or (isinstance(value, float) and value.is_integer()):
        return str(int(value))
    return format_value(value)


def csv_write(path: Path, domain: spec.Domain, rows: list[Row]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(domain.names)
        for r in rows:
            writer.writerow([_csv_text(v, r.get(v.name)) for v in domain.variables])


def _length(var: spec.Var, rows: list[Row]) -> int:
    if var.numeric:
        return 8
    return max([1, *(len(str(r.get(var.name) or "").encode()) for r in rows)])


def _e(parent, tag: str, ns: str = ODM_NS, **attrib: Any) -> etree._Element:
    attrs = {}
    for k, v in attrib.items():
        if v is None or v == "":
            continue
        if k.startswith("def_"):
            k = f"{{{DEF_NS}}}{k[4:]}"
        attrs[k] = str(v)
    return etree.SubElement(parent, f"{{{ns}}}{tag}", attrs)


def _description(parent, text: str) -> None:
    d = _e(parent, "Description")
    t = _e(d, "TranslatedText")
    t.set(XML_LANG, "en")
    t.text = text


def item_oid(domain: spec.Domain, var: spec.Var) -> str:
    return f"IT.{domain.name}.{var.name}"


def define_xml(tables: dict[str, list[Row]]) -> bytes:
    """The Define-XML 2.1 document of the datasets written."""
    now = timezone.now()
    root = etree.Element(
        f"{{{ODM_NS}}}ODM",
        {
            "FileType": "Snapshot",
            "FileOID": f"{spec.STUDYID}.DEFINE",
            "CreationDateTime": format_value(now.replace(microsecond=0)),
            "ODMVersion": "1.3.2",
            "Originator": "ITP MSC trial EDC",
            "SourceSystem": "itp-trial-edc",
            f"{{{DEF_NS}}}Context": "Submission",
        },
        nsmap=NSMAP,
    )
    study = _e(root, "Study", OID=spec.STUDYID)
    gv = _e(study, "GlobalVariables")
    _e(gv, "StudyName").text = spec.STUDYID
    _e(gv, "StudyDescription").text = str(protocol.STUDY_TITLE)
    _e(gv, "ProtocolName").text = spec.STUDYID
    mdv = _e(
        study,
        "MetaDataVersion",
        OID=f"MDV.{spec.STUDYID}.SDTMIG.{spec.SDTMIG_VERSION}",
        Name=f"{spec.STUDYID} SDTM",
        Description="SDTM tabulation datasets of the ITP MSC trial",
        def_DefineVersion="2.1.0",
    )
    standards = _e(mdv, "Standards", DEF_NS)
    _e(
        standards,
        "Standard",
        DEF_NS,
        OID="STD.SDTMIG",
        Name="SDTMIG",
        Type="IG",
        Version=spec.SDTMIG_VERSION,
        Status="Final",
    )
    _e(
        standards,
        "Standard",
        DEF_NS,
        OID="STD.CT",
        Name="CDISC/NCI",
        Type="CT",
        PublishingSet="SDTM",
        Version="2024-03-29",
        Status="Final",
    )
    domains = [d for d in spec.DOMAINS if d.name in tables]
    for domain in domains:
        group = _e(
            mdv,
            "ItemGroupDef",
            OID=f"IG.{domain.name}",
            Name=domain.name,
            Repeating="No" if domain.name == "DM" else "Yes",
            IsReferenceData="Yes" if domain.name == "TV" else "No",
            SASDatasetName=domain.name,
            Domain=domain.parent or domain.name,
            Purpose="Tabulation",
            def_Structure=domain.structure,
            def_ArchiveLocationID=f"LF.{domain.name}",
            def_StandardOID="STD.SDTMIG",
        )
        _description(group, domain.label)
        for order, var in enumerate(domain.variables, start=1):
            key = domain.keys.index(var.name) + 1 if var.name in domain.keys else None
            _e(
                group,
                "ItemRef",
                ItemOID=item_oid(domain, var),
                OrderNumber=order,
                Mandatory="Yes" if var.name in domain.keys else "No",
                KeySequence=key,
            )
        _e(group, "Class", DEF_NS, Name=domain.domain_class)
        leaf = _e(group, "leaf", DEF_NS, ID=f"LF.{domain.name}")
        leaf.set(f"{{{XLINK_NS}}}href", f"{domain.name.lower()}.xpt")
        _e(leaf, "title", DEF_NS).text = f"{domain.name.lower()}.xpt"
    for domain in domains:
        for var in domain.variables:
            item = _e(
                mdv,
                "ItemDef",
                OID=item_oid(domain, var),
                Name=var.name,
                DataType=var.type,
                Length=_length(var, tables[domain.name])
                if var.type not in ("date", "datetime")
                else None,
                SASFieldName=var.name,
            )
            _description(item, var.label)
            if var.codelist:
                _e(item, "CodeListRef", CodeListOID=f"CL.{var.codelist}")
            origin = _e(item, "Origin", DEF_NS, Type=var.origin)
            _description(origin, var.source)
    used = sorted({v.codelist for d in domains for v in d.variables if v.codelist})
    for key in used:
        name, values = spec.CODELISTS[key]
        cl = _e(
            mdv,
            "CodeList",
            OID=f"CL.{key}",
            Name=name,
            DataType="text",
            def_StandardOID="STD.CT" if key not in ("IWG",) else None,
        )
        for value in values:
            _e(cl, "EnumeratedItem", CodedValue=value)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def sdtm_write(directory: Path, tables: dict[str, list[Row]]) -> list[Path]:
    """Every dataset as <domain>.xpt and <domain>.csv, and define.xml; the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for domain in spec.DOMAINS:
        rows = tables[domain.name]
        xpt = directory / f"{domain.name.lower()}.xpt"
        xpt_write(xpt, domain, rows)
        text = directory / f"{domain.name.lower()}.csv"
        csv_write(text, domain, rows)
        written += [xpt, text]
    define = directory / DEFINE_FILENAME
    define.write_bytes(define_xml(tables))
    written.append(define)
    return written
