"""A coordinator in Chromium: screening, eligibility, enrolment with a planned infusion date,
the baseline visit, then the schedule page with the protocol's windows."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from itp_trial import protocol
from subjects.models import Participant
from tests.factories import PASSWORD
from visits.models import PlateletCount

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def roles(transactional_db) -> None:
    # A transactional test's flush empties the groups that migrate created; put them back
    # before the personas are made.
    from django.contrib.auth.models import Group, Permission

    from itp_trial.roles import permissions_create_all, roles_sync

    permissions_create_all()
    roles_sync(group_model=Group, permission_model=Permission)


def expected_windows(planned: date) -> dict[str, tuple[date, date, bool]]:
    """(window start, window end, provisional) of every visit before infusion 1 is given,
    worked out here from the protocol's offsets and windows: infusion n+1 hangs on the
    target of infusion n, follow-up on the target of the last infusion."""
    targets: dict[str, date] = {}
    windows = {}
    last_infusion = protocol.INFUSION_VISIT_CODES[protocol.INFUSION_COUNT]
    for v in protocol.VISITS:
        if v.anchor == protocol.ANCHOR_PREVIOUS_INFUSION:
            anchor = targets[protocol.INFUSION_VISIT_CODES[v.infusion_number - 1]]
        elif v.anchor == protocol.ANCHOR_LAST_INFUSION:
            anchor = targets[last_infusion]
        else:  # infusion 1, anchored on its planned date
            anchor = planned
        targets[v.code] = anchor + timedelta(days=v.offset)
        provisional = v.anchor in (protocol.ANCHOR_PREVIOUS_INFUSION, protocol.ANCHOR_LAST_INFUSION)
        windows[v.code] = (
            targets[v.code] - timedelta(days=v.minus),
            targets[v.code] + timedelta(days=v.plus),
            provisional or v.anchor == protocol.ANCHOR_INF1,
        )
    return windows


def test_it_takes_a_coordinator_from_screening_to_the_baseline_visit(
    page, live_server, coordinator
):
    today = timezone.localdate()
    consent = today - timedelta(days=10)
    planned = today + timedelta(days=7)

    # Log in: a coordinator lands on the worklist.
    page.goto(f"{live_server.url}{reverse('login')}")
    page.fill("input[name=username]", "coordinator")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=worklist-overdue]")

    # V1: consent, demographics, history. The screening date defaults to today.
    page.click("nav >> text=Screen a participant")
    page.fill("input[name=consent_date]", consent.isoformat())
    page.fill("input[name=consent_version]", "2.1")
    page.check("input[name=sex][value=F]")
    page.fill("input[name=birth_date]", date(consent.year - 30, 5, 20).isoformat())
    page.fill("input[name=itp_diagnosis_date]", date(consent.year - 3, 2, 1).isoformat())
    page.fill("textarea[name=prior_therapies]", "Prednisone, IVIg, eltrombopag, rituximab")
    page.fill("input[name=height_cm]", "165")
    page.click("form[data-testid=participant-form] button[type=submit]")
    page.wait_for_selector("[data-testid=participant-header]")
    assert page.text_content("[data-testid=subject-id]") == "ITP-001"
    participant = Participant.objects.get(subject_id="ITP-001")

    # Eligibility: every inclusion met, no exclusion; I2 comes prefilled from the dates.
    page.click("[data-testid=actions] >> text=Eligibility")
    assert page.is_checked(f"input[name={protocol.AGE_CRITERION_CODE}][value=yes]")
    for criterion in protocol.CRITERIA:
        answer = "yes" if criterion.required_answer else "no"
        page.check(f"input[name={criterion.code}][value={answer}]")
    page.click("form[data-testid=eligibility-form] button[type=submit]")
    page.wait_for_selector("[data-decision=eligible]")

    # Enrolment with the planned date of infusion 1, confirmed on a second step.
    page.click("[data-decision=eligible] >> text=Enrol")
    page.fill("input[name=planned_first_infusion_date]", planned.isoformat())
    page.click("button:has-text('Continue')")
    page.click("[data-testid=confirm-enrol]")
    page.wait_for_selector("[data-testid=participant-header]")
    assert page.get_attribute("[data-testid=participant-status]", "data-status") == "enrolled"

    # V2, the baseline visit, today: the first day of its window.
    page.click("tr[data-visit=V2] a[data-action=enter]")
    page.fill("input[name=actual_date]", today.isoformat())
    for name, value in {
        "systolic_bp": "118",
        "diastolic_bp": "76",
        "heart_rate": "72",
        "respiratory_rate": "16",
        "temperature_c": "36.6",
        "weight_kg": "58.5",
        "height_cm": "165.0",
        "platelets": "18",
    }.items():
        page.fill(f"input[name={name}]", value)
    page.select_option("select[name=who_bleeding_grade]", "1")
    page.check("input[name=physical_exam_normal][value=yes]")
    page.click("form[data-testid=visit-form] button[type=submit]")
    page.wait_for_selector("[data-testid=participant-header]")

    # The schedule page: every window as the protocol gives it.
    for code, (start, end, provisional) in expected_windows(planned).items():
        row = f"tr[data-visit='{code}']"
        assert page.text_content(f"{row} [data-field=window_start]") == start.isoformat(), code
        assert page.text_content(f"{row} [data-field=window_end]") == end.isoformat(), code
        italic = page.locator(f"{row} [data-field=target] .provisional").count() == 1
        assert italic == provisional, code
    v1, v2 = "tr[data-visit=V1]", "tr[data-visit=V2]"
    assert page.get_attribute(v1, "data-status") == "in_window"
    assert page.text_content(f"{v1} [data-field=actual]").strip() == today.isoformat()
    assert page.get_attribute(v2, "data-status") == "in_window"
    assert page.text_content(f"{v2} [data-field=actual]").strip() == today.isoformat()
    assert (
        page.get_attribute(f"tr[data-visit='{protocol.INFUSION_VISIT_CODES[1]}']", "data-status")
        == "pending"
    )
    assert page.text_content("[data-testid=baseline]") == "—"  # no infusion 1 yet

    stored = participant.visits.get(code="V2")
    assert (stored.actual_date, str(stored.weight_kg)) == (today, "58.5")
    assert PlateletCount.objects.get(participant=participant, visit=stored).platelets == 18
