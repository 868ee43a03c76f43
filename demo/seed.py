"""The demo seeding engine: plays the courses of `demo.scenario` through the services.

Each participant follows a course: consent, eligibility, enrolment, baseline, the infusions
and follow-up visits that fall before today, each placed on the target the schedule
engine gives it (plus a small shift where the course says so), so the windows chain on
actual dates exactly as at the site.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import Group, User
from django.utils import timezone

from infusions.dosing import planned_cells
from infusions.services import infusion_record
from itp_trial import protocol
from safety.services import adverse_event_record, conmed_record
from subjects.services import (
    eligibility_record,
    participant_enrol,
    participant_screen,
    participant_withdraw,
    treatment_discontinue,
)
from visits.services import platelet_record, visit_mark_missed, visit_record

from .review_queries import review_demo_seed
from .review_signatures import review_signatures_seed
from .scenario import COURSES, DEMO_PASSWORD, DEMO_USERS, Course


def demo_users_create() -> list[User]:
    users = []
    for username, role, first, last in DEMO_USERS:
        user, created = User.objects.get_or_create(
            username=username,
            defaults={"first_name": first, "last_name": last, "email": f"{username}@demo.test"},
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
        user.groups.add(Group.objects.get(name=role))
        users.append(user)
    admin, created = User.objects.get_or_create(
        username="admin",
        defaults={"is_staff": True, "is_superuser": True, "email": "admin@demo.test"},
    )
    if created:
        admin.set_password(DEMO_PASSWORD)
        admin.save()
    return users


def _aware(day: date, hour: int = 10) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour, 0)))


class _Player:
    """Plays one course through the services, as the site would have entered it."""

    def __init__(self, course: Course, *, coordinator: User, investigator: User, today: date):
        self.c = course
        self.coordinator = coordinator
        self.investigator = investigator
        self.today = today
        self.participant: Any = None
        self.inf1: date | None = None

    def play(self) -> None:

        c = self.c
        inf1_planned = self.today - timedelta(days=c.inf1_days_ago) if c.inf1_days_ago else None
        consent = (inf1_planned or self.today) - timedelta(days=21)
        birth = date(consent.year - c.age, 4, 12)
        if birth > consent.replace(year=consent.year - c.age):
            birth = date(consent.year - c.age - 1, 4, 12)
        data = {
            "sex": c.sex,
            "birth_date": birth,
            "consent_date": consent,
            "consent_version": "2.1",
            "itp_diagnosis_date": consent - timedelta(days=900),
            "prior_therapies": "Prednisone; IVIg; eltrombopag; rituximab (no sustained response)",
            "splenectomy": False,
            "height_cm": Decimal("165.0") if c.age >= 18 else Decimal("132.0"),
        }
        if c.age < protocol.ADULT_AGE_YEARS:
            data.update(guardian_consent=True, child_assent=True)
        self.participant = participant_screen(
            user=self.coordinator, data=data, subject_id=c.subject_id, today=self.today
        )
        if not c.eligibility_done:
            return
        answers = {cr.code: cr.required_answer for cr in protocol.CRITERIA}
        for code in c.failed:
            answers[code] = not protocol.CRITERIA_BY_CODE[code].required_answer
        eligibility_record(
            participant=self.participant, user=self.investigator, answers=answers, today=consent
        )
        if c.failed or inf1_planned is None:
            return
        participant_enrol(
            participant=self.participant,
            user=self.investigator,
            planned_first_infusion_date=inf1_planned,
            today=consent + timedelta(days=1),
        )
        self.participant.refresh_from_db()
        self._baseline()
        self._infusions()
        self._follow_up()
        self._safety()
        if c.withdraw_day is not None:
            self._withdraw()

    def _visit(self, code: str):
        return self.participant.visits.get(code=code)

    def _when(self, code: str) -> date | None:
        visit = self._visit(code)
        if visit.target_date is None:
            return None
        return visit.target_date + timedelta(days=self.c.shifts.get(code, 0))

    def _day(self, on: date) -> int:
        return (on - self.inf1).days + 1 if self.inf1 else 0

    def _vitals(self) -> dict[str, Any]:
        return {
            "systolic_bp": 118 if self.c.age >= 18 else 104,
            "diastolic_bp": 76 if self.c.age >= 18 else 66,
            "heart_rate": 74 if self.c.age >= 18 else 92,
            "respiratory_rate": 16 if self.c.age >= 18 else 20,
            "temperature_c": Decimal("36.6"),
        }

    def _platelets(self, on: date, visit: Any) -> None:

        if self.participant.platelet_counts.filter(sample_date=on).exists():
            return  # one count a day: the end-of-treatment visit shares the last infusion's
        day = self._day(on) if self.inf1 else -1
        platelet_record(
            participant=self.participant,
            user=self.coordinator,
            sample_date=on,
            platelets=self.c.platelets(day),
            who_bleeding_grade=self.c.bleeding(day),
            visit=visit,
            today=self.today,
        )

    def _baseline(self) -> None:

        on = self._visit("V3-INF1").target_date - timedelta(days=2)
        if on > self.today:
            return
        visit = self._visit("V2")
        visit_record(
            visit=visit,
            user=self.coordinator,
            data={
                "actual_date": on,
                **self._vitals(),
                "weight_kg": self.c.weight,
                "height_cm": self.participant.height_cm,
                "physical_exam_normal": True,
            },
            today=self.today,
        )
        self._platelets(on, visit)

    def _discontinue(self, after: date) -> None:
        on = after + timedelta(days=self.c.discontinue_delay)
        if on > self.today:
            return
        treatment_discontinue(
            participant=self.participant,
            user=self.investigator,
            on=on,
            reason=self.c.discontinue_reason,
            today=self.today,
        )
        self.participant.refresh_from_db()

    def _infusions(self) -> None:

        if self.c.discontinue_after == 0:
            self._discontinue(self._visit("V3-INF1").target_date)
            return
        for number in range(1, self.c.infusions + 1):
            if self.c.discontinue_after is not None and number > self.c.discontinue_after:
                break
            code = protocol.INFUSION_VISIT_CODES[number]
            on = self._when(code)
            if on is None or on > self.today or code in self.c.skip:
                break
            planned = planned_cells(weight_kg=self.c.weight)
            factor = self.c.dose_factor.get(number, Decimal("1"))
            infusion_record(
                participant=self.participant,
                user=self.coordinator,
                number=number,
                data={
                    "infusion_date": on,
                    "start_time": time(9, 30),
                    "end_time": time(10, 15),
                    "dosing_weight_kg": self.c.weight,
                    "actual_cells": int(planned * factor),
                    "lot_number": f"MSC-26-{number:02d}{self.c.subject_id[-2:]}",
                    "viability_pct": Decimal("94.5"),
                    "volume_ml": Decimal("100.0"),
                    "pre_systolic_bp": 120,
                    "pre_diastolic_bp": 78,
                    "pre_heart_rate": 76,
                    "pre_temperature_c": Decimal("36.7"),
                    "post_systolic_bp": 124,
                    "post_diastolic_bp": 80,
                    "post_heart_rate": 80,
                    "post_temperature_c": Decimal("37.9")
                    if self.c.reaction_at == number
                    else Decimal("36.8"),
                    "interrupted": self.c.reaction_at == number,
                    "reaction": self.c.reaction_at == number,
                },
                today=self.today,
            )
            if number == 1:
                self.inf1 = on
            self._platelets(on, None)  # the pre-infusion count, an unscheduled lab result
            if self.c.discontinue_after == number:
                self._discontinue(on)

    def _follow_up(self) -> None:

        if self.inf1 is None:
            return
        codes = [
            v.code
            for v in protocol.VISITS
            if v.kind in (protocol.KIND_END_OF_TREATMENT, protocol.KIND_FOLLOW_UP)
        ]
        for code in codes:
            visit = self._visit(code)
            if visit.provisional:
                break
            if visit.window_status == "not_expected":
                continue  # e.g. D14 when treatment stopped after its window ended
            on = self._when(code)
            limit = self.today
            if self.c.withdraw_day is not None:
                limit = min(limit, self.inf1 + timedelta(days=self.c.withdraw_day - 1))
            if on is None or on > limit:
                break
            if code in self.c.skip:
                continue
            if code in self.c.missed:
                visit_mark_missed(
                    visit=visit,
                    user=self.coordinator,
                    missed_reason=self.c.missed[code],
                    today=self.today,
                )
                continue
            visit_record(
                visit=visit,
                user=self.coordinator,
                data={
                    "actual_date": on,
                    **self._vitals(),
                    "weight_kg": self.c.weight,
                    "new_adverse_event": False,
                    "medication_change": False,
                },
                today=self.today,
            )
            self._platelets(on, visit)

    def _safety(self) -> None:

        if self.inf1 is None:
            return
        if self.c.rescue_day is not None:
            start = self.inf1 + timedelta(days=self.c.rescue_day - 1)
            conmed_record(
                participant=self.participant,
                user=self.coordinator,
                data={
                    "drug": "Immunoglobulin (IVIg)",
                    "indication": "Bleeding with platelets below 20",
                    "dose": "1 g/kg/day for 2 days",
                    "start_date": start,
                    "end_date": start + timedelta(days=1),
                    "rescue": True,
                },
                today=self.today,
            )
        conmed_record(
            participant=self.participant,
            user=self.coordinator,
            data={
                "drug": "Omeprazole",
                "indication": "Gastric protection",
                "dose": "20 mg daily",
                "start_date": self.participant.consent_date - timedelta(days=200),
                "end_date": None,
                "rescue": False,
            },
            today=self.today,
        )
        for plan in self.c.adverse_events:
            onset = self.inf1 + timedelta(days=plan.day - 1)
            if onset > self.today:
                continue
            aware = _aware(onset, 11)
            reported = (
                aware + timedelta(hours=plan.reported_after_hours)
                if plan.serious_criteria and plan.reported_after_hours is not None
                else None
            )
            infusion = (
                self.participant.infusions.get(number=plan.infusion) if plan.infusion else None
            )
            adverse_event_record(
                participant=self.participant,
                user=self.coordinator,
                data={
                    "term": plan.term,
                    "onset_date": onset,
                    "end_date": onset + timedelta(days=plan.duration)
                    if plan.duration is not None
                    else None,
                    "ongoing": plan.duration is None,
                    "ctcae_grade": plan.grade,
                    "serious": bool(plan.serious_criteria),
                    "serious_criteria": list(plan.serious_criteria),
                    "relationship": plan.relationship,
                    "related_infusion": infusion,
                    "action_taken": plan.action,
                    "outcome": plan.outcome,
                    "awareness_at": aware,
                    "reported_at": reported,
                },
                now=timezone.now(),
            )

    def _withdraw(self) -> None:

        participant_withdraw(
            participant=self.participant,
            user=self.investigator,
            on=self.inf1 + timedelta(days=self.c.withdraw_day - 1),
            withdrawal_reason=self.c.withdraw_reason,
            detail="Moved to another province",
            today=self.today,
        )


def demo_seed(*, today: date | None = None) -> dict[str, int]:
    """Create the demo users and trial; participants already there are left as they are."""
    from subjects.models import Participant

    today = today or timezone.localdate()
    users = {u.username: u for u in demo_users_create()}
    existing = set(Participant.objects.values_list("subject_id", flat=True))
    created = 0
    for course in COURSES:
        if course.subject_id in existing:
            continue
        _Player(
            course,
            coordinator=users["coordinator"],
            investigator=users["investigator"],
            today=today,
        ).play()
        created += 1
    review_demo_seed(users=users, today=today)  # demo/review_queries.py
    review_signatures_seed(users=users, today=today)  # demo/review_signatures.py, after it
    return {"participants_created": created, "participants": Participant.objects.count()}
