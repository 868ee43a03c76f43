"""The Exports page's standards downloads: ODM XML and the SDTM zip, for exporters only."""

from __future__ import annotations

import hashlib
import io
import zipfile

import pytest
from django.urls import reverse

from exchange.models import DataExport
from exchange.standards.sdtm import spec
from exchange.standards.sdtm.write import DEFINE_FILENAME
from subjects.models import Participant
from tests.exchange.standards.validation import assert_valid_odm, schema_errors

pytestmark = pytest.mark.django_db

URLS = ("exchange:export_odm", "exchange:export_sdtm")


@pytest.mark.parametrize("url", URLS)
def test_it_refuses_the_standards_files_to_those_who_cannot_export(
    client, coordinator, investigator, url
):
    for user in (coordinator, investigator):
        client.force_login(user)
        assert client.get(reverse(url)).status_code == 403
    assert not DataExport.objects.exists()


def test_it_links_both_downloads_from_the_exports_page(client, monitor):
    client.force_login(monitor)
    page = client.get(reverse("exchange:exports")).content.decode()
    for url in URLS:
        assert reverse(url) in page


def _body(response) -> bytes:
    assert response.status_code == 200
    assert response.streaming
    return b"".join(response.streaming_content)


def test_it_streams_a_valid_odm_file_and_records_the_export(client, study, monitor):
    client.force_login(monitor)

    response = client.get(reverse("exchange:export_odm"))

    content = _body(response)
    assert response["Content-Type"] == "application/xml"
    assert ".xml" in response["Content-Disposition"]
    assert_valid_odm(content)
    assert content.count(b"<SubjectData ") == Participant.objects.count()
    export = DataExport.objects.get()
    assert (export.exported_by, export.datasets) == (monitor, "odm")
    assert export.manifest[0]["sha256"] == hashlib.sha256(content).hexdigest()
    assert export.manifest[0]["rows"] == Participant.objects.count()


def test_it_streams_the_sdtm_zip_with_every_domain_and_define_xml(client, study, data_manager):
    client.force_login(data_manager)

    response = client.get(reverse("exchange:export_sdtm"))

    content = _body(response)
    assert response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(content))
    expected = {f"{d.name.lower()}.{ext}" for d in spec.DOMAINS for ext in ("xpt", "csv")}
    assert set(archive.namelist()) == expected | {DEFINE_FILENAME}
    assert schema_errors(archive.read(DEFINE_FILENAME), "define", "2.1") == []
    dm = archive.read("dm.csv").decode().splitlines()
    assert len(dm) == Participant.objects.count() + 1
    export = DataExport.objects.get()
    assert (export.exported_by, export.datasets) == (data_manager, "sdtm")
    assert export.manifest[0]["sha256"] == hashlib.sha256(content).hexdigest()
