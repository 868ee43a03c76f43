"""The SDTM domains as data: variables, labels, types, origins and sources; terminology.

Each variable says where its value comes from (`source`): a column of a CSV dataset
(`dataset.column`), a fixed value, or the protocol configuration. The documentation's
mapping table is generated from these declarations (`mapping_markdown`), so the two
cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

from itp_trial import protocol

STUDYID = protocol.REGISTRY_ID
SDTMIG_VERSION = "3.4"
TEXT, INTEGER, FLOAT, DATE, DATETIME = "text", "integer", "float", "date", "datetime"
COLLECTED, DERIVED, ASSIGNED, PROTOCOL = "Collected", "Derived", "Assigned", "Protocol"


@dataclass(frozen=True)
class Var:
    name: str
    label: str
    type: str
    origin: str
    source: str
    codelist: str = ""  # a key of CODELISTS

    @property
    def numeric(self) -> bool:
        return self.type in (INTEGER, FLOAT)


@dataclass(frozen=True)
class Domain:
    name: str
    label: str
    domain_class: str  # Define-XML def:Class
    structure: str
    keys: tuple[str, ...]
    variables: tuple[Var, ...]
    parent: str = ""  # for a SUPP-- dataset: the domain it qualifies

    @property
    def names(self) -> list[str]:
        return [v.name for v in self.variables]


def _common(domain: str) -> tuple[Var, ...]:
    return (
        Var("STUDYID", "Study Identifier", TEXT, ASSIGNED, f"'{STUDYID}' (protocol.REGISTRY_ID)"),
        Var("DOMAIN", "Domain Abbreviation", TEXT, ASSIGNED, f"'{domain}'"),
        Var(
            "USUBJID",
            "Unique Subject Identifier",
            TEXT,
            DERIVED,
            "STUDYID-subjects.subject_id",
        ),
    )


def _visit(prefix: str = "") -> tuple[Var, ...]:
    return (
        Var(
            "VISITNUM", "Visit Number", FLOAT, ASSIGNED, "position of the visit in protocol.VISITS"
        ),
        Var("VISIT", "Visit Name", TEXT, ASSIGNED, f"{prefix}visit_code: protocol visit name"),
    )


NY = "NY"
CODELISTS: dict[str, tuple[str, tuple[str, ...]]] = {
    NY: ("No Yes Response", ("N", "Y")),
    "SEX": ("Sex", ("F", "M")),
    "AGEU": ("Age Unit", ("YEARS",)),
    "OUT": (
        "Outcome of Event",
        (
            "FATAL",
            "NOT RECOVERED/NOT RESOLVED",
            "RECOVERED/RESOLVED",
            "RECOVERED/RESOLVED WITH SEQUELAE",
            "RECOVERING/RESOLVING",
            "UNKNOWN",
        ),
    ),
    "ACN": (
        "Action Taken with Study Treatment",
        ("DOSE NOT CHANGED", "DRUG INTERRUPTED", "DRUG WITHDRAWN", "NOT APPLICABLE"),
    ),
    "UNIT": ("Unit", ("10^9/L", "YEARS", "cells", "kg")),
    "LBTESTCD": ("Laboratory Test Code", ("PLAT",)),
    "TOXGR": ("Toxicity Grade", ("1", "2", "3", "4", "5")),
    "ROUTE": ("Route of Administration", ("INTRAVENOUS",)),
    "NCOMPLT": (
        "Completion/Reason for Non-Completion",
        (
            "ADVERSE EVENT",
            "COMPLETED",
            "DEATH",
            "LOST TO FOLLOW-UP",
            "OTHER",
            "PHYSICIAN DECISION",
            "SCREEN FAILURE",
            "WITHDRAWAL BY SUBJECT",
        ),
    ),
    "IWG": ("IWG 2009 Response Category", ("CR", "NE", "NR", "R")),
}

# CDISC controlled terminology for the system's codes (protocol section 7).
SEX = {"M": "M", "F": "F"}
AE_OUTCOME = {
    "recovered": "RECOVERED/RESOLVED",
    "recovering": "RECOVERING/RESOLVING",
    "not_recovered": "NOT RECOVERED/NOT RESOLVED",
    "recovered_with_sequelae": "RECOVERED/RESOLVED WITH SEQUELAE",
    "fatal": "FATAL",
    "unknown": "UNKNOWN",
}
AE_ACTION = {
    "none": "DOSE NOT CHANGED",
    "infusion_interrupted": "DRUG INTERRUPTED",
    "infusion_stopped": "DRUG INTERRUPTED",
    "treatment_discontinued": "DRUG WITHDRAWN",
    "other": "NOT APPLICABLE",
}
AE_RELATIONSHIP = {
    "not_related": "NOT RELATED",
    "unlikely": "UNLIKELY RELATED",
    "possible": "POSSIBLY RELATED",
    "probable": "PROBABLY RELATED",
    "definite": "RELATED",
}
SERIOUS_FLAGS = {
    "death": "AESDTH",
    "life_threatening": "AESLIFE",
    "hospitalisation": "AESHOSP",
    "disability": "AESDISAB",
    "congenital_anomaly": "AESCONG",
    "important_medical_event": "AESMIE",
}
WITHDRAWAL = {
    "withdrew_consent": "WITHDRAWAL BY SUBJECT",
    "adverse_event": "ADVERSE EVENT",
    "lost_to_follow_up": "LOST TO FOLLOW-UP",
    "death": "DEATH",
    "investigator_decision": "PHYSICIAN DECISION",
    "other": "OTHER",
}

ARMCD, ARM = "MSC", "MSC 1 x 10^8 cells/kg IV, 5 infusions"

DM = Domain(
    "DM",
    "Demographics",
    "SPECIAL PURPOSE",
    "One record per subject",
    ("STUDYID", "USUBJID"),
    (
        *_common("DM"),
        Var("SUBJID", "Subject Identifier for the Study", TEXT, COLLECTED, "subjects.subject_id"),
        Var(
            "RFSTDTC",
            "Subject Reference Start Date/Time",
            DATE,
            DERIVED,
            "infusions.infusion_date of infusion 1 (study day 1)",
        ),
        Var(
            "RFENDTC",
            "Subject Reference End Date/Time",
            DATE,
            DERIVED,
            "subjects.withdrawal_date, else the last visits.actual_date",
        ),
        Var(
            "RFXSTDTC",
            "Date/Time of First Study Treatment",
            DATE,
            DERIVED,
            "infusions.infusion_date of infusion 1",
        ),
        Var(
            "RFXENDTC",
            "Date/Time of Last Study Treatment",
            DATE,
            DERIVED,
            "infusions.infusion_date of the last infusion given",
        ),
        Var("RFICDTC", "Date/Time of Informed Consent", DATE, COLLECTED, "subjects.consent_date"),
        Var("SITEID", "Study Site Identifier", TEXT, ASSIGNED, "'01' (single centre)"),
        Var("BRTHDTC", "Date/Time of Birth", DATE, COLLECTED, "subjects.birth_date"),
        Var("AGE", "Age", INTEGER, DERIVED, "subjects.age_at_consent"),
        Var("AGEU", "Age Units", TEXT, ASSIGNED, "'YEARS'", "AGEU"),
        Var("SEX", "Sex", TEXT, COLLECTED, "subjects.sex", "SEX"),
        Var(
            "ARMCD",
            "Planned Arm Code",
            TEXT,
            ASSIGNED,
            "'MSC' when enrolled; 'SCRNFAIL' for a screen failure; 'NOTASSGN' before enrolment",
        ),
        Var("ARM", "Description of Planned Arm", TEXT, ASSIGNED, "the arm of ARMCD"),
        Var(
            "ACTARMCD",
            "Actual Arm Code",
            TEXT,
            ASSIGNED,
            "'MSC' once infusion 1 is given; else 'NOTTRT' (or as ARMCD)",
        ),
        Var("ACTARM", "Description of Actual Arm", TEXT, ASSIGNED, "the arm of ACTARMCD"),
        Var("COUNTRY", "Country", TEXT, ASSIGNED, "'CHN'"),
    ),
)

SV = Domain(
    "SV",
    "Subject Visits",
    "SPECIAL PURPOSE",
    "One record per visit per subject",
    ("STUDYID", "USUBJID", "VISITNUM"),
    (
        *_common("SV"),
        *_visit("visits."),
        Var("VISITDY", "Planned Study Day of Visit", INTEGER, PROTOCOL, "TV.VISITDY"),
        Var("SVSTDTC", "Start Date/Time of Visit", DATE, COLLECTED, "visits.actual_date"),
        Var("SVENDTC", "End Date/Time of Visit", DATE, COLLECTED, "visits.actual_date"),
        Var("SVSTDY", "Study Day of Start of Visit", INTEGER, DERIVED, "visits.study_day"),
        Var("SVENDY", "Study Day of End of Visit", INTEGER, DERIVED, "visits.study_day"),
    ),
)

EX = Domain(
    "EX",
    "Exposure",
    "INTERVENTIONS",
    "One record per infusion per subject",
    ("STUDYID", "USUBJID", "EXTRT", "EXSTDTC"),
    (
        *_common("EX"),
        Var("EXSEQ", "Sequence Number", INTEGER, DERIVED, "infusion order per subject"),
        Var("EXSPID", "Sponsor-Defined Identifier", TEXT, COLLECTED, "infusions.infusion_number"),
        Var("EXTRT", "Name of Treatment", TEXT, ASSIGNED, "'MESENCHYMAL STEM CELLS'"),
        Var("EXDOSE", "Dose", FLOAT, COLLECTED, "infusions.actual_cells"),
        Var("EXDOSU", "Dose Units", TEXT, ASSIGNED, "'cells' (sponsor unit)", "UNIT"),
        Var("EXDOSFRM", "Dose Form", TEXT, ASSIGNED, "'SUSPENSION'"),
        Var("EXROUTE", "Route of Administration", TEXT, ASSIGNED, "'INTRAVENOUS'", "ROUTE"),
        Var("EXLOT", "Lot Number", TEXT, COLLECTED, "infusions.lot_number"),
        Var(
            "EXSTDTC",
            "Start Date/Time of Treatment",
            DATETIME,
            COLLECTED,
            "infusions.infusion_date + infusions.start_time",
        ),
        Var(
            "EXENDTC",
            "End Date/Time of Treatment",
            DATETIME,
            COLLECTED,
            "infusions.infusion_date + infusions.end_time",
        ),
        Var("EXSTDY", "Study Day of Start of Treatment", INTEGER, DERIVED, "study day of EXSTDTC"),
        *_visit(),
    ),
)

LB = Domain(
    "LB",
    "Laboratory Test Results",
    "FINDINGS",
    "One record per platelet count per subject",
    ("STUDYID", "USUBJID", "LBTESTCD", "LBDTC"),
    (
        *_common("LB"),
        Var("LBSEQ", "Sequence Number", INTEGER, DERIVED, "sample order per subject"),
        Var("LBTESTCD", "Lab Test or Examination Short Name", TEXT, ASSIGNED, "'PLAT'", "LBTESTCD"),
        Var("LBTEST", "Lab Test or Examination Name", TEXT, ASSIGNED, "'Platelets'"),
        Var("LBCAT", "Category for Lab Test", TEXT, ASSIGNED, "'HEMATOLOGY'"),
        Var(
            "LBORRES",
            "Result or Finding in Original Units",
            TEXT,
            COLLECTED,
            "platelets.platelets_10e9_l",
        ),
        Var("LBORRESU", "Original Units", TEXT, ASSIGNED, "'10^9/L'", "UNIT"),
        Var(
            "LBSTRESC",
            "Character Result/Finding in Std Format",
            TEXT,
            DERIVED,
            "platelets.platelets_10e9_l",
        ),
        Var(
            "LBSTRESN",
            "Numeric Result/Finding in Standard Units",
            FLOAT,
            DERIVED,
            "platelets.platelets_10e9_l",
        ),
        Var("LBSTRESU", "Standard Units", TEXT, ASSIGNED, "'10^9/L'", "UNIT"),
        Var(
            "LBBLFL",
            "Baseline Flag",
            TEXT,
            DERIVED,
            "'Y' on the count that is subjects.baseline_platelets (last on or before day 1)",
            NY,
        ),
        *_visit("platelets."),
        Var("LBDTC", "Date/Time of Specimen Collection", DATE, COLLECTED, "platelets.sample_date"),
        Var("LBDY", "Study Day of Specimen Collection", INTEGER, DERIVED, "platelets.study_day"),
    ),
)

AE = Domain(
    "AE",
    "Adverse Events",
    "EVENTS",
    "One record per adverse event per subject",
    ("STUDYID", "USUBJID", "AETERM", "AESTDTC"),
    (
        *_common("AE"),
        Var("AESEQ", "Sequence Number", INTEGER, DERIVED, "adverse_events.ae_number order"),
        Var("AESPID", "Sponsor-Defined Identifier", TEXT, COLLECTED, "adverse_events.ae_number"),
        Var(
            "AETERM", "Reported Term for the Adverse Event", TEXT, COLLECTED, "adverse_events.term"
        ),
        Var(
            "AEDECOD",
            "Dictionary-Derived Term",
            TEXT,
            COLLECTED,
            f"adverse_events.term (a CTCAE v{protocol.CTCAE_VERSION} term)",
        ),
        Var("AESER", "Serious Event", TEXT, COLLECTED, "adverse_events.serious", NY),
        *(
            Var(flag, label, TEXT, COLLECTED, f"adverse_events.serious_criteria has '{code}'", NY)
            for code, flag, label in (
                ("death", "AESDTH", "Results in Death"),
                ("life_threatening", "AESLIFE", "Is Life Threatening"),
                ("hospitalisation", "AESHOSP", "Requires or Prolongs Hospitalization"),
                ("disability", "AESDISAB", "Persist or Signif Disability/Incapacity"),
                ("congenital_anomaly", "AESCONG", "Congenital Anomaly or Birth Defect"),
                ("important_medical_event", "AESMIE", "Other Medically Important Serious Event"),
            )
        ),
        Var(
            "AETOXGR",
            "Standard Toxicity Grade",
            TEXT,
            COLLECTED,
            "adverse_events.ctcae_grade",
            "TOXGR",
        ),
        Var("AEREL", "Causality", TEXT, COLLECTED, "adverse_events.relationship"),
        Var(
            "AEACN",
            "Action Taken with Study Treatment",
            TEXT,
            COLLECTED,
            "adverse_events.action_taken",
            "ACN",
        ),
        Var(
            "AEACNOTH",
            "Other Action Taken",
            TEXT,
            COLLECTED,
            "adverse_events.action_taken (stopped, other)",
        ),
        Var("AEOUT", "Outcome of Adverse Event", TEXT, COLLECTED, "adverse_events.outcome", "OUT"),
        Var(
            "AESTDTC",
            "Start Date/Time of Adverse Event",
            DATE,
            COLLECTED,
            "adverse_events.onset_date",
        ),
        Var(
            "AEENDTC", "End Date/Time of Adverse Event", DATE, COLLECTED, "adverse_events.end_date"
        ),
        Var(
            "AESTDY",
            "Study Day of Start of Adverse Event",
            INTEGER,
            DERIVED,
            "study day of AESTDTC",
        ),
        Var(
            "AEENDY", "Study Day of End of Adverse Event", INTEGER, DERIVED, "study day of AEENDTC"
        ),
        Var(
            "AEENRF",
            "End Relative to Reference Period",
            TEXT,
            COLLECTED,
            "'ONGOING' when adverse_events.ongoing",
        ),
    ),
)

CM = Domain(
    "CM",
    "Concomitant/Prior Medications",
    "INTERVENTIONS",
    "One record per medication per subject",
    ("STUDYID", "USUBJID", "CMTRT", "CMSTDTC"),
    (
        *_common("CM"),
        Var("CMSEQ", "Sequence Number", INTEGER, DERIVED, "start order per subject"),
        Var("CMTRT", "Reported Name of Drug, Med, or Therapy", TEXT, COLLECTED, "conmeds.drug"),
        Var(
            "CMCAT",
            "Category for Medication",
            TEXT,
            COLLECTED,
            "'RESCUE THERAPY' when conmeds.rescue, else 'CONCOMITANT MEDICATION'",
        ),
        Var("CMINDC", "Indication", TEXT, COLLECTED, "conmeds.indication"),
        Var("CMDOSTXT", "Dose Description", TEXT, COLLECTED, "conmeds.dose"),
        Var("CMSTDTC", "Start Date/Time of Medication", DATE, COLLECTED, "conmeds.start_date"),
        Var("CMENDTC", "End Date/Time of Medication", DATE, COLLECTED, "conmeds.end_date"),
        Var("CMSTDY", "Study Day of Start of Medication", INTEGER, DERIVED, "study day of CMSTDTC"),
        Var("CMENDY", "Study Day of End of Medication", INTEGER, DERIVED, "study day of CMENDTC"),
    ),
)

DS = Domain(
    "DS",
    "Disposition",
    "EVENTS",
    "One record per disposition status or protocol milestone per subject",
    ("STUDYID", "USUBJID", "DSDECOD", "DSSTDTC"),
    (
        *_common("DS"),
        Var("DSSEQ", "Sequence Number", INTEGER, DERIVED, "event order per subject"),
        Var(
            "DSTERM",
            "Reported Term for the Disposition Event",
            TEXT,
            COLLECTED,
            "consent; subjects.status; subjects.withdrawal_reason/_detail; "
            "subjects.treatment_discontinued_reason",
        ),
        Var("DSDECOD", "Standardized Disposition Term", TEXT, DERIVED, "as DSTERM, CDISC terms"),
        Var(
            "DSCAT",
            "Category for Disposition Event",
            TEXT,
            ASSIGNED,
            "PROTOCOL MILESTONE or DISPOSITION EVENT",
        ),
        Var(
            "DSSCAT",
            "Subcategory for Disposition Event",
            TEXT,
            ASSIGNED,
            "STUDY PARTICIPATION or STUDY TREATMENT",
        ),
        Var(
            "DSSTDTC",
            "Start Date/Time of Disposition Event",
            DATE,
            COLLECTED,
            "subjects.consent_date, withdrawal_date, treatment_discontinued_date; "
            "V1 date (screen failure); V5-M12 date (completed)",
        ),
        Var(
            "DSSTDY",
            "Study Day of Start of Disposition Event",
            INTEGER,
            DERIVED,
            "study day of DSSTDTC",
        ),
    ),
)

DV = Domain(
    "DV",
    "Protocol Deviations",
    "EVENTS",
    "One record per protocol deviation per subject",
    ("STUDYID", "USUBJID", "DVTERM", "DVSTDTC"),
    (
        *_common("DV"),
        Var("DVSEQ", "Sequence Number", INTEGER, DERIVED, "deviation order per subject"),
        Var(
            "DVTERM",
            "Protocol Deviation Term",
            TEXT,
            DERIVED,
            "visits.window_status early/late/missed (with the window); infusions.deviation_pct",
        ),
        Var(
            "DVDECOD",
            "Protocol Deviation Coded Term",
            TEXT,
            DERIVED,
            "VISIT OUT OF WINDOW, MISSED VISIT or DOSE DEVIATION",
        ),
        Var(
            "DVCAT",
            "Category for Protocol Deviation",
            TEXT,
            ASSIGNED,
            "VISIT SCHEDULE or STUDY TREATMENT",
        ),
        *_visit("visits."),
        Var(
            "DVSTDTC",
            "Start Date/Time of Deviation",
            DATE,
            DERIVED,
            "visits.actual_date (out of window), visits.window_end (missed), "
            "infusions.infusion_date (dose)",
        ),
        Var("DVSTDY", "Study Day of Start of Deviation", INTEGER, DERIVED, "study day of DVSTDTC"),
    ),
)

TV = Domain(
    "TV",
    "Trial Visits",
    "TRIAL DESIGN",
    "One record per planned visit per arm",
    ("STUDYID", "ARMCD", "VISITNUM"),
    (
        Var("STUDYID", "Study Identifier", TEXT, ASSIGNED, f"'{STUDYID}'"),
        Var("DOMAIN", "Domain Abbreviation", TEXT, ASSIGNED, "'TV'"),
        Var("VISITNUM", "Visit Number", FLOAT, PROTOCOL, "position in protocol.VISITS"),
        Var("VISIT", "Visit Name", TEXT, PROTOCOL, "protocol.VISITS name"),
        Var(
            "VISITDY",
            "Planned Study Day of Visit",
            INTEGER,
            PROTOCOL,
            "protocol.VISITS offsets chained on time (no day 0)",
        ),
        Var("ARMCD", "Planned Arm Code", TEXT, ASSIGNED, "'MSC'"),
        Var("ARM", "Description of Planned Arm", TEXT, ASSIGNED, "the arm"),
        Var("TVSTRL", "Visit Start Rule", TEXT, PROTOCOL, "protocol.VISITS anchor, offset, window"),
    ),
)


def _supp(parent: str, label: str) -> Domain:
    return Domain(
        f"SUPP{parent}",
        f"Supplemental Qualifiers for {parent}",
        "RELATIONSHIP",
        "One record per supplemental qualifier per parent record",
        ("STUDYID", "RDOMAIN", "USUBJID", "IDVAR", "IDVARVAL", "QNAM"),
        (
            Var("STUDYID", "Study Identifier", TEXT, ASSIGNED, f"'{STUDYID}'"),
            Var("RDOMAIN", "Related Domain Abbreviation", TEXT, ASSIGNED, f"'{parent}'"),
            Var("USUBJID", "Unique Subject Identifier", TEXT, DERIVED, f"{parent}.USUBJID"),
            Var(
                "IDVAR",
                "Identifying Variable",
                TEXT,
                ASSIGNED,
                f"'{parent}SEQ', 'VISITNUM' for SV, empty for DM",
            ),
            Var("IDVARVAL", "Identifying Variable Value", TEXT, DERIVED, "the value of IDVAR"),
            Var("QNAM", "Qualifier Variable Name", TEXT, ASSIGNED, "see QUALIFIERS"),
            Var("QLABEL", "Qualifier Variable Label", TEXT, ASSIGNED, "see QUALIFIERS"),
            Var("QVAL", "Data Value", TEXT, DERIVED, "see QUALIFIERS"),
            Var("QORIG", "Origin", TEXT, ASSIGNED, "Collected or Derived"),
        ),
        parent=parent,
    )


@dataclass(frozen=True)
class Qualifier:
    qnam: str
    qlabel: str
    column: str  # dataset.column it is read from
    origin: str


# Supplemental qualifiers: the derived (and collected) CSV values no standard variable
# holds. The IWG category of each platelet count is here, in SUPPLB (not a response
# dataset), with whether the count is evaluable.
QUALIFIERS: dict[str, tuple[Qualifier, ...]] = {
    "DM": (
        Qualifier("SCRNUM", "Screening Number", "subjects.screening_number", COLLECTED),
        Qualifier("STATUS", "Participant Status", "subjects.status", DERIVED),
        Qualifier("BASEPLT", "Baseline Platelets (10^9/L)", "subjects.baseline_platelets", DERIVED),
        Qualifier(
            "BESTRESP", "Best Overall Response (IWG 2009)", "subjects.best_response", DERIVED
        ),
        Qualifier("TTRDAYS", "Time to Response (days)", "subjects.time_to_response_days", DERIVED),
        Qualifier("RSPLOSDT", "Response Lost On", "subjects.response_lost_on", DERIVED),
        Qualifier(
            "RSPDURDY", "Duration of Response (days)", "subjects.response_duration_days", DERIVED
        ),
        Qualifier("ENROLDT", "Enrolment Date", "subjects.enrolled_on", DERIVED),
        Qualifier(
            "PLINF1DT",
            "Planned Date of Infusion 1",
            "subjects.planned_first_infusion_date",
            COLLECTED,
        ),
    ),
    "SV": (
        Qualifier("TARGDT", "Target Date", "visits.target_date", DERIVED),
        Qualifier("WINSTDT", "Window Start", "visits.window_start", DERIVED),
        Qualifier("WINENDT", "Window End", "visits.window_end", DERIVED),
        Qualifier("WINSTAT", "Window Status", "visits.window_status", DERIVED),
    ),
    "EX": (
        Qualifier("DOSWT", "Dosing Weight (kg)", "infusions.dosing_weight_kg", COLLECTED),
        Qualifier("DOSEPKG", "Protocol Dose per kg (cells/kg)", "infusions.dose_per_kg", DERIVED),
        Qualifier("PLANCELL", "Planned Cells", "infusions.planned_cells", DERIVED),
        Qualifier("DEVPCT", "Deviation from Planned Dose (%)", "infusions.deviation_pct", DERIVED),
        Qualifier("DOSEDEV", "Dose Deviation", "infusions.dose_deviation", DERIVED),
        Qualifier("VIABPCT", "Viability (%)", "infusions.viability_pct", COLLECTED),
        Qualifier("VOLML", "Volume (mL)", "infusions.volume_ml", COLLECTED),
        Qualifier("INTERR", "Infusion Interrupted", "infusions.interrupted", COLLECTED),
        Qualifier("REACT", "Infusion Reaction", "infusions.reaction", COLLECTED),
    ),
    "LB": (
        Qualifier("IWGCAT", "IWG 2009 Response Category", "platelets.category", DERIVED),
        Qualifier("EVALFL", "Evaluable for Response", "platelets.evaluable", DERIVED),
        Qualifier("WHOBLGR", "WHO Bleeding Grade", "platelets.who_bleeding_grade", COLLECTED),
    ),
    "AE": (
        Qualifier(
            "AETRTEM", "Treatment Emergent Flag", "adverse_events.treatment_emergent", DERIVED
        ),
        Qualifier(
            "RELINF", "Related Infusion Number", "adverse_events.related_infusion", COLLECTED
        ),
        Qualifier(
            "AWAREDTC", "Date/Time Site Became Aware", "adverse_events.awareness_at", COLLECTED
        ),
        Qualifier("REPDTC", "Date/Time SAE Reported", "adverse_events.reported_at", COLLECTED),
        Qualifier("REPDUDTC", "Date/Time SAE Report Due", "adverse_events.report_due_at", DERIVED),
    ),
}

MAIN: tuple[Domain, ...] = (DM, SV, EX, LB, AE, CM, DS, DV, TV)
SUPP: tuple[Domain, ...] = tuple(_supp(name, name) for name in QUALIFIERS)
DOMAINS: tuple[Domain, ...] = MAIN + SUPP
DOMAINS_BY_NAME = {d.name: d for d in DOMAINS}


def mapping_markdown() -> str:
    """The mapping table of the documentation: where each SDTM variable comes from."""
    lines = []
    for domain in MAIN:
        lines += [
            f"### {domain.name}: {domain.label}",
            "",
            f"{domain.structure}.",
            "",
            "| variable | label | type | origin | source |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {v.name} | {v.label} | {v.type} | {v.origin} | {v.source} |"
            for v in domain.variables
        ]
        qualifiers = QUALIFIERS.get(domain.name, ())
        if qualifiers:
            lines += [
                "",
                f"Supplemental qualifiers (SUPP{domain.name}, one row per parent record and "
                "qualifier, when the value is not empty):",
                "",
                "| QNAM | QLABEL | origin | source |",
                "|---|---|---|---|",
            ]
            lines += [f"| {q.qnam} | {q.qlabel} | {q.origin} | {q.column} |" for q in qualifiers]
        lines.append("")
    return "\n".join(lines)
