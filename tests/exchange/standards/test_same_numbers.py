"""The CSVs, the ODM and the SDTM files carry the same values: one computation, three forms."""

from __future__ import annotations

import io
import math
from collections import Counter
from pathlib import Path

import pyreadstat
import pytest
from django.core.management import call_command
from lxml import etree

from exchange import datasets
from exchange.cells import unneutralise
from exchange.standards import odm, source
from exchange.standards.sdtm import spec
from exchange.standards.sdtm.build import IDVAR
from itp_trial import protocol
from tests.exchange.study import read_csv

NS = {"odm": odm.NS}


@pytest.fixture
def files(study, tmp_path) -> Path:
    call_command("export_csv", str(tmp_path / "csv"), stdout=io.StringIO())
    call_command("export_odm", str(tmp_path / "study.xml"), stdout=io.StringIO())
    call_command("export_sdtm", str(tmp_path / "sdtm"), stdout=io.StringIO())
    return tmp_path


def _csv(files: Path, dataset: datasets.Dataset) -> list[dict[str, str]]:
    return [
        {k: unneutralise(v) for k, v in row.items()}
        for row in read_csv(files / "csv" / dataset.filename)
    ]


def _xpt(files: Path, name: str) -> list[dict]:
    data, meta = pyreadstat.read_xport(
        str(files / "sdtm" / f"{name.lower()}.xpt"), output_format="dict"
    )
    names = meta.column_names
    return [dict(zip(names, v, strict=True)) for v in zip(*data.values(), strict=True)]


def test_it_writes_every_value_of_every_csv_row_into_the_odm(files):
    doc = etree.parse(str(files / "study.xml"))
    for dataset in source.CLINICAL:
        header = dataset.header
        odm_rows = []
        for subject in doc.iterfind(".//odm:SubjectData", NS):
            groups = subject.iterfind(
                f".//odm:ItemGroupData[@ItemGroupOID='{odm.group_oid(dataset)}']", NS
            )
            for group in groups:
                values = {
                    i.get("ItemOID"): i.get("Value") for i in group.iterfind("odm:ItemData", NS)
                }
                odm_rows.append(
                    tuple(
                        values.get(odm.item_oid(dataset, dataset.column(name)), "")
                        for name in header
                    )
                )
        csv_rows = [tuple(r[name] for name in header) for r in _csv(files, dataset)]
        assert csv_rows, dataset.name
        assert Counter(odm_rows) == Counter(csv_rows), dataset.name


# Where SDTM carries each derived CSV column (the supplemental qualifiers say the rest).
PARENT_KEYS = {
    "DM": (("USUBJID",), ("subject_id",)),
    "SV": (("USUBJID", "VISIT"), ("subject_id", "visit_code")),
    "EX": (("USUBJID", "EXSPID"), ("subject_id", "infusion_number")),
    "LB": (("USUBJID", "LBDTC"), ("subject_id", "sample_date")),
    "AE": (("USUBJID", "AESPID"), ("subject_id", "ae_number")),
}


def _text(number: float | None) -> str:
    """A numeric SDTM value as the CSV writes it (NaN is SAS missing: empty)."""
    return "" if number is None or math.isnan(number) else str(int(number))


def _sdtm_key(domain: str, row: dict) -> tuple:
    values = [row[n] for n in PARENT_KEYS[domain][0]]
    values[0] = values[0].removeprefix(f"{spec.STUDYID}-")
    if domain == "SV":
        names = {str(v.name).upper(): v.code for v in protocol.VISITS}
        values[1] = names[values[1]]
    return tuple(values)


def test_it_carries_every_derived_value_of_the_csvs_into_sdtm(files):
    compared = Counter()
    for parent, qualifiers in spec.QUALIFIERS.items():
        seq = IDVAR.get(parent)
        parents = {}
        for row in _xpt(files, parent):
            ident = str(int(row[seq])) if seq else ""
            parents[(row["USUBJID"], ident)] = _sdtm_key(parent, row)
        supp = {}
        for row in _xpt(files, f"SUPP{parent}"):
            supp[(parents[(row["USUBJID"], row["IDVARVAL"])], row["QNAM"])] = row["QVAL"]
        dataset_name = qualifiers[0].column.split(".")[0]
        dataset = datasets.DATASETS_BY_NAME[dataset_name]
        csv_keys = PARENT_KEYS[parent][1]
        for row in _csv(files, dataset):
            key = tuple(row[k] for k in csv_keys)
            if parent == "SV" and not row["actual_date"]:
                continue  # SV holds the visits done; the others are in DV or not yet due
            for q in qualifiers:
                column = q.column.split(".")[1]
                if column not in row:
                    continue
                assert supp.get((key, q.qnam), "") == row[column], (parent, key, q.qnam)
                compared[column] += 1
    derived = {
        c.name
        for d in (datasets.SUBJECTS, datasets.VISITS, datasets.INFUSIONS, datasets.PLATELETS)
        for c in d.columns
        if c.derived
    } | {"report_due_at", "treatment_emergent"}
    # Every derived column is compared, through a qualifier or a standard variable below.
    standard = {"age_at_consent", "study_day"}
    assert derived - standard <= set(compared)

    dm = {r["SUBJID"]: r for r in _xpt(files, "DM")}
    for s in _csv(files, datasets.SUBJECTS):
        assert dm[s["subject_id"]]["AGE"] == float(s["age_at_consent"])
    sv = {_sdtm_key("SV", r): r for r in _xpt(files, "SV")}
    for v in _csv(files, datasets.VISITS):
        if v["actual_date"]:
            day = sv[(v["subject_id"], v["visit_code"])]["SVSTDY"]
            assert _text(day) == v["study_day"]
    lb = {_sdtm_key("LB", r): r for r in _xpt(files, "LB")}
    baselines = {s["subject_id"]: s["baseline_platelets"] for s in _csv(files, datasets.SUBJECTS)}
    for p in _csv(files, datasets.PLATELETS):
        row = lb[(p["subject_id"], p["sample_date"])]
        assert _text(row["LBDY"]) == p["study_day"]
        if row["LBBLFL"] == "Y":
            assert baselines[p["subject_id"]] == p["platelets_10e9_l"]
    flagged = {s for s, b in baselines.items() if b}
    assert flagged == {k[0] for k, r in lb.items() if r["LBBLFL"] == "Y"}
