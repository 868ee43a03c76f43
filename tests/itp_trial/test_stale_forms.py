"""Two people, one record: a form loaded before someone else's save is refused on every edit
page, with what changed since, and nothing it carried is written (protocol section 8)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django import forms
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.factories import enrolled, screened
from tests.visits.test_views import baseline_post
from visits.models import Visit

pytestmark = pytest.mark.django_db

STALE = "was changed by someone else after you opened it"


def days(n: int) -> timedelta:
    return timedelta(days=n)


def as_user(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def post_from(page, **changes) -> dict:
    """What the browser would post back from the page's form as loaded, with `changes`."""
    form = page.context["form"]
    data: dict = {}
    for name in form.fields:
        bound = form[name]
        value = bound.value()
        widget = bound.field.widget
        if isinstance(widget, forms.CheckboxInput):
            if value:
                data[name] = "on"
            continue
        if value is None or value == "":
            continue
        if isinstance(widget, forms.MultiWidget):
            for i, part in enumerate(widget.decompress(value)):
                if part is not None:
                    data[f"{name}{widget.widgets_names[i]}"] = widget.widgets[i].format_value(part)
            continue
        shown = widget.format_value(value) if not isinstance(value, str) else value
        if isinstance(shown, list):
            data[name] = shown
        elif shown is not None:
            data[name] = shown
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def refused_with(response, *texts: str) -> str:
    """The stale refusal shown on the page, naming what changed."""
    assert response.status_code == 200
    form = response.context["form"]
    messages = [str(m) for ms in form.errors.values() for m in ms]
    message = next((m for m in messages if STALE in m), None)
    assert message, form.errors
    for text in texts:
        assert text in message, message
    return message


def history_count(record) -> int:
    return record.history.count()


# --- participant -----------------------------------------------------------------------


def test_a_stale_participant_form_is_refused(coordinator, data_manager):
    from subjects.services import participant_update

    participant = screened(coordinator)
    url = reverse("subjects:edit", args=[participant.pk])
    a = as_user(coordinator)
    page = a.get(url)
    participant_update(
        participant=participant,
        user=data_manager,
        data={"consent_version": "2.2"},
        reason="Version misread",
    )
    participant.refresh_from_db()
    before = history_count(participant)

    response = a.post(url, post_from(page, height_cm="170.0", reason="Measured again"))

    refused_with(response, "2.1 → 2.2")
    participant.refresh_from_db()
    assert participant.consent_version == "2.2"
    assert participant.height_cm != Decimal("170.0")
    assert history_count(participant) == before


# --- visit, and the visit's platelet count ----------------------------------------------


def visit_post(on, **overrides) -> dict:
    """The visit page's post of the visit view tests, at 62.7 kg."""
    return baseline_post(on, **{"weight_kg": "62.7", **overrides})


@pytest.fixture
def saved_visit(coordinator):
    """V2 of a participant whose infusion 1 is in a week, saved once (weight 62.7)."""
    today = timezone.localdate()
    participant = enrolled(coordinator, planned=today + days(7))
    visit = Visit.objects.get(participant=participant, code="V2")
    response = as_user(coordinator).post(reverse("visits:edit", args=[visit.pk]), visit_post(today))
    assert response.status_code == 302
    visit.refresh_from_db()
    return visit


def test_a_stale_visit_form_is_refused_and_keeps_the_other_save(
    saved_visit, coordinator, investigator
):
    """A and B open the visit; A saves the weight; B's save of the temperature, on the page
    loaded earlier, is refused instead of returning the weight to 62.7."""
    url = reverse("visits:edit", args=[saved_visit.pk])
    a, b = as_user(coordinator), as_user(investigator)
    page_a, page_b = a.get(url), b.get(url)

    saved = a.post(url, post_from(page_a, weight_kg="70.0", reason="Weighed again"))
    assert saved.status_code == 302
    before = history_count(saved_visit)

    response = b.post(url, post_from(page_b, temperature_c="37.9", reason="Thermometer fixed"))

    refused_with(response, "62.7 → 70.0")
    saved_visit.refresh_from_db()
    assert saved_visit.weight_kg == Decimal("70.0")
    assert saved_visit.temperature_c == Decimal("36.8")
    assert history_count(saved_visit) == before


def test_a_visit_form_loaded_before_its_count_was_corrected_is_refused(
    saved_visit, coordinator, data_manager
):
    from visits.services import platelet_record

    url = reverse("visits:edit", args=[saved_visit.pk])
    a = as_user(coordinator)
    page = a.get(url)
    platelet_record(
        participant=saved_visit.participant,
        user=data_manager,
        sample_date=saved_visit.actual_date,
        platelets=41,
        who_bleeding_grade=1,
        visit=saved_visit,
        reason="Lab report corrected",
    )
    count = saved_visit.platelet_counts.get()
    before = (history_count(saved_visit), history_count(count))

    response = a.post(url, post_from(page, temperature_c="37.9", reason="Thermometer fixed"))

    refused_with(response, "14 → 41")
    saved_visit.refresh_from_db()
    count.refresh_from_db()
    assert (count.platelets, saved_visit.temperature_c) == (41, Decimal("36.8"))
    assert (history_count(saved_visit), history_count(count)) == before


# --- eligibility ----------------------------------------------------------------------


