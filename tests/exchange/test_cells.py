from datetime import date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from exchange.cells import cell, format_value, neutralise, unneutralise


@pytest.mark.parametrize(
    "text, written",
    [
        ("=SUM(A1:A9)", "'=SUM(A1:A9)"),
        ('=HYPERLINK("http://evil.test","x")', '\'=HYPERLINK("http://evil.test","x")'),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("@SUM(1,2)", "'@SUM(1,2)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("-", "'-"),
        ("- not a number", "'- not a number"),
    ],
)
def test_it_neutralises_a_cell_a_spreadsheet_would_run(text, written):
    assert neutralise(text) == written
    assert unneutralise(written) == text


@pytest.mark.parametrize("number", ["-12", "-3.5", "+7", "-0.25", "-1e3", "12", "0"])
def test_it_leaves_a_real_number_alone(number):
    assert neutralise(number) == number
    assert unneutralise(number) == number


@pytest.mark.parametrize(
    "text", ["", "Fever", "'quoted already", "'=SUM(1)", "''=x", "a=b", "IVIg 1 g/kg"]
)
def test_it_reads_back_exactly_what_was_written(text):
    assert unneutralise(neutralise(text)) == text


def test_it_writes_the_contract_formats():
    shanghai = datetime(2026, 3, 1, 6, 30, tzinfo=ZoneInfo("UTC"))
    assert format_value(None) == ""
    assert format_value(True) == "Y"
    assert format_value(False) == "N"
    assert format_value(date(2026, 2, 28)) == "2026-02-28"
    assert format_value(shanghai) == "2026-03-01T14:30:00+08:00"
    assert format_value(time(9, 30)) == "09:30:00"
    assert format_value(Decimal("1E+8")) == "100000000"
    assert format_value(6_000_000_000) == "6000000000"
    assert cell(Decimal("-12.50")) == "-12.50"
    assert cell(-3) == "-3"
