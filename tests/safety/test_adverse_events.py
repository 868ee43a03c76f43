"""adverse_event_record: numbering, the consistency rules of section 5, corrections."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from safety.models import AdverseEvent
from safety.services import adverse_event_record
from tests.factories import enrolled, infused

pytestmark = pytest.mark.django_db


@pytest.fixture
def now():
    return timezone.now()


@pytest.fixture
def today(now):
    return timezone.localdate(now)


@pytest.fixture
def participant(coordinator, today):
    return enrolled(
        coordinator,
        consent_date=today - timedelta(days=90),
        planned=today - timedelta(days=80),
        today=today,
    )


def at(day, hour=10):
    return timezone.make_aware(datetime.combine(day, time(hour)))


def event(onset, **overrides):
    """A mild fever that resolved the next day."""
    values = {
        "term": "Fever",
        "onset_date": onset,
        "end_date": onset + timedelta(days=1),
        "ongoing": False,
        "ctcae_grade": 1,
        "serious": False,
        "serious_criteria": [],
        "relationship": "possible",
        "related_infusion": None,
        "action_taken": "none",
        "outcome": "recovered",
        "awareness_at": at(onset, 12),
        "reported_at": None,
    }
    values.update(overrides)
    return values


def fatal(onset, **overrides):
    values = event(
        onset,
        term="Intracranial haemorrhage",
        end_date=onset + timedelta(days=2),
        ctcae_grade=5,
        serious=True,
        serious_criteria=["death", "hospitalisation"],
        outcome="fatal",
        reported_at=at(onset, 14),
    )
    values.update(overrides)
    return values


def refused(excinfo, field: str) -> list[str]:
    return excinfo.value.message_dict[field]


def nothing_written(count: int = 0) -> None:
    assert AdverseEvent.objects.count() == count
    assert AdverseEvent.history.count() == count


def test_it_numbers_events_per_participant(coordinator, participant, today):
    onset = today - timedelta(days=10)
    first = adverse_event_record(participant=participant, user=coordinator, data=event(onset))
    second = adverse_event_record(
        participant=participant, user=coordinator, data=event(onset, term="Headache")
    )
    other = enrolled(coordinator, consent_date=today - timedelta(days=30), today=today)
    elsewhere = adverse_event_record(participant=other, user=coordinator, data=event(onset))

    assert (first.ae_number, second.ae_number, elsewhere.ae_number) == (1, 2, 1)
    assert AdverseEvent.objects.get(pk=second.pk).term == "Headache"
    assert first.history.get().history_user == coordinator


def test_it_creates_an_event_with_a_given_number_then_continues_after_it(
    coordinator, participant, today
):
    onset = today - timedelta(days=10)
    imported = adverse_event_record(
        participant=participant, user=coordinator, data=event(onset), ae_number=4
    )
    following = adverse_event_record(participant=participant, user=coordinator, data=event(onset))

    assert (imported.ae_number, following.ae_number) == (4, 5)


def test_it_records_a_fatal_serious_event(coordinator, participant, today):
    onset = today - timedelta(days=10)
    saved = adverse_event_record(participant=participant, user=coordinator, data=fatal(onset))

    saved.refresh_from_db()
    assert saved.ctcae_grade == 5
    assert saved.serious_criteria == "death;hospitalisation"


@pytest.mark.parametrize(
    "criteria", [["hospitalisation", "death"], "hospitalisation;death", " death ; hospitalisation"]
)
def test_it_accepts_criteria_as_a_list_or_joined_text(coordinator, participant, today, criteria):
    onset = today - timedelta(days=10)
    saved = adverse_event_record(
        participant=participant, user=coordinator, data=fatal(onset, serious_criteria=criteria)
    )

    assert AdverseEvent.objects.get(pk=saved.pk).serious_criteria == "death;hospitalisation"


def test_it_corrects_an_event_with_a_reason(coordinator, participant, today):
    onset = today - timedelta(days=10)
    adverse_event_record(participant=participant, user=coordinator, data=event(onset))

    adverse_event_record(
        participant=participant,
        user=coordinator,
        data={"ctcae_grade": 2},
        ae_number=1,
        reason="Graded again by the investigator",
    )

    stored = AdverseEvent.objects.get()
    assert stored.ctcae_grade == 2
    assert stored.history.first().history_change_reason == "Graded again by the investigator"


def test_it_refuses_a_correction_without_a_reason(coordinator, participant, today):
    onset = today - timedelta(days=10)
    adverse_event_record(participant=participant, user=coordinator, data=event(onset))

    with pytest.raises(ValidationError) as excinfo:
        adverse_event_record(
            participant=participant, user=coordinator, data={"ctcae_grade": 2}, ae_number=1
        )

    assert refused(excinfo, "reason") == [
        "A reason for change is required to change a saved record.",
        "Stored values this overwrites: CTCAE grade 1 → 2.",
    ]
    assert AdverseEvent.objects.get().ctcae_grade == 1
    nothing_written(count=1)


def test_it_refuses_an_end_before_the_onset(coordinator, participant, today):
    onset = today - timedelta(days=10)
    with pytest.raises(ValidationError) as excinfo:
        adverse_event_record(
            participant=participant,
            user=coordinator,
            data=event(onset, end_date=onset - timedelta(days=1)),
        )

    assert refused(excinfo, "end_date") == ["The end date cannot be before the onset date."]
    nothing_written()


def test_it_refuses_grade_5_that_is_not_fatal(coordinator, participant, today):
    onset = today - timedelta(days=10)
    with pytest.raises(ValidationError) as excinfo:
        adverse_event_record(
            participant=participant, user=coordinator, data=fatal(onset, outcome="recovered")
        )

    assert refused(excinfo, "outcome") == [
        "A grade 5 event led to death: its outcome must be Fatal."
    ]
    nothing_written()


def test_it_refuses_a_fatal_outcome_that_is_not_grade_5(coordinator, participant, today):
    onset = today - timedelta(days=10)
    with pytest.raises(ValidationError) as excinfo:
        adverse_event_record(
            participant=participant,
            user=coordinator,
            data=fatal(onset, ctcae_grade=4, serious_criteria=["hospitalisation"]),
        )

    assert refused(excinfo, "ctcae_grade") == [
        "A fatal outcome is CTCAE grade 5: set the grade to 5 or change the outcome."
    ]
    nothing_written()


def test_it_refuses_grade_5_without_death_among_the_criteria(coordinator, participant, today):
    onset = today - timedelta(days=10)
    with pytest.raises(ValidationError) as excinfo:
        adverse_event_record(
            participant=participant,
            user=coordinator,
            data=fatal(onset, serious_criteria=["hospitalisation"]),
        )

    assert refused(excinfo, "serious_criteria") == [
        "A grade 5 event must have Death among its seriousness criteria."
    ]
    nothing_written()


def test_it_refuses_an_onset_before_consent(coordinator, participant, today):
    onset = participant.consent_date - timedelta(days=1)
    with pytest.raises(ValidationError) as excinfo:
        adverse_event_record(participant=participant, user=coordinator, data=event(onset))

    assert refused(excinfo, "onset_date") == [
        f"The onset date cannot be before informed consent "
        f"({participant.consent_date.isoformat()}): an event that began before consent "
        "belongs in the medical history."
    ]
    nothing_written()


def test_it_refuses_awareness_before_the_onset(coordinator, participant, today):
    onset = today - timedelta(days=10)
    with pytest.raises(ValidationError) as excinfo:
        adverse_event_record(
            participant=participant,
            user=coordinator,
            data=event(onset, awareness_at=at(onset - timedelta(days=1))),
        )

    assert refused(excinfo, "awareness_at") == [
        "The site cannot have become aware before the onset."
    ]
    nothing_written()


def test_it_refuses_a_report_before_awareness(coordinator, participant, today):
    onset = today - timedelta(days=10)
    with pytest.raises(ValidationError) as excinfo:
        adverse_event_record(
            participant=participant,
            user=coordinator,
            data=fatal(onset, awareness_at=at(onset, 14), reported_at=at(onset, 13)),
        )

    assert refused(excinfo, "reported_at") == [
        "The report cannot be before the site became aware of the event."
    ]
    nothing_written()


def test_it_refuses_anything_in_the_future(coordinator, participant, now, today):
    tomorrow = today + timedelta(days=1)
    with pytest.raises(ValidationError) as excinfo:
        adverse_event_record(
            participant=participant,
            user=coordinator,
            data=event(tomorrow, awareness_at=now + timedelta(hours=1)),
            now=now,
        )

    assert refused(excinfo, "onset_date") == ["The date cannot be in the future."]
    assert refused(excinfo, "end_date") == ["The date cannot be in the future."]
    assert "The date and time cannot be in the future." in refused(excinfo, "awareness_at")
    nothing_written()


def test_it_links_an_event_to_the_participants_infusion(coordinator, participant):
    infusion = infused(coordinator, participant, 1, reaction=True)
    saved = adverse_event_record(
        participant=participant,
        user=coordinator,
        data=event(
            infusion.infusion_date,
            term="Infusion related reaction",
            related_infusion=infusion,
            action_taken="infusion_interrupted",
        ),
    )

    assert AdverseEvent.objects.get(pk=saved.pk).related_infusion == infusion


def test_it_refuses_an_infusion_of_another_participant(coordinator, participant, today):
    other = enrolled(
        coordinator,
        consent_date=today - timedelta(days=90),
        planned=today - timedelta(days=80),
        today=today,
    )
    infusion = infused(coordinator, other, 1)

    with pytest.raises(ValidationError) as excinfo:
        adverse_event_record(
            participant=participant,
            user=coordinator,
            data=event(infusion.infusion_date, related_infusion=infusion),
        )

    assert refused(excinfo, "related_infusion") == [
        "The related infusion must be one of this participant's infusions."
    ]
    nothing_written()


def test_it_refuses_an_onset_before_the_related_infusion(coordinator, participant):
    infusion = infused(coordinator, participant, 1)
    onset = infusion.infusion_date - timedelta(days=1)

    with pytest.raises(ValidationError) as excinfo:
        adverse_event_record(
            participant=participant,
            user=coordinator,
            data=event(onset, related_infusion=infusion),
        )

    assert refused(excinfo, "onset_date") == [
        "The onset cannot be before the related infusion, given on "
        f"{infusion.infusion_date.isoformat()}."
    ]
    nothing_written()