def test_a_stale_eligibility_checklist_is_refused(coordinator, investigator):
    from itp_trial import protocol
    from subjects.models import EligibilityAnswer
    from subjects.services import eligibility_record
    from tests.factories import all_criteria_met, eligible

    participant = eligible(coordinator)
    criterion = next(c for c in protocol.EXCLUSION_CRITERIA)
    url = reverse("subjects:eligibility", args=[participant.pk])
    a = as_user(coordinator)
    page = a.get(url)
    eligibility_record(
        participant=participant,
        user=investigator,
        answers={**all_criteria_met(), criterion.code: not criterion.required_answer},
        reason="Found in the notes",
    )
    answers = EligibilityAnswer.objects.filter(participant=participant)
    before = {a.criterion: (a.met, a.version, a.history.count()) for a in answers}

    response = a.post(url, post_from(page, reason="Checklist re-read"))

    refused_with(response)
    after = {a.criterion: (a.met, a.version, a.history.count()) for a in answers.all()}
    assert after == before
    assert after[criterion.code][0] is (not criterion.required_answer)


# --- infusion --------------------------------------------------------------------------


def test_a_stale_infusion_form_is_refused(coordinator, data_manager):
    from infusions.dosing import planned_cells
    from infusions.models import Infusion
    from infusions.services import infusion_record

    today = timezone.localdate()
    participant = enrolled(coordinator, planned=today - days(10), today=today)
    data = {
        "infusion_date": today - days(10),
        "dosing_weight_kg": Decimal("60.0"),
        "actual_cells": planned_cells(weight_kg=Decimal("60.0")),
        "lot_number": "MSC-01",
    }
    infusion_record(participant=participant, user=coordinator, number=1, data=data)
    url = reverse("infusions:record", args=[participant.pk, 1])
    a = as_user(coordinator)
    page = a.get(url)
    infusion_record(
        participant=participant,
        user=data_manager,
        number=1,
        data={**data, "lot_number": "MSC-02"},
        reason="Lot label misread",
    )
    infusion = Infusion.objects.get(participant=participant, number=1)
    before = history_count(infusion)

    posted = post_from(
        page,
        volume_ml="51.0",
        reason="Bag volume entered",
        planned_cells_seen=str(data["actual_cells"]),  # the dose the page showed
    )
    response = a.post(url, posted)

    refused_with(response, "MSC-01 → MSC-02")
    infusion.refresh_from_db()
    assert (infusion.lot_number, infusion.volume_ml) == ("MSC-02", None)
    assert history_count(infusion) == before


# --- adverse event and medication ------------------------------------------------------


def test_a_stale_adverse_event_form_is_refused(coordinator, investigator):
    from safety.models import AdverseEvent
    from safety.services import adverse_event_record

    today = timezone.localdate()
    participant = enrolled(coordinator, planned=today - days(10), today=today)
    data = {
        "term": "Headache",
        "onset_date": today - days(3),
        "end_date": today - days(2),
        "ctcae_grade": 1,
        "relationship": "not_related",
        "outcome": "recovered",
        "awareness_at": timezone.now() - days(2),
    }
    event = adverse_event_record(participant=participant, user=coordinator, data=data)
    url = reverse("safety:ae_edit", args=[event.pk])
    a = as_user(coordinator)
    page = a.get(url)
    assert page.context["form"]["ctcae_grade"].value() == 1  # the stored grade is shown
    adverse_event_record(
        participant=participant,
        user=investigator,
        data={**data, "ctcae_grade": 2},
        ae_number=event.ae_number,
        reason="Graded again",
    )
    before = history_count(event)

    response = a.post(url, post_from(page, term="Migraine", reason="Diagnosis"))

    refused_with(response, "1 → 2")
    stored = AdverseEvent.objects.get(pk=event.pk)
    assert (stored.term, stored.ctcae_grade) == ("Headache", 2)
    assert history_count(stored) == before


def test_a_stale_medication_form_is_refused(coordinator, data_manager):
    from safety.models import ConcomitantMedication
    from safety.services import conmed_record

    today = timezone.localdate()
    participant = enrolled(coordinator, planned=today - days(10), today=today)
    data = {
        "drug": "IVIg",
        "indication": "Bleeding with platelets below 10",
        "dose": "1 g/kg/day",
        "start_date": today - days(5),
        "end_date": today - days(4),
        "rescue": True,
    }
    conmed = conmed_record(participant=participant, user=coordinator, data=data)
    url = reverse("safety:conmed_edit", args=[conmed.pk])
    a = as_user(coordinator)
    page = a.get(url)
    conmed_record(
        participant=participant,
        user=data_manager,
        data={**data, "dose": "0.4 g/kg/day"},
        conmed=conmed,
        reason="Dose from the chart",
    )
    before = history_count(conmed)

    response = a.post(url, post_from(page, indication="Bleeding", reason="Shorter"))

    refused_with(response, "1 g/kg/day → 0.4 g/kg/day")
    stored = ConcomitantMedication.objects.get(pk=conmed.pk)
    assert (stored.indication, stored.dose) == (data["indication"], "0.4 g/kg/day")
    assert history_count(stored) == before


# --- flag acknowledgement ----------------------------------------------------------------


def test_a_stale_flag_acknowledgement_is_refused(coordinator, investigator, monitor):
    from safety.models import Flag, FlagKind
    from safety.services import flag_acknowledge

    participant = enrolled(coordinator)
    flag = Flag.objects.create(
        kind=FlagKind.DOSE_DEVIATION,
        participant=participant,
        detail="Dose 15 % below plan",
        raised_at=timezone.now(),
    )
    url = reverse("safety:flag_acknowledge", args=[flag.pk])
    a = as_user(monitor)
    page = a.get(url)
    flag_acknowledge(flag_id=flag.pk, user=investigator, comment="Bag underfilled")
    flag.refresh_from_db()
    before = history_count(flag)

    response = a.post(url, post_from(page, comment="Acceptable"))

    refused_with(response, "Bag underfilled")
    flag.refresh_from_db()
    assert (flag.acknowledged_by, flag.acknowledgement_comment) == (investigator, "Bag underfilled")
    assert history_count(flag) == before
