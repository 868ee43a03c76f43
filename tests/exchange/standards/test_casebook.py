"""The PDF casebook: the participant's values (Chinese text too), audit trail, page numbers."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command
from django.urls import reverse
from pypdf import PdfReader

from exchange.models import DataExport
from safety.services import adverse_event_record
from subjects.models import Participant
from subjects.services import participant_update
from tests.exchange.study import at

pytestmark = pytest.mark.django_db

TERM = "肺部感染"  # lung infection


@pytest.fixture
def chinese_ae(study, coordinator, investigator, today):
    participant = Participant.objects.get(subject_id="ITP-002")
    adverse_event_record(
        participant=participant,
        user=coordinator,
        data={
            "term": TERM,
            "onset_date": participant.infusions.get(number=5).infusion_date,
            "ongoing": True,
            "ctcae_grade": 2,
            "serious": False,
            "relationship": "unlikely",
            "action_taken": "none",
            "outcome": "recovering",
            "awareness_at": at(participant.infusions.get(number=5).infusion_date, 12),
        },
    )
    participant_update(
        participant=participant,
        user=investigator,
        data={"consent_version": "2.2"},
        reason="Version misread",
    )
    participant.refresh_from_db()
    return participant


def _pages(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def _fonts(pdf: bytes) -> set[str]:
    """The base names of the fonts embedded in the pages (subset prefix dropped)."""
    names = set()
    for page in PdfReader(io.BytesIO(pdf)).pages:
        fonts = page["/Resources"].get("/Font", {})
        for ref in fonts.values():
            names.add(str(ref.get_object()["/BaseFont"]).split("+", 1)[-1])
    return names


def test_it_renders_the_participants_values_with_chinese_text_and_page_numbers(
    client, chinese_ae, monitor
):
    participant = chinese_ae
    client.force_login(monitor)

    response = client.get(reverse("exchange:casebook", args=[participant.pk]))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    pages = _pages(response.content)
    text = "\n".join(pages)
    assert TERM in text
    # Drawn with a CJK font, not as empty boxes of a Latin one.
    assert any("CJK" in name for name in _fonts(response.content))
    assert participant.subject_id in text
    assert participant.consent_date.isoformat() in text
    for infusion in participant.infusions.all():
        assert infusion.lot_number in text
    for count in participant.platelet_counts.all():
        assert count.sample_date.isoformat() in text
    assert "Lung infection" in text  # the other adverse event
    # The audit trail of each form: who created it, then who changed what and why.
    assert "created" in text and "coordinator" in text
    assert "Version misread" in text and "consent_version" in text
    for number, page in enumerate(pages, start=1):
        assert f"Page {number} / {len(pages)}" in page
        assert re.search(r"Exported \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", page)
    export = DataExport.objects.get()
    assert (export.exported_by, export.datasets) == (monitor, f"casebook {participant.subject_id}")


def test_it_refuses_the_casebook_to_those_who_cannot_export(client, study, coordinator):
    participant = Participant.objects.get(subject_id="ITP-002")
    client.force_login(coordinator)
    assert client.get(reverse("exchange:casebook", args=[participant.pk])).status_code == 403
    assert not DataExport.objects.exists()


def test_the_command_writes_one_casebook_per_participant(study, tmp_path):
    call_command("export_casebooks", str(tmp_path), stdout=io.StringIO())

    names = sorted(p.name for p in tmp_path.iterdir())
    expected = sorted(
        f"casebook_{s}.pdf" for s in Participant.objects.values_list("subject_id", flat=True)
    )
    assert names == expected
    first = _pages((tmp_path / "casebook_ITP-002.pdf").read_bytes())
    assert "ITP-002" in first[0]
