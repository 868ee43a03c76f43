"""SDTM: every .xpt reads back with pyreadstat and keeps the SDTM rules; define.xml is
valid Define-XML 2.1; each domain has the CSV export's rows."""

from __future__ import annotations

import io
import re
from collections import Counter
from pathlib import Path

import pyreadstat
import pytest
from django.core.management import call_command

from exchange.standards.sdtm import spec
from tests.exchange.standards.validation import check_oids, schema_errors
from tests.exchange.study import read_csv

ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:\d{2})?)?")


@pytest.fixture
def exported(study, tmp_path) -> Path:
    call_command("export_csv", str(tmp_path / "csv"), stdout=io.StringIO())
    call_command("export_sdtm", str(tmp_path / "sdtm"), stdout=io.StringIO())
    return tmp_path


def _xpt(path: Path):
    return pyreadstat.read_xport(str(path), output_format="dict")


def test_it_writes_every_domain_as_xpt_v5_that_reads_back_with_the_sdtm_rules(exported):
    sdtm = exported / "sdtm"
    for domain in spec.DOMAINS:
        data, meta = _xpt(sdtm / f"{domain.name.lower()}.xpt")
        assert meta.table_name == domain.name
        assert meta.column_names == domain.names
        assert all(len(name) <= 8 for name in meta.column_names)
        assert all(len(label) <= 40 for label in meta.column_labels)
        assert meta.column_labels == [v.label for v in domain.variables]
        rows = [
            dict(zip(meta.column_names, v, strict=True)) for v in zip(*data.values(), strict=True)
        ]
        assert len(rows) == len(read_csv(sdtm / f"{domain.name.lower()}.csv"))
        for row in rows:
            if "USUBJID" in row:
                assert row["USUBJID"].startswith(f"{spec.STUDYID}-ITP-")
            for var in domain.variables:
                value = row[var.name]
                if var.type in (spec.DATE, spec.DATETIME) and value:
                    assert ISO_DATE.fullmatch(value), (domain.name, var.name, value)
                if var.name.endswith("DY") and var.name != "VISITDY" and value == value:
                    assert value != 0, (domain.name, var.name)
        seq = next((v.name for v in domain.variables if v.name.endswith("SEQ")), None)
        if seq:
            keys = Counter((r["USUBJID"], r[seq]) for r in rows)
            assert keys and max(keys.values()) == 1, domain.name


def test_it_gives_usubjid_as_study_and_subject_id(exported):
    data, _meta = _xpt(exported / "sdtm" / "dm.xpt")
    assert list(data["USUBJID"]) == [f"NCT06813157-{s}" for s in data["SUBJID"]]


def test_it_has_one_row_per_record_of_the_csv_export(exported):
    csv_dir, sdtm = exported / "csv", exported / "sdtm"
    subjects = read_csv(csv_dir / "subjects.csv")
    infusions = read_csv(csv_dir / "infusions.csv")
    platelets = read_csv(csv_dir / "platelets.csv")
    events = read_csv(csv_dir / "adverse_events.csv")
    conmeds = read_csv(csv_dir / "conmeds.csv")
    visits = read_csv(csv_dir / "visits.csv")

    def keyed(domain: str, *names: str) -> list[tuple]:
        data, _ = _xpt(sdtm / f"{domain}.xpt")
        return list(zip(*(data[n] for n in names), strict=True))

    assert keyed("dm", "SUBJID", "BRTHDTC", "SEX", "AGE") == [
        (s["subject_id"], s["birth_date"], s["sex"], float(s["age_at_consent"])) for s in subjects
    ]
    assert keyed("ex", "USUBJID", "EXSPID", "EXDOSE", "EXLOT", "EXSTDTC") == [
        (
            f"NCT06813157-{i['subject_id']}",
            i["infusion_number"],
            float(i["actual_cells"]),
            i["lot_number"],
            f"{i['infusion_date']}T{i['start_time'][:5]}"
            if i["start_time"]
            else i["infusion_date"],
        )
        for i in infusions
    ]
    assert keyed("lb", "USUBJID", "LBDTC", "LBSTRESN", "LBDY") == [
        (
            f"NCT06813157-{p['subject_id']}",
            p["sample_date"],
            float(p["platelets_10e9_l"]),
            float(p["study_day"]) if p["study_day"] else pytest.approx(float("nan"), nan_ok=True),
        )
        for p in platelets
    ]
    assert keyed("ae", "USUBJID", "AESPID", "AETERM", "AESTDTC", "AETOXGR") == [
        (
            f"NCT06813157-{a['subject_id']}",
            a["ae_number"],
            a["term"],
            a["onset_date"],
            a["ctcae_grade"],
        )
        for a in events
    ]
    assert len(keyed("cm", "CMTRT")) == len(conmeds)
    assert len(keyed("sv", "USUBJID")) == sum(1 for v in visits if v["actual_date"])
    deviations = [v for v in visits if v["window_status"] in ("early", "late", "missed")]
    doses = [i for i in infusions if i["dose_deviation"] == "Y"]
    decoded = Counter(d for (d,) in keyed("dv", "DVDECOD"))
    assert decoded["DOSE DEVIATION"] == len(doses) == 1
    assert decoded["MISSED VISIT"] == sum(1 for v in deviations if v["window_status"] == "missed")
    assert decoded["VISIT OUT OF WINDOW"] == sum(
        1 for v in deviations if v["window_status"] in ("early", "late")
    )
    assert len(keyed("tv", "VISITNUM")) == 15


def test_it_uses_cdisc_terms_for_sex_seriousness_outcome_and_units(exported):
    sdtm = exported / "sdtm"
    dm, _ = _xpt(sdtm / "dm.xpt")
    assert set(dm["SEX"]) <= {"M", "F"}
    ae, _ = _xpt(sdtm / "ae.xpt")
    assert set(ae["AESER"]) == {"Y", "N"}
    assert set(ae["AEOUT"]) == {"RECOVERED/RESOLVED"}
    assert list(ae["AESHOSP"]) == ["", "Y"]
    lb, _ = _xpt(sdtm / "lb.xpt")
    assert set(lb["LBORRESU"]) == set(lb["LBSTRESU"]) == {"10^9/L"}


def test_it_writes_a_define_xml_valid_against_define_2_1_with_every_oid_resolved(exported):
    xml = (exported / "sdtm" / "define.xml").read_bytes()
    assert schema_errors(xml, "define", "2.1") == []
    check_oids(xml, "define_2_1")
    for domain in spec.DOMAINS:
        assert f'def:ArchiveLocationID="LF.{domain.name}"'.encode() in xml


def test_it_fails_define_validation_when_a_reference_is_broken(exported):
    from odmlib.exceptions import OdmlibOIDError

    xml = (exported / "sdtm" / "define.xml").read_bytes()
    broken = xml.replace(b'ItemOID="IT.DM.SEX"', b'ItemOID="IT.DM.GENDER"', 1)
    with pytest.raises(OdmlibOIDError):
        check_oids(broken, "define_2_1")
    assert schema_errors(xml.replace(b'DataType="integer"', b'DataType="int"', 1), "define", "2.1")
