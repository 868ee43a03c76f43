"""The protocol configuration: every number of the specification a study team could change.

The logic of the system reads these values; none of them is repeated elsewhere. Values the
public registry text does not state are marked (assumed) and listed in the README for the
study team to confirm against the full protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.utils.translation import gettext_lazy as _

from itp_trial.text import interpolated as _interpolated

REGISTRY_ID = "NCT06813157"
STUDY_TITLE = _("Mesenchymal stem cells in refractory primary immune thrombocytopenia")

# Anchors a visit's target can hang on (protocol section 1).
ANCHOR_INF1 = "inf1"  # actual date of infusion 1, else its planned date
ANCHOR_PREVIOUS_INFUSION = "previous_infusion"  # actual date of infusion n-1, else its target
ANCHOR_PLANNED_INF1 = "planned_inf1"  # the planned date set at enrolment
ANCHOR_LAST_INFUSION = "last_infusion"  # infusion 5, or the last given when discontinued

KIND_SCREENING = "screening"
KIND_BASELINE = "baseline"
KIND_INFUSION = "infusion"
KIND_END_OF_TREATMENT = "end_of_treatment"
KIND_FOLLOW_UP = "follow_up"


@dataclass(frozen=True)
class VisitDefinition:
    code: str
    name: str
    anchor: str
    offset: int
    minus: int
    plus: int
    kind: str
    infusion_number: int | None = None


VISITS: tuple[VisitDefinition, ...] = (
    VisitDefinition("V1", _("Screening"), ANCHOR_INF1, -14, 14, 13, KIND_SCREENING),  # (assumed)
    VisitDefinition("V2", _("Baseline"), ANCHOR_INF1, -1, 6, 1, KIND_BASELINE),  # (assumed)
    VisitDefinition("V3-INF1", _("Infusion 1"), ANCHOR_PLANNED_INF1, 0, 0, 7, KIND_INFUSION, 1),
    VisitDefinition(
        "V3-INF2", _("Infusion 2"), ANCHOR_PREVIOUS_INFUSION, 7, 1, 1, KIND_INFUSION, 2
    ),
    VisitDefinition(
        "V3-INF3", _("Infusion 3"), ANCHOR_PREVIOUS_INFUSION, 14, 3, 3, KIND_INFUSION, 3
    ),
    VisitDefinition(
        "V3-INF4", _("Infusion 4"), ANCHOR_PREVIOUS_INFUSION, 14, 3, 3, KIND_INFUSION, 4
    ),
    VisitDefinition(
        "V3-INF5", _("Infusion 5"), ANCHOR_PREVIOUS_INFUSION, 14, 3, 3, KIND_INFUSION, 5
    ),
    # (assumed) the registry skips V4; here it is the end-of-treatment visit.
    VisitDefinition(
        "V4", _("End of treatment"), ANCHOR_LAST_INFUSION, 0, 0, 3, KIND_END_OF_TREATMENT
    ),
    VisitDefinition(
        "V5-D14", _("Follow-up day 14"), ANCHOR_LAST_INFUSION, 14, 3, 3, KIND_FOLLOW_UP
    ),
    VisitDefinition(
        "V5-M1", _("Follow-up month 1"), ANCHOR_LAST_INFUSION, 30, 7, 7, KIND_FOLLOW_UP
    ),
    VisitDefinition(
        "V5-M2", _("Follow-up month 2"), ANCHOR_LAST_INFUSION, 60, 7, 7, KIND_FOLLOW_UP
    ),
    VisitDefinition(
        "V5-M3", _("Follow-up month 3"), ANCHOR_LAST_INFUSION, 90, 7, 7, KIND_FOLLOW_UP
    ),
    VisitDefinition(
        "V5-M6", _("Follow-up month 6"), ANCHOR_LAST_INFUSION, 180, 14, 14, KIND_FOLLOW_UP
    ),
    VisitDefinition(
        "V5-M9", _("Follow-up month 9"), ANCHOR_LAST_INFUSION, 270, 14, 14, KIND_FOLLOW_UP
    ),
    VisitDefinition(
        "V5-M12", _("Follow-up month 12"), ANCHOR_LAST_INFUSION, 365, 14, 14, KIND_FOLLOW_UP
    ),
)
VISITS_BY_CODE: dict[str, VisitDefinition] = {v.code: v for v in VISITS}
SCREENING_VISIT_CODE = next(v.code for v in VISITS if v.kind == KIND_SCREENING)
VISIT_CODES: tuple[str, ...] = tuple(v.code for v in VISITS)
VISIT_ORDER: dict[str, int] = {code: i for i, code in enumerate(VISIT_CODES)}
INFUSION_COUNT = 5
INFUSION_VISIT_CODES: dict[int, str] = {
    v.infusion_number: v.code for v in VISITS if v.infusion_number is not None
}
FINAL_VISIT_CODE = "V5-M12"
# Early discontinuation: these visits hang on the discontinuation date instead of the last
# infusion given, code -> (offset, minus, plus) in days (assumed: V4 on the day, +7).
DISCONTINUATION_WINDOWS: dict[str, tuple[int, int, int]] = {"V4": (0, 0, 7)}
UNSCHEDULED_VISIT_CODE = "UNS"

# Section 2: dose.
DOSE_PER_KG = Decimal("100000000")  # 1 x 10^8 MSC per kg, as the registry states it
DOSE_TOLERANCE_PCT = Decimal("10")  # (assumed) |deviation| above this is a dose deviation
DOSING_WEIGHT_MIN_KG = Decimal("10.0")  # (assumed) a 4-year-old at the low end
DOSING_WEIGHT_MAX_KG = Decimal("200.0")
VIABILITY_MIN_PCT = Decimal("0")
VIABILITY_MAX_PCT = Decimal("100")
INFUSION_VOLUME_MAX_ML = Decimal("1000")

# Section 3: eligibility and enrolment.
SUBJECT_ID_FORMAT = "ITP-{:03d}"  # allocated in sequence at screening
SCREENING_NUMBER_FORMAT = "SCR-{:03d}"
AGE_MIN_YEARS = 4
AGE_MAX_YEARS = 75
ADULT_AGE_YEARS = 18  # under this, guardian consent and child assent are required
ENROLMENT_CAP = 40
ITP_MIN_DURATION_MONTHS = 3  # I3: thrombocytopenia for more than this at consent
MAINTENANCE_STABLE_WEEKS = 4  # I4: a maintenance dose stable for at least this long
OTHER_TRIAL_WASHOUT_MONTHS = 3  # E6: no other interventional trial within this


@dataclass(frozen=True)
class Criterion:
    code: str
    text: str
    required_answer: bool  # True for inclusion (must be met), False for exclusion
    to_confirm: bool = False  # not public: to be confirmed against the full protocol


INCLUSION_CRITERIA: tuple[Criterion, ...] = (
    Criterion(
        "I1",
        _interpolated(
            _("Informed consent signed (guardian consent and child assent under %(adult)s)"),
            adult=ADULT_AGE_YEARS,
        ),
        True,
    ),
    Criterion(
        "I2",
        _interpolated(
            _("Aged %(low)s to %(high)s inclusive at consent (computed from the birth date)"),
            low=AGE_MIN_YEARS,
            high=AGE_MAX_YEARS,
        ),
        True,
    ),
    Criterion(
        "I3",
        _interpolated(
            _(
                "Primary ITP with thrombocytopenia for more than %(months)s months, refractory: "
                "failed first-line therapy, second-line platelet-raising drugs and rituximab, "
                "or failed or relapsed after splenectomy"
            ),
            months=ITP_MIN_DURATION_MONTHS,
        ),
        True,
    ),
    Criterion(
        "I4",
        _interpolated(
            _(
                "Any maintenance therapy at a dose stable for at least %(weeks)s weeks and kept "
                "unchanged during the trial"
            ),
            weeks=MAINTENANCE_STABLE_WEEKS,
        ),
        True,
    ),
    Criterion("I5", _("Adequate liver and kidney function at screening"), True),
)
EXCLUSION_CRITERIA: tuple[Criterion, ...] = (
    Criterion("E1", _("Pregnancy or lactation"), False, True),
    Criterion("E2", _("Active HBV, HCV or HIV infection, or uncontrolled infection"), False, True),
    Criterion("E3", _("Malignancy"), False, True),
    Criterion("E4", _("Severe heart, lung, liver or kidney disease"), False, True),
    Criterion("E5", _("Prior stem-cell therapy"), False, True),
    Criterion(
        "E6",
        _interpolated(
            _("Another interventional trial within %(months)s months"),
            months=OTHER_TRIAL_WASHOUT_MONTHS,
        ),
        False,
        True,
    ),
    Criterion("E7", _("Allergy to components of the product"), False, True),
    # (assumed) the eighth exclusion is not public; a placeholder the team must replace.
    Criterion(
        "E8",
        _("Any condition that in the investigator's judgement makes participation unsafe"),
        False,
        True,
    ),
)
CRITERIA: tuple[Criterion, ...] = INCLUSION_CRITERIA + EXCLUSION_CRITERIA
CRITERIA_BY_CODE: dict[str, Criterion] = {c.code: c for c in CRITERIA}
AGE_CRITERION_CODE = "I2"

# Section 4: efficacy.
PLATELET_MIN = 0  # 10^9/L
PLATELET_MAX = 2000
WHO_BLEEDING_MIN = 0
WHO_BLEEDING_MAX = 4
BLEEDING_PRESENT_FROM_GRADE = 1
# Whether a platelet count needs its WHO bleeding grade: at a scheduled visit the grade is
# assessed with the count; an unscheduled result (a hospital lab between visits) may come
# without one. Read by visits.services.fields.bleeding_grade_error for every entry path.
WHO_GRADE_REQUIRED_SCHEDULED = True
WHO_GRADE_REQUIRED_UNSCHEDULED = False
# What each WHO bleeding grade means, shown with the grade wherever it is entered.
WHO_BLEEDING_GRADES: dict[int, object] = {
    0: _("No bleeding"),
    1: _("Petechiae"),
    2: _("Mild blood loss"),
    3: _("Gross blood loss"),
    4: _("Debilitating blood loss: retinal or cerebral, or fatal"),
}
CR_PLATELETS = 100  # count >= this and no bleeding
R_PLATELETS = 30  # count >= this, at least R_BASELINE_FACTOR x baseline, no bleeding
R_BASELINE_FACTOR = 2
RESCUE_NOT_EVALUABLE_DAYS = 28  # from the rescue start to this many days after, inclusive
CONFIRMATION_DAYS = 7  # a run of responses must span at least this many days
LOSS_OF_RESPONSE_APART_DAYS = 1  # two assessments below the criteria, at least this apart

# Section 5: safety.
CTCAE_VERSION = "5.0"
CTCAE_GRADE_MIN = 1
CTCAE_GRADE_MAX = 5
CTCAE_GRADES: dict[int, object] = {
    1: _("Mild"),
    2: _("Moderate"),
    3: _("Severe"),
    4: _("Life-threatening"),
    5: _("Death"),
}
SAE_REPORT_HOURS = 24

# Range checks for numbers entered at visits (sized for children as well as adults).
VITAL_RANGES: dict[str, tuple[Decimal, Decimal]] = {
    "systolic_bp": (Decimal("50"), Decimal("250")),  # mmHg
    "diastolic_bp": (Decimal("20"), Decimal("150")),  # mmHg
    "heart_rate": (Decimal("30"), Decimal("220")),  # beats/min
    "respiratory_rate": (Decimal("8"), Decimal("60")),  # breaths/min
    "temperature_c": (Decimal("34.0"), Decimal("42.5")),  # degrees Celsius
}
WEIGHT_RANGE_KG = (DOSING_WEIGHT_MIN_KG, DOSING_WEIGHT_MAX_KG)
HEIGHT_RANGE_CM = (Decimal("80"), Decimal("230"))

# Section 6: background checks.
CHECKS_HOURLY_MINUTE = 5  # the hourly run, at this minute past each hour
CHECKS_NIGHTLY_HOUR = 2  # the nightly full pass and digest, at this hour (site time)
WORKLIST_DUE_DAYS = 14  # the worklist shows visits due within this many days
# The widest visit window (its last day minus its first), over the windows the schedule
# gives (VISITS and DISCONTINUATION_WINDOWS): a window open today started at most this many
# days ago, which bounds the worklist's read of the windows open now.
WINDOW_DAYS_MAX = max(
    [definition.minus + definition.plus for definition in VISITS]
    + [minus + plus for _offset, minus, plus in DISCONTINUATION_WINDOWS.values()]
)

# Investigator signature (protocol section 8, 21 CFR 11.50): the meanings an investigator
# may give a signature, as code and the sentence shown with it. A study team may change them.
SIGNATURE_MEANINGS: tuple[tuple[str, str], ...] = (
    ("review", _("I have reviewed this participant's casebook and it is complete and accurate")),
    ("approval", _("I approve this participant's casebook data as the investigator responsible")),
    ("responsibility", _("I take responsibility for this participant's data as entered")),
)
SIGNATURE_MEANING_TEXT = dict(SIGNATURE_MEANINGS)
