"""The ODM 1.3.2 export: valid against the official schema, every OID resolved, same data."""

from __future__ import annotations

import io

import pytest
from odmlib.exceptions import OdmlibOIDError

from exchange.standards.odm import odm_write
from tests.exchange.standards.validation import (
    assert_valid_odm,
    check_oids,
    schema_errors,
    value_errors,
)


def _odm(**kwargs) -> bytes:
    out = io.BytesIO()
    odm_write(out, **kwargs)
    return out.getvalue()


def test_it_validates_the_test_study_against_the_schema_with_every_oid_resolved(study):
    xml = _odm()
    assert_valid_odm(xml)


@pytest.mark.parametrize(
    "old, new",
    [
        ('ItemOID="IT.PLATELETS.PLATELETS_10E9_L"', 'ItemOID="IT.PLATELETS.PLATELETS"'),
        ('StudyEventOID="SE.V2"', 'StudyEventOID="SE.V2X"'),
        ('UserOID="USR.COORDINATOR"', 'UserOID="USR.NOBODY"'),
        ('CodeListOID="CL.SUBJECTS.SEX"', 'CodeListOID="CL.SEX"'),
    ],
)
def test_it_fails_validation_when_an_oid_reference_is_broken(study, old, new):
    xml = _odm()
    assert old.encode() in xml
    broken = xml.replace(old.encode(), new.encode(), 1)
    with pytest.raises(OdmlibOIDError):
        check_oids(broken)


def test_it_fails_validation_when_an_item_has_a_data_type_the_schema_does_not_know(study):
    xml = _odm()
    old = b'OID="IT.PLATELETS.PLATELETS_10E9_L" Name="platelets_10e9_l" DataType="integer"'
    assert old in xml
    broken = xml.replace(old, old.replace(b'"integer"', b'"number"'))
    assert any("DataType" in e for e in schema_errors(broken))


def test_it_fails_validation_when_a_value_does_not_fit_its_data_type(study):
    xml = _odm()
    old = b'ItemOID="IT.PLATELETS.PLATELETS_10E9_L" Value="15"'
    assert old in xml
    assert value_errors(xml) == []
    broken = xml.replace(old, b'ItemOID="IT.PLATELETS.PLATELETS_10E9_L" Value="fifteen"')
    assert value_errors(broken) == ["IT.PLATELETS.PLATELETS_10E9_L: 'fifteen' is not integer"]
    off_list = xml.replace(
        b'ItemOID="IT.SUBJECTS.SEX" Value="M"', b'ItemOID="IT.SUBJECTS.SEX" Value="X"', 1
    )
    assert value_errors(off_list) == ["IT.SUBJECTS.SEX: 'X' is not in CL.SUBJECTS.SEX"]


def test_it_validates_the_demo_trial_against_the_schema_with_every_oid_resolved(db):
    from django.core.management import call_command

    from subjects.models import Participant

    call_command("seed_demo", stdout=io.StringIO())
    xml = _odm()

    assert_valid_odm(xml)
    assert xml.count(b"<SubjectData ") == Participant.objects.count()
