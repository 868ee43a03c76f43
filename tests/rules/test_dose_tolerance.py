"""One dose rule: the tolerance is stored with the infusion, as its dose per kg is.

After the protocol's tolerance changes, an infusion already recorded keeps its verdict on
its page, the participant's dashboard, the export and the checks alike; a new one is judged
by the new tolerance on all four.
"""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal

import pytest
from django.urls import reverse

from exchange.export import FileStats, dataset_bytes
from infusions import dosing
from infusions.services import infusion_record
from itp_trial import protocol
from safety.checks import checks_run
from safety.models import Flag, FlagKind
from tests.factories import enrolled_in_the_past, infused

pytestmark = pytest.mark.django_db

WEIGHT = Decimal("60.0")
TWELVE_PCT_OVER = dosing.planned_cells(weight_kg=WEIGHT) * 112 // 100


@pytest.fixture
def participant(coordinator):
    return enrolled_in_the_past(coordinator)


def detail_verdict(client, infusion) -> str:
    page = client.get(reverse("infusions:detail", args=[infusion.pk])).content.decode()
    match = re.search(r'data-testid="deviation">(.*?)</dd>', page, re.S)
    assert match
    return match.group(1)


def dashboard_deviations(client, participant) -> int:
    page = client.get(reverse("subjects:dashboard", args=[participant.pk])).content.decode()
    return page.count('<span class="badge text-bg-warning">dose deviation</span>')


def exported(participant) -> dict[str, str]:
    content = b"".join(dataset_bytes("infusions", stats=FileStats("infusions"))).decode()
    rows = csv.DictReader(io.StringIO(content, newline=""))
    return {r["infusion_number"]: r["dose_deviation"] for r in rows}


def flagged() -> set[int]:
    return set(
        Flag.objects.filter(kind=FlagKind.DOSE_DEVIATION, resolved_at__isnull=True).values_list(
            "infusion__number", flat=True
        )
    )


def test_page_dashboard_export_and_checks_agree_after_a_tolerance_change(
    client, coordinator, investigator, participant, monkeypatch
):
    first = infused(coordinator, participant, 1, weight=WEIGHT, actual=TWELVE_PCT_OVER)
    assert first.dose_tolerance_pct == protocol.DOSE_TOLERANCE_PCT == Decimal("10")
    assert first.dose_deviation is True

    monkeypatch.setattr(protocol, "DOSE_TOLERANCE_PCT", Decimal("15"))
    second = infused(coordinator, participant, 2, weight=WEIGHT, actual=TWELVE_PCT_OVER)
    assert second.dose_tolerance_pct == Decimal("15")
    assert second.dose_deviation is False
    # A correction keeps the tolerance the infusion was first recorded with.
    first = infusion_record(
        participant=participant,
        user=coordinator,
        number=1,
        data={"lot_number": "LOT-CORRECTED"},
        reason="Lot number misread",
        version=first.version,
    )
    assert (first.dose_tolerance_pct, first.dose_deviation) == (Decimal("10"), True)

    checks_run(participant_ids=[participant.pk])
    client.force_login(investigator)

    assert "beyond ±10 %" in detail_verdict(client, first)
    assert "within tolerance" in detail_verdict(client, second)
    assert dashboard_deviations(client, participant) == 1
    export = exported(participant)
    assert export["1"] != export["2"]
    assert export == {"1": "Y", "2": "N"}
    assert flagged() == {1}
