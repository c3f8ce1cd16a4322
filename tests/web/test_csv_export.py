"""CSV downloads that Excel opens cleanly: BOM, CRLF, ISO dates, plain numbers, empty
for None, and formula injection neutralised in text (never in numbers)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from denialflow.web.csv_export import BOM, csv_cell, csv_response, csv_text


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        (None, ""),
        ("", ""),
        ("Muñoz", "Muñoz"),
        (0, "0"),
        (-3, "-3"),
        (12345678, "12345678"),
        (True, "true"),
        (False, "false"),
        (1.5, "1.5"),
        (float("nan"), ""),
        (Decimal("1234567.50"), "1234567.50"),
        (Decimal("-12.50"), "-12.50"),
        (Decimal("1E+3"), "1000"),
        (Decimal("0.00"), "0.00"),
        (Decimal("NaN"), ""),
        (date(2026, 1, 31), "2026-01-31"),
        (datetime(2026, 1, 31, 14, 5, tzinfo=UTC), "2026-01-31T14:05:00+00:00"),
        (
            datetime(2026, 1, 31, 14, 5, tzinfo=timezone(timedelta(hours=-6))),
            "2026-01-31T14:05:00-06:00",
        ),
        # Formula injection: text starting = + - @ tab CR gets an apostrophe.
        ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        # ...but text that is just a number stays a number.
        ("-12.50", "-12.50"),
        ("+3", "+3"),
        ("a=b", "a=b"),
        # A linked table cell keeps its text.
        ({"text": "=cmd", "href": "/x"}, "'=cmd"),
        ({"text": Decimal("-1.00"), "href": "/x"}, "-1.00"),
    ],
)
def test_cell(value: object, cell: str) -> None:
    assert csv_cell(value) == cell


def test_file_has_bom_crlf_and_reads_back() -> None:
    text = csv_text(
        ["Day", "Name", "Amount"],
        [
            (date(2026, 1, 2), 'Smith, "Jr"', Decimal("-12.50")),
            (date(2026, 1, 3), "line\nbreak", None),
        ],
    )
    assert text.startswith(BOM + "Day,Name,Amount\r\n")
    assert text.endswith("\r\n")
    rows = list(csv.reader(io.StringIO(text.removeprefix(BOM), newline="")))
    assert rows == [
        ["Day", "Name", "Amount"],
        ["2026-01-02", 'Smith, "Jr"', "-12.50"],
        ["2026-01-03", "line\nbreak", ""],
    ]


def test_headers_are_neutralised_too() -> None:
    assert csv_text(["=evil"], []) == BOM + "'=evil\r\n"


def test_response_is_an_attachment_in_utf8_with_a_safe_name() -> None:
    response = csv_response(
        'report "x"/../2026', ["Name"], iter([("Muñoz",)])
    )  # a generator is fine
    assert response.media_type == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="report-x-..-2026.csv"'
    assert response.headers["cache-control"] == "no-store"
    assert response.body.startswith(b"\xef\xbb\xbfName\r\n")
    assert response.body.decode("utf-8") == BOM + "Name\r\nMuñoz\r\n"


def test_response_keeps_a_csv_suffix_once() -> None:
    response = csv_response("productivity-people.csv", ["a"], [])
    assert response.headers["content-disposition"] == (
        'attachment; filename="productivity-people.csv"'
    )
    assert csv_response("", ["a"], []).headers["content-disposition"] == (
        'attachment; filename="export.csv"'
    )
