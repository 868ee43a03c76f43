"""The SDTM rows, filled from the CSV export's rows (`source.Study`): no value of its own.

Derived values (age, study days, window status, IWG category, dose deviation…) are the
CSV's; a study day the CSV does not carry (an AE onset, a medication start) comes from the
same pure rule, `visits.schedule.study_day`. Dates are ISO 8601 text, as SDTM wants.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from itp_trial import protocol
from visits.schedule import study_day

from ... import datasets
from ...cells import format_value
from .. import source
from . import spec

Row = dict[str, Any]
VISITNUM = {code: float(i) for i, code in enumerate(protocol.VISIT_CODES, start=1)}
VISIT_NAMES = {v.code: v.name for v in protocol.VISITS}


def usubjid(subject_id: str) -> str:
    return f"{spec.STUDYID}-{subject_id}"


def iso(value: Any) -> str:
    """A date, date-time or time as ISO 8601 text (date-times with the site's offset)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return format_value(value)
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


def yn(value: bool | None) -> str:
    return "" if value is None else ("Y" if value else "N")


def _num(value: Any) -> float | None:
    if value is None or value == "":
        return None
    return float(value)


def _visit(code: str | None) -> dict[str, Any]:
    if not code or code not in VISITNUM:
        return {"VISITNUM": None, "VISIT": "UNSCHEDULED" if code else ""}
    return {"VISITNUM": VISITNUM[code], "VISIT": str(VISIT_NAMES[code]).upper()}


def planned_days() -> dict[str, int]:
    """The planned study day of each visit when everything happens on time (TV.VISITDY)."""
    offsets: dict[str, int] = {}
    infusion = 0
    last = 0
    for v in protocol.VISITS:
        if v.anchor in (protocol.ANCHOR_INF1, protocol.ANCHOR_PLANNED_INF1):
            offset = v.offset
        elif v.anchor == protocol.ANCHOR_PREVIOUS_INFUSION:
            offset = infusion + v.offset
        else:
            offset = last + v.offset
        if v.infusion_number is not None:
            infusion = last = offset
        offsets[v.code] = offset
    day1 = date(2000, 1, 1)
    return {code: study_day(day1 + timedelta(days=o), day1) for code, o in offsets.items()}


class Context:
    """What several domains share: infusion 1 and the last infusion of each participant."""

    def __init__(self, study: source.Study) -> None:
        self.study = study
        self.first: dict[str, date] = {}
        self.last: dict[str, date] = {}
        for r in study.by_dataset[datasets.INFUSIONS.name]:
            if r["infusion_number"] == 1:
                self.first[r["subject_id"]] = r["infusion_date"]
            self.last[r["subject_id"]] = r["infusion_date"]

    def day(self, subject_id: str, value: date | None) -> int | None:
        if value is None:
            return None
        return study_day(value, self.first.get(subject_id))


def _base(domain: str, subject_id: str) -> Row:
    return {"STUDYID": spec.STUDYID, "DOMAIN": domain, "USUBJID": usubjid(subject_id)}


def dm(ctx: Context) -> Iterator[Row]:
    visits = ctx.study.by_dataset[datasets.VISITS.name]
    last_visit: dict[str, date] = {}
    for v in visits:
        if v["actual_date"] is not None:
            previous = last_visit.get(v["subject_id"])
            last_visit[v["subject_id"]] = max(v["actual_date"], previous or v["actual_date"])
    for s in ctx.study.by_dataset[datasets.SUBJECTS.name]:
        sid = s["subject_id"]
        if s["status"] == "screen_failed":
            armcd, arm = "SCRNFAIL", "Screen Failure"
        elif s["enrolled_on"] is None:
            armcd, arm = "NOTASSGN", "Not Assigned"
        else:
            armcd, arm = spec.ARMCD, spec.ARM
        treated = sid in ctx.first
        actarmcd, actarm = (
            (spec.ARMCD, spec.ARM)
            if treated
            else (("NOTTRT", "Not Treated") if armcd == spec.ARMCD else (armcd, arm))
        )
        yield {
            **_base("DM", sid),
            "SUBJID": sid,
            "RFSTDTC": iso(ctx.first.get(sid)),
            "RFENDTC": iso(s["withdrawal_date"] or last_visit.get(sid)),
            "RFXSTDTC": iso(ctx.first.get(sid)),
            "RFXENDTC": iso(ctx.last.get(sid)),
            "RFICDTC": iso(s["consent_date"]),
            "SITEID": "01",
            "BRTHDTC": iso(s["birth_date"]),
            "AGE": _num(s["age_at_consent"]),
            "AGEU": "YEARS",
            "SEX": spec.SEX[s["sex"]],
            "ARMCD": armcd,
            "ARM": arm,
            "ACTARMCD": actarmcd,
            "ACTARM": actarm,
            "COUNTRY": "CHN",
        }


def sv(ctx: Context) -> Iterator[Row]:
    planned = planned_days()
    for v in ctx.study.by_dataset[datasets.VISITS.name]:
        if v["actual_date"] is None:
            continue
        yield {
            **_base("SV", v["subject_id"]),
            **_visit(v["visit_code"]),
            "VISITDY": _num(planned[v["visit_code"]]),
            "SVSTDTC": iso(v["actual_date"]),
            "SVENDTC": iso(v["actual_date"]),
            "SVSTDY": _num(v["study_day"]),
            "SVENDY": _num(v["study_day"]),
            "_source": v,
        }


def _at(day: date, at: time | None) -> str:
    """A date with the time of day when it is known (minutes), as ISO 8601."""
    if at is None:
        return iso(day)
    return datetime.combine(day, at).isoformat(timespec="minutes")


def ex(ctx: Context) -> Iterator[Row]:
    for i in ctx.study.by_dataset[datasets.INFUSIONS.name]:
        sid = i["subject_id"]
        yield {
            **_base("EX", sid),
            "EXSPID": str(i["infusion_number"]),
            "EXTRT": "MESENCHYMAL STEM CELLS",
            "EXDOSE": _num(i["actual_cells"]),
            "EXDOSU": "cells",
            "EXDOSFRM": "SUSPENSION",
            "EXROUTE": "INTRAVENOUS",
            "EXLOT": i["lot_number"],
            "EXSTDTC": _at(i["infusion_date"], i["start_time"]),
            "EXENDTC": _at(i["infusion_date"], i["end_time"]),
            "EXSTDY": _num(ctx.day(sid, i["infusion_date"])),
            **_visit(protocol.INFUSION_VISIT_CODES[i["infusion_number"]]),
            "_source": i,
        }


def lb(ctx: Context) -> Iterator[Row]:
    # The baseline count is the last one on or before infusion 1 (the CSV's rule: those
    # are the counts without a category, dated up to study day 1).
    baseline_of: dict[str, date] = {}
    for p in ctx.study.by_dataset[datasets.PLATELETS.name]:
        if p["study_day"] is not None and p["study_day"] <= 1:
            baseline_of[p["subject_id"]] = p["sample_date"]
    for p in ctx.study.by_dataset[datasets.PLATELETS.name]:
        sid = p["subject_id"]
        count = p["platelets_10e9_l"]
        yield {
            **_base("LB", sid),
            "LBTESTCD": "PLAT",
            "LBTEST": "Platelets",
            "LBCAT": "HEMATOLOGY",
            "LBORRES": str(count),
            "LBORRESU": datasets.PLATELET_UNIT,
            "LBSTRESC": str(count),
            "LBSTRESN": _num(count),
            "LBSTRESU": datasets.PLATELET_UNIT,
            "LBBLFL": "Y" if baseline_of.get(sid) == p["sample_date"] else "",
            **_visit(p["visit_code"]),
            "LBDTC": iso(p["sample_date"]),
            "LBDY": _num(p["study_day"]),
            "_source": p,
        }


def ae(ctx: Context) -> Iterator[Row]:
    for a in ctx.study.by_dataset[datasets.ADVERSE_EVENTS.name]:
        sid = a["subject_id"]
        criteria = {c for c in (a["serious_criteria"] or "").split(";") if c}
        flags = {
            flag: (yn(code in criteria) if a["serious"] else "")
            for code, flag in spec.SERIOUS_FLAGS.items()
        }
        action = a["action_taken"] or ""
        yield {
            **_base("AE", sid),
            "AESPID": str(a["ae_number"]),
            "AETERM": a["term"],
            "AEDECOD": a["term"],
            "AESER": yn(a["serious"]),
            **flags,
            "AETOXGR": str(a["ctcae_grade"]),
            "AEREL": spec.AE_RELATIONSHIP.get(a["relationship"], ""),
            "AEACN": spec.AE_ACTION.get(action, ""),
            "AEACNOTH": action.replace("_", " ").upper()
            if action in ("infusion_stopped", "other")
            else "",
            "AEOUT": spec.AE_OUTCOME.get(a["outcome"], ""),
            "AESTDTC": iso(a["onset_date"]),
            "AEENDTC": iso(a["end_date"]),
            "AESTDY": _num(ctx.day(sid, a["onset_date"])),
            "AEENDY": _num(ctx.day(sid, a["end_date"])),
            "AEENRF": "ONGOING" if a["ongoing"] else "",
            "_source": a,
        }


def cm(ctx: Context) -> Iterator[Row]:
    for c in ctx.study.by_dataset[datasets.CONMEDS.name]:
        sid = c["subject_id"]
        yield {
            **_base("CM", sid),
            "CMTRT": c["drug"],
            "CMCAT": "RESCUE THERAPY" if c["rescue"] else "CONCOMITANT MEDICATION",
            "CMINDC": c["indication"],
            "CMDOSTXT": c["dose"] or "",
            "CMSTDTC": iso(c["start_date"]),
            "CMENDTC": iso(c["end_date"]),
            "CMSTDY": _num(ctx.day(sid, c["start_date"])),
            "CMENDY": _num(ctx.day(sid, c["end_date"])),
            "_source": c,
        }


def ds(ctx: Context) -> Iterator[Row]:
    visit_dates = {
        (v["subject_id"], v["visit_code"]): v["actual_date"]
        for v in ctx.study.by_dataset[datasets.VISITS.name]
    }

    def event(sid: str, term: str, decod: str, cat: str, scat: str, on: date | None) -> Row:
        return {
            **_base("DS", sid),
            "DSTERM": term,
            "DSDECOD": decod,
            "DSCAT": cat,
            "DSSCAT": scat,
            "DSSTDTC": iso(on),
            "DSSTDY": _num(ctx.day(sid, on)),
        }

    for s in ctx.study.by_dataset[datasets.SUBJECTS.name]:
        sid = s["subject_id"]
        yield event(
            sid,
            "INFORMED CONSENT OBTAINED",
            "INFORMED CONSENT OBTAINED",
            "PROTOCOL MILESTONE",
            "",
            s["consent_date"],
        )
        if s["treatment_discontinued_date"] is not None:
            yield event(
                sid,
                s["treatment_discontinued_reason"] or "TREATMENT DISCONTINUED",
                "PHYSICIAN DECISION",
                "DISPOSITION EVENT",
                "STUDY TREATMENT",
                s["treatment_discontinued_date"],
            )
        if s["status"] == "screen_failed":
            yield event(
                sid,
                "SCREEN FAILURE",
                "SCREEN FAILURE",
                "DISPOSITION EVENT",
                "STUDY PARTICIPATION",
                visit_dates.get((sid, protocol.SCREENING_VISIT_CODE)),
            )
        elif s["status"] == "withdrawn":
            reason = s["withdrawal_reason"]
            yield event(
                sid,
                s.get("withdrawal_detail") or spec.WITHDRAWAL.get(reason, "OTHER"),
                spec.WITHDRAWAL.get(reason, "OTHER"),
                "DISPOSITION EVENT",
                "STUDY PARTICIPATION",
                s["withdrawal_date"],
            )
        elif s["status"] == "completed":
            yield event(
                sid,
                "COMPLETED",
                "COMPLETED",
                "DISPOSITION EVENT",
                "STUDY PARTICIPATION",
                visit_dates.get((sid, protocol.FINAL_VISIT_CODE)),
            )


def dv(ctx: Context) -> Iterator[Row]:
    """Out-of-window and missed visits (the CSV's window_status), dose deviations (its
    dose_deviation), in subject and date order."""
    found: dict[str, list[Row]] = defaultdict(list)
    for v in ctx.study.by_dataset[datasets.VISITS.name]:
        sid, status = v["subject_id"], v["window_status"]
        if status in ("early", "late"):
            term = (
                f"Visit {v['visit_code']} done {status} on {iso(v['actual_date'])}, "
                f"window {iso(v['window_start'])} to {iso(v['window_end'])}"
            )
            decod, on = "VISIT OUT OF WINDOW", v["actual_date"]
        elif status == "missed":
            term = f"Visit {v['visit_code']} missed: {v['missed_reason']}".rstrip(": ")
            decod, on = "MISSED VISIT", v["window_end"]
        else:
            continue
        found[sid].append(
            {
                **_base("DV", sid),
                "DVTERM": term[:200],
                "DVDECOD": decod,
                "DVCAT": "VISIT SCHEDULE",
                **_visit(v["visit_code"]),
                "DVSTDTC": iso(on),
                "DVSTDY": _num(ctx.day(sid, on)),
                "_source": v,
            }
        )
    for i in ctx.study.by_dataset[datasets.INFUSIONS.name]:
        if not i["dose_deviation"]:
            continue
        sid = i["subject_id"]
        found[sid].append(
            {
                **_base("DV", sid),
                "DVTERM": (
                    f"Infusion {i['infusion_number']} dose deviation "
                    f"{format_value(i['deviation_pct'])} % from the planned "
                    f"{i['planned_cells']} cells"
                ),
                "DVDECOD": "DOSE DEVIATION",
                "DVCAT": "STUDY TREATMENT",
                **_visit(protocol.INFUSION_VISIT_CODES[i["infusion_number"]]),
                "DVSTDTC": iso(i["infusion_date"]),
                "DVSTDY": _num(ctx.day(sid, i["infusion_date"])),
                "_source": i,
            }
        )
    for sid in sorted(found):
        yield from sorted(found[sid], key=lambda r: r["DVSTDTC"] or "9999")


def tv(ctx: Context) -> Iterator[Row]:
    planned = planned_days()
    anchors = {
        protocol.ANCHOR_INF1: "infusion 1",
        protocol.ANCHOR_PLANNED_INF1: "the planned date of infusion 1",
        protocol.ANCHOR_PREVIOUS_INFUSION: "the actual date of the previous infusion",
        protocol.ANCHOR_LAST_INFUSION: "the last infusion given",
    }
    for v in protocol.VISITS:
        yield {
            "STUDYID": spec.STUDYID,
            "DOMAIN": "TV",
            "VISITNUM": VISITNUM[v.code],
            "VISIT": str(v.name).upper(),
            "VISITDY": float(planned[v.code]),
            "ARMCD": spec.ARMCD,
            "ARM": spec.ARM,
            "TVSTRL": (f"{anchors[v.anchor]} {v.offset:+d} days, window -{v.minus}/+{v.plus} days"),
        }


BUILDERS = {
    "DM": dm,
    "SV": sv,
    "EX": ex,
    "LB": lb,
    "AE": ae,
    "CM": cm,
    "DS": ds,
    "DV": dv,
    "TV": tv,
}
SEQ = {"EX": "EXSEQ", "LB": "LBSEQ", "AE": "AESEQ", "CM": "CMSEQ", "DS": "DSSEQ", "DV": "DVSEQ"}
# The variable a supplemental qualifier names its parent record by (none for DM).
IDVAR = {**SEQ, "SV": "VISITNUM"}


def _supp_value(value: Any) -> str:
    if isinstance(value, bool):
        return yn(value)
    if isinstance(value, datetime | date | time):
        return iso(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    return "" if value is None else str(value)


def domains(study: source.Study) -> dict[str, list[Row]]:
    """Every SDTM dataset's rows (main domains, TV and the SUPP-- datasets)."""
    ctx = Context(study)
    result: dict[str, list[Row]] = {}
    for name, builder in BUILDERS.items():
        rows = list(builder(ctx))
        seq_var = SEQ.get(name)
        if seq_var:
            counters: dict[str, int] = defaultdict(int)
            for row in rows:
                counters[row["USUBJID"]] += 1
                row[seq_var] = float(counters[row["USUBJID"]])
        result[name] = rows
    for parent, qualifiers in spec.QUALIFIERS.items():
        supp: list[Row] = []
        id_var = IDVAR.get(parent)
        for row in result[parent]:
            src = row.get("_source") or _subject_source(study, row)
            for q in qualifiers:
                column = q.column.split(".", 1)[1]
                if column not in src:
                    continue
                value = _supp_value(src[column])
                if value == "":
                    continue
                supp.append(
                    {
                        "STUDYID": spec.STUDYID,
                        "RDOMAIN": parent,
                        "USUBJID": row["USUBJID"],
                        "IDVAR": id_var or "",
                        "IDVARVAL": str(int(row[id_var])) if id_var else "",
                        "QNAM": q.qnam,
                        "QLABEL": q.qlabel,
                        "QVAL": value,
                        "QORIG": q.origin,
                    }
                )
        result[f"SUPP{parent}"] = supp
    for rows in result.values():
        for row in rows:
            row.pop("_source", None)
    return result


def _subject_source(study: source.Study, row: Row) -> source.Record:
    subject_id = row["USUBJID"].removeprefix(f"{spec.STUDYID}-")
    return study.of(datasets.SUBJECTS.name, subject_id)[0]


def study_domains(*, today: date | None = None) -> dict[str, list[Row]]:
    return domains(source.study_records(today=today or timezone.localdate()))
