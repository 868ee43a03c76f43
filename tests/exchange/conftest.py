"""Fixtures of the exchange tests: a participant given infusion 1, and database snapshots."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.apps import apps
from django.utils import timezone

from tests.factories import enrolled, infused

CLINICAL_MODELS = (
    "subjects.Participant",
    "subjects.EligibilityAnswer",
    "visits.Visit",
    "visits.PlateletCount",
    "infusions.Infusion",
    "safety.AdverseEvent",
    "safety.ConcomitantMedication",
)


def snapshot() -> dict[str, int]:
    """Row counts of every clinical table and of its history table, and of the imports."""
    counts = {}
    for label in CLINICAL_MODELS:
        model = apps.get_model(label)
        counts[label] = model.objects.count()
        counts[f"{label} history"] = model.history.model.objects.count()
    counts["exchange.DataImport"] = apps.get_model("exchange.DataImport").objects.count()
    return counts


@pytest.fixture
def today():
    return timezone.localdate()


@pytest.fixture
def treated(coordinator, today):
    """ITP-001: enrolled, infusion 1 given ten days ago at 60 kg."""
    participant = enrolled(coordinator, planned=today - timedelta(days=10), today=today)
    infused(coordinator, participant, 1, on=today - timedelta(days=10), lot_number="MSC-01")
    participant.refresh_from_db()
    return participant


@pytest.fixture(params=[True, False], ids=["bulk", "per-record"])
def import_path(request, monkeypatch):
    """Run the test with the set-based import of new participants, then without it."""
    import exchange.importer

    monkeypatch.setattr(exchange.importer, "BULK", request.param)
    return request.param
