"""The demo trial's scenario: the demo users and one course per participant, as data.

A course says what happens to a participant (age, weight, eligibility, the platelet
counts as a function of the study day, shifted visits, skipped infusions, adverse events,
rescue, withdrawal). `demo.seed` plays the courses through the services.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from itp_trial import roles

DEMO_PASSWORD = "demo-ITP-2026"
DEMO_USERS = (
    ("coordinator", roles.COORDINATOR, "Chen", "Li"),
    ("investigator", roles.INVESTIGATOR, "Wang", "Fang"),
    ("monitor", roles.MONITOR, "Zhao", "Min"),
    ("datamanager", roles.DATA_MANAGER, "Liu", "Yang"),
)


@dataclass
class AdverseEventPlan:
    term: str
    day: int  # study day of onset
    grade: int
    relationship: str
    duration: int | None = 3  # None: ongoing
    serious_criteria: tuple[str, ...] = ()
    outcome: str = "recovered"
    reported_after_hours: float | None = 6  # None: not reported yet
    infusion: int | None = None
    action: str = "none"


@dataclass
class Course:
    subject_id: str
    sex: str
    age: int
    inf1_days_ago: int | None  # None: not yet planned; negative: planned in the future
    weight: Decimal = Decimal("62.0")
    failed: tuple[str, ...] = ()  # criteria answered against the participant
    eligibility_done: bool = True
    infusions: int = 5  # how many are given (those due before today)
    shifts: dict[str, int] = field(default_factory=dict)  # visit code -> days off target
    dose_factor: dict[int, Decimal] = field(default_factory=dict)  # infusion -> actual/planned
    missed: dict[str, str] = field(default_factory=dict)
    skip: tuple[str, ...] = ()  # visits left unentered (they go overdue)
    platelets: Callable[[int], int] = lambda day: 18
    bleeding: Callable[[int], int] = lambda day: 0
    discontinue_after: int | None = None  # after this infusion; 0: before infusion 1
    discontinue_delay: int = 0  # days from that infusion (or planned infusion 1) to it
    discontinue_reason: str = ""
    withdraw_day: int | None = None
    withdraw_reason: str = ""
    adverse_events: tuple[AdverseEventPlan, ...] = ()
    rescue_day: int | None = None
    reaction_at: int | None = None


def _responder(peak: int, onset: int = 20) -> Callable[[int], int]:
    return lambda day: 15 if day <= 1 else min(peak, 15 + (peak - 15) * day // max(onset, 1))


COURSES: tuple[Course, ...] = (
    # A complete response that is lost after month 6 (two low counts, months 9 and 12).
    Course(
        "ITP-001",
        "F",
        41,
        420,
        platelets=lambda day: 25 if day > 250 else _responder(140, 30)(day),
    ),
    Course("ITP-002", "M", 58, 300, platelets=_responder(75, 40), shifts={"V5-M2": 9}),
    Course(
        "ITP-003",
        "F",
        29,
        200,
        platelets=_responder(180, 20),
        adverse_events=(
            AdverseEventPlan(
                "Pneumonia", 60, 3, "unlikely", 9, ("hospitalisation",), reported_after_hours=20
            ),
        ),
    ),
    Course(
        "ITP-004",
        "M",
        67,
        150,
        platelets=lambda day: 12 if day < 50 or day > 70 else 22,
        bleeding=lambda day: 1 if day in range(40, 60) else 0,
        rescue_day=45,
        missed={"V5-M1": "Participant travelling; could not attend"},
        adverse_events=(AdverseEventPlan("Epistaxis", 44, 2, "not_related", 2),),
    ),
    Course(
        "ITP-005",
        "F",
        9,
        120,
        weight=Decimal("28.5"),
        platelets=_responder(95, 25),
        dose_factor={2: Decimal("0.85")},
    ),
    Course(
        "ITP-006",
        "M",
        36,
        90,
        platelets=_responder(60, 30),
        discontinue_after=3,
        discontinue_delay=1,  # D14 and the rest still hang on infusion 3
        discontinue_reason="Grade 3 infusion reaction at infusion 3",
        reaction_at=3,
        adverse_events=(
            AdverseEventPlan(
                "Infusion related reaction",
                22,
                3,
                "probable",
                1,
                infusion=3,
                action="infusion_stopped",
            ),
        ),
    ),
    Course(
        "ITP-007",
        "F",
        52,
        70,
        platelets=_responder(45, 30),
        skip=("V5-D14",),
        adverse_events=(
            AdverseEventPlan(
                "Deep vein thrombosis",
                66,
                3,
                "possible",
                None,
                ("hospitalisation",),
                outcome="recovering",
                reported_after_hours=None,
            ),
            AdverseEventPlan("Headache", 2, 1, "possible", 1, infusion=1),
        ),
    ),
    Course(
        "ITP-008",
        "M",
        24,
        45,
        platelets=_responder(110, 15),
        shifts={"V3-INF3": 2},
        withdraw_day=44,
        withdraw_reason="withdrew_consent",
        skip=("V3-INF4",),
        infusions=3,
    ),
    Course("ITP-009", "F", 45, 16, platelets=_responder(35, 20), dose_factor={3: Decimal("1.12")}),
    Course("ITP-010", "M", 71, 4, platelets=lambda day: 20),
    Course("ITP-011", "F", 33, -5),
    Course("ITP-012", "M", 61, None, failed=("E3",)),
    Course("ITP-013", "F", 17, None, eligibility_done=False, weight=Decimal("51.0")),
    # A partial response (R) lost after month 3 (months 6, 9 and 12 below 30).
    Course(
        "ITP-014",
        "M",
        49,
        420,
        platelets=lambda day: 20 if day > 150 else _responder(60, 30)(day),
    ),
    # A complete response with one low count at month 2 that recovers: no loss.
    Course(
        "ITP-015",
        "F",
        38,
        200,
        platelets=lambda day: 40 if 100 <= day <= 120 else _responder(130, 20)(day),
    ),
    # Discontinued 25 days after infusion 2: V4 hangs on that date, D14 is not expected.
    Course(
        "ITP-016",
        "F",
        44,
        120,
        platelets=_responder(40, 30),
        discontinue_after=2,
        discontinue_delay=25,
        discontinue_reason="Infusion 3 postponed for a pneumonia, then stopped",
    ),
    # Discontinued the day before infusion 1: follow-up with nothing expected.
    Course(
        "ITP-017",
        "M",
        55,
        30,
        discontinue_after=0,
        discontinue_delay=-1,
        discontinue_reason="Platelets above 50 at baseline; investigator decision",
    ),
    # Withdrawn while infusion 4 was still pending in its window.
    Course(
        "ITP-018",
        "F",
        27,
        60,
        platelets=_responder(50, 20),
        infusions=3,
        withdraw_day=26,
        withdraw_reason="withdrew_consent",
    ),
    # Eligible, not enrolled yet: screening.
    Course("ITP-019", "M", 46, None),
)
