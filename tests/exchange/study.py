"""A small realistic study built through the real services, for the exchange tests.

Five participants at different stages: a screen failure; one through five infusions (one
with a dose deviation, one with an infusion reaction) into follow-up, with counts at visits
and unscheduled, a rescue IVIg, a serious adverse event and a missed visit; one withdrawn
after two infusions; one whose treatment the investigator discontinued after two
infusions; one enrolled and waiting for infusion 1. Dates hang on today, so that nothing
is in the future.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.utils import timezone

from infusions.dosing import planned_cells
from infusions.services import infusion_record
from safety.services import adverse_event_record, conmed_record
from subjects.models import Participant
from subjects.services import (
    eligibility_record,
    participant_enrol,
    participant_screen,
    participant_withdraw,
    treatment_discontinue,
)
from tests.factories import all_criteria_met, participant_data
from visits.models import Visit
from visits.services import platelet_record, visit_mark_missed, visit_record

WEIGHT = Decimal("60.0")


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour, minute)))


def visit(participant: Participant, code: str) -> Visit:
    return Visit.objects.get(participant=participant, code=code)


def _enrolled(user: Any, *, consent: date, planned: date, today: date, **extra: Any):
    participant = participant_screen(
        user=user, data=participant_data(consent_date=consent, **extra), today=today
    )
    eligibility_record(participant=participant, user=user, answers=all_criteria_met(), today=today)
    participant.refresh_from_db()
    # Back-entered from paper: enrolled the day after consent, not on the day it was typed.
    return participant_enrol(
        participant=participant,
        user=user,
        planned_first_infusion_date=planned,
        enrolled_on=consent + timedelta(days=1),
        today=today,
    )


def _infuse(user: Any, participant: Participant, number: int, day: date, **extra: Any) -> None:
    data = {
        "infusion_date": day,
        "dosing_weight_kg": WEIGHT,
        "actual_cells": planned_cells(weight_kg=WEIGHT),
        "lot_number": f"MSC-{number:02d}",
        "viability_pct": Decimal("95.5"),
        "volume_ml": Decimal("100.0"),
        "start_time": time(9, 30),
        "end_time": time(10, 15),
        "pre_systolic_bp": 120,
        "pre_temperature_c": Decimal("36.6"),
        **extra,
    }
    infusion_record(participant=participant, user=user, number=number, data=data)


def build_study(*, coordinator: Any, investigator: Any, today: date | None = None) -> None:
    t = today or timezone.localdate()

    def d(days: int) -> date:
        return t + timedelta(days=days)

    # ITP-001: screen failure (an exclusion met).
    failed = participant_screen(
        user=coordinator, data=participant_data(consent_date=d(-30), sex="M"), today=t
    )
    eligibility_record(
        participant=failed,
        user=coordinator,
        answers={**all_criteria_met(), "E3": True},
        today=t,
    )

    # ITP-002: five infusions, into follow-up.
    p = _enrolled(
        coordinator, consent=d(-190), planned=d(-170), today=t, height_cm=Decimal("170.5")
    )
    visit_record(
        visit=visit(p, "V2"),
        user=coordinator,
        data={
            "actual_date": d(-175),
            "weight_kg": WEIGHT,
            "height_cm": Decimal("170.5"),
            "systolic_bp": 118,
            "heart_rate": 72,
            "temperature_c": Decimal("36.8"),
            "platelets": 15,
            "who_bleeding_grade": 1,
            "physical_exam_normal": False,
            "physical_exam_findings": "Petechiae on both shins",
        },
    )
    _infuse(coordinator, p, 1, d(-170))
    platelet_record(
        participant=p, user=coordinator, sample_date=d(-165), platelets=22, who_bleeding_grade=1
    )
    _infuse(coordinator, p, 2, d(-163), reaction=True, interrupted=True)
    # A dose 20 % above the plan: a dose deviation.
    _infuse(coordinator, p, 3, d(-149), actual_cells=planned_cells(weight_kg=WEIGHT) * 6 // 5)
    _infuse(coordinator, p, 4, d(-135))
    _infuse(coordinator, p, 5, d(-121))
    infusion_2 = p.infusions.get(number=2)
    adverse_event_record(
        participant=p,
        user=coordinator,
        data={
            "term": "Infusion related reaction",
            "onset_date": d(-163),
            "end_date": d(-163),
            "ongoing": False,
            "ctcae_grade": 1,
            "serious": False,
            "relationship": "probable",
            "related_infusion": infusion_2,
            "action_taken": "infusion_interrupted",
            "outcome": "recovered",
            "awareness_at": at(d(-163), 10, 5),
        },
    )
    adverse_event_record(
        participant=p,
        user=coordinator,
        data={
            "term": "Lung infection",
            "onset_date": d(-140),
            "end_date": d(-130),
            "ongoing": False,
            "ctcae_grade": 3,
            "serious": True,
            "serious_criteria": "hospitalisation",
            "relationship": "unlikely",
            "action_taken": "none",
            "outcome": "recovered",
            "awareness_at": at(d(-139), 9),
            "reported_at": at(d(-139), 15, 30),
        },
    )
    visit_record(
        visit=visit(p, "V4"),
        user=coordinator,
        data={
            "actual_date": d(-120),
            "weight_kg": Decimal("60.5"),
            "platelets": 60,
            "who_bleeding_grade": 0,
        },
    )
    visit_mark_missed(visit=visit(p, "V5-D14"), user=coordinator, missed_reason="Flooded roads")
    conmed_record(
        participant=p,
        user=coordinator,
        data={
            "drug": "IVIg",
            "indication": "Epistaxis, platelets 8",
            "dose": "1 g/kg/day",
            "start_date": d(-100),
            "end_date": d(-99),
            "rescue": True,
        },
    )
    conmed_record(
        participant=p,
        user=coordinator,
        data={
            "drug": "Prednisone",
            "indication": "ITP maintenance",
            "dose": "10 mg/day",
            "start_date": d(-400),
            "rescue": False,
        },
    )
    visit_record(
        visit=visit(p, "V5-M1"),
        user=coordinator,
        data={"actual_date": d(-91), "platelets": 120, "who_bleeding_grade": 0},
    )
    visit_record(
        visit=visit(p, "V5-M2"),
        user=coordinator,
        data={"actual_date": d(-61), "platelets": 130, "who_bleeding_grade": 0},
    )
    visit_record(
        visit=visit(p, "V5-M3"),
        user=coordinator,
        data={"actual_date": d(-31), "platelets": 110, "who_bleeding_grade": 0},
    )
    # The CR is lost: two lab results below 100, from d(-20).
    for day, count in ((-20, 45), (-10, 40)):
        platelet_record(
            participant=p,
            user=coordinator,
            sample_date=d(day),
            platelets=count,
            who_bleeding_grade=0,
        )

    # ITP-003: two infusions, then withdrawn.
    w = _enrolled(coordinator, consent=d(-100), planned=d(-80), today=t, sex="M")
    visit_record(
        visit=visit(w, "V2"),
        user=coordinator,
        data={"actual_date": d(-82), "platelets": 25, "who_bleeding_grade": 0},
    )
    _infuse(coordinator, w, 1, d(-80))
    _infuse(coordinator, w, 2, d(-73))
    participant_withdraw(
        participant=Participant.objects.get(pk=w.pk),
        user=coordinator,
        on=d(-60),
        withdrawal_reason="withdrew_consent",
        detail="Moved to another city",
    )

    # ITP-004: treatment discontinued by the investigator after two infusions.
    s = _enrolled(coordinator, consent=d(-120), planned=d(-100), today=t)
    _infuse(coordinator, s, 1, d(-100))
    _infuse(coordinator, s, 2, d(-93))
    treatment_discontinue(
        participant=Participant.objects.get(pk=s.pk),
        user=investigator,
        on=d(-92),
        reason="Persistent grade 2 headache after each infusion",
    )
    visit_record(
        visit=visit(s, "V4"),
        user=coordinator,
        data={"actual_date": d(-91), "platelets": 18, "who_bleeding_grade": 0},
    )

    # ITP-005: enrolled, infusion 1 planned in ten days (a minor with guardian consent).
    _enrolled(
        coordinator,
        consent=d(-5),
        planned=d(10),
        today=t,
        birth_date=date(t.year - 12, 1, 1),
        guardian_consent=True,
        child_assent=True,
    )


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def csv_text(header: list[str], *rows: list[Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()
