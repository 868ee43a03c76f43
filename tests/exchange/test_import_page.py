"""The lab results page: upload, preview the changes or the refusals, confirm."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from exchange.models import DataImport
from tests.exchange.conftest import snapshot
from tests.exchange.study import csv_text
from visits.models import PlateletCount
from visits.services import platelet_record

HEADER = ["subject_id", "sample_date", "platelets_10e9_l", "who_bleeding_grade", "visit_code"]
URL = "exchange:import_platelets"


def _upload(client, text: str, name: str = "lab.csv"):
    upload = SimpleUploadedFile(name, text.encode(), content_type="text/csv")
    return client.post(reverse(URL), {"action": "preview", "file": upload})


def _token(client) -> str:
    return client.session["exchange.platelets_upload"]["token"]


@pytest.fixture
def lab_file(treated, coordinator, today):
    """One new count and one correction of a stored one."""
    stored_day = today - timedelta(days=4)
    platelet_record(
        participant=treated,
        user=coordinator,
        sample_date=stored_day,
        platelets=40,
        who_bleeding_grade=0,
    )
    return csv_text(
        HEADER,
        ["ITP-001", stored_day.isoformat(), "44", "0", "UNS"],
        ["ITP-001", (today - timedelta(days=2)).isoformat(), "61", "1", "UNS"],
    )


@pytest.mark.django_db
def test_it_is_for_data_managers_only(client, monitor, coordinator, data_manager):
    for user in (monitor, coordinator):
        client.force_login(user)
        assert client.get(reverse(URL)).status_code == 403
    client.force_login(data_manager)
    page = client.get(reverse(URL))
    assert page.status_code == 200
    assert b'data-testid="import-upload"' in page.content


@pytest.mark.django_db
def test_it_previews_the_changes_without_writing(client, data_manager, lab_file):
    client.force_login(data_manager)
    before = snapshot()

    page = _upload(client, lab_file)

    assert page.status_code == 200
    assert page.context["counts"] == {"new": 1, "changed": 1, "unchanged": 0}
    change = page.context["changed"][0].changes[0]
    assert (change.column, change.old, change.new) == ("platelets_10e9_l", "40", "44")
    assert b'data-testid="import-confirm"' in page.content
    assert snapshot() == before


@pytest.mark.django_db
def test_it_asks_for_the_reason_of_a_change_then_imports_on_confirmation(
    client, data_manager, lab_file, treated
):
    client.force_login(data_manager)
    _upload(client, lab_file)

    refused = client.post(reverse(URL), {"action": "confirm", "token": _token(client)})

    assert refused.status_code == 200
    assert "reason" in refused.context["confirm_form"].errors
    assert DataImport.objects.count() == 0

    done = client.post(
        reverse(URL),
        {"action": "confirm", "token": _token(client), "reason": "Lab re-ran the sample"},
    )

    assert done.status_code == 302
    counts = {c.sample_date: c for c in PlateletCount.objects.filter(participant=treated)}
    assert sorted(c.platelets for c in counts.values()) == [44, 61]
    corrected = next(c for c in counts.values() if c.platelets == 44)
    assert corrected.history.latest().history_change_reason == "Lab re-ran the sample"
    record = DataImport.objects.get()
    assert (record.imported_by, record.reason) == (data_manager, "Lab re-ran the sample")
    assert record.summary["counts"]["platelets.csv"] == {"new": 1, "changed": 1, "unchanged": 0}
    assert "exchange.platelets_upload" not in client.session


@pytest.mark.django_db
def test_it_shows_every_refusal_and_offers_no_confirmation(client, data_manager, treated, today):
    client.force_login(data_manager)
    text = csv_text(
        HEADER,
        ["ITP-001", (today - timedelta(days=2)).isoformat(), "12O", "0", "UNS"],
        ["ITP-001", (today + timedelta(days=2)).isoformat(), "50", "0", "UNS"],
    )
    before = snapshot()

    page = _upload(client, text)

    issues = [(i.row, i.column) for i in page.context["result"].issues]
    assert issues == [(1, "platelets_10e9_l"), (2, "sample_date")]
    assert b'data-testid="import-errors"' in page.content
    assert b'data-testid="import-confirm"' not in page.content
    assert snapshot() == before


@pytest.mark.django_db
def test_it_refuses_a_stale_confirmation(client, data_manager, lab_file):
    client.force_login(data_manager)
    _upload(client, lab_file)

    response = client.post(reverse(URL), {"action": "confirm", "token": "not-the-one"})

    assert response.status_code == 302
    assert DataImport.objects.count() == 0


@pytest.mark.django_db
def test_it_previews_refusals_duplicates_and_new_values_truthfully(
    client, data_manager, treated, today
):
    client.force_login(data_manager)
    day = lambda n: (today - timedelta(days=n)).isoformat()  # noqa: E731
    text = csv_text(
        HEADER,
        ["ITP-001", day(2), "61", "1", "UNS"],
        ["ITP-001", day(3), "62", "7", "UNS"],
        ["ITP-001", (today + timedelta(days=3)).isoformat(), "64", "0", "UNS"],
        ["ITP-001", (today + timedelta(days=4)).isoformat(), "65", "0", "UNS"],
        ["ITP-001", day(2), "66", "0", "UNS"],
    )

    page = _upload(client, text, name="hospital-lab-2026-11.csv")

    messages = {(i.row, i.column): i.message for i in page.context["result"].issues}
    assert "7 was entered" in messages[(2, "who_bleeding_grade")]
    # Rows 3 and 4 both have a future date: neither is a "duplicate" of the other.
    assert (4, "") not in messages
    assert messages[(5, "")] == f"Same subject_id + sample_date (ITP-001, {day(2)}) as row 1."
    # Only row 1 is new; the four refused rows are counted as refused, not new.
    assert page.context["counts"] == {"new": 1, "changed": 0, "unchanged": 0, "refused": 4}
    assert [o.row for o, _values in page.context["new"]] == [1]
    assert page.context["new"][0][1] == ["61", "1", "UNS"]
    assert b"hospital-lab-2026-11.csv" in page.content


@pytest.mark.django_db
def test_it_lists_recent_imports_by_the_uploaded_file_name(client, data_manager, treated, today):
    client.force_login(data_manager)
    _upload(
        client,
        csv_text(HEADER, ["ITP-001", (today - timedelta(days=2)).isoformat(), "61", "1", "UNS"]),
        name="lab-nov.csv",
    )
    client.post(reverse(URL), {"action": "confirm", "token": _token(client)})

    page = client.get(reverse(URL))

    assert DataImport.objects.get().summary["upload_name"] == "lab-nov.csv"
    assert 'data-testid="import-files">lab-nov.csv' in page.content.decode()


@pytest.mark.django_db
def test_it_refuses_a_nul_byte_with_a_message_and_writes_nothing(
    client, data_manager, treated, today
):
    day = (today - timedelta(days=2)).isoformat()
    text = csv_text(HEADER, ["ITP-001", day, "6\x001", "1", "UNS"])
    before = snapshot()
    client.force_login(data_manager)

    page = _upload(client, text)

    assert page.status_code == 200
    assert "Line 2 contains a NUL character (byte 0)" in page.content.decode()
    assert b'data-testid="import-confirm"' not in page.content
    assert snapshot() == before
    assert not PlateletCount.objects.filter(sample_date=day).exists()


@pytest.mark.django_db
def test_a_file_of_more_rows_than_the_page_takes_is_refused_before_any_preview(
    client, data_manager, treated, today
):
    from exchange.forms import MAX_UPLOAD_ROWS

    day = (today - timedelta(days=1)).isoformat()
    rows = [["ITP-001", day, "50", "0", "UNS"]] * (MAX_UPLOAD_ROWS + 1)
    client.force_login(data_manager)
    before = snapshot()
    page = _upload(client, csv_text(HEADER, *rows))
    assert page.status_code == 200
    assert "more than 5,000 rows" in page.content.decode()
    assert "exchange.platelets_upload" not in client.session
    assert snapshot() == before
    # At the cap, the file is previewed (its duplicate rows refused, by the import).
    page = _upload(client, csv_text(HEADER, *rows[:MAX_UPLOAD_ROWS]))
    assert "more than 5,000 rows" not in page.content.decode()
    assert "exchange.platelets_upload" in client.session
