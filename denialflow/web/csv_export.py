"""CSV downloads of report tables that open cleanly in Excel.

- UTF-8 with a byte-order mark: without it Excel reads the file as the machine's legacy
  code page and mangles names like "Muñoz".
- CRLF line ends, as RFC 4180 says and Excel writes.
- Dates and times in ISO 8601 (2025-01-31, 2025-01-31T14:05:00-06:00), never in a
  locale's order.
- Numbers plain: Decimal money as "1234.50" (no thousands separator, no currency sign,
  never an exponent), so a spreadsheet reads them as numbers and sums them.
- Text a spreadsheet would run as a formula (a leading =, +, -, @, tab or carriage
  return: "=HYPERLINK(...)" in a payer's name) gets a leading apostrophe, which shows
  the text as typed. Numbers are left alone: a negative amount stays -12.50.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal

from fastapi.responses import Response

__all__ = ["BOM", "csv_cell", "csv_response", "csv_text"]

BOM = "\ufeff"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Text that is just a number ("-12.50", "+3") is safe to leave as it is.
_PLAIN_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")


def _text(value: str) -> str:
    if value.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def csv_cell(value: object) -> str:
    """One value as the text of its cell (see the module's notes)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f") if value.is_finite() else ""
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ""
    # datetime before date: every datetime is a date too.
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping) and "text" in value:
        # A linked table cell ({"text": ..., "href": ...}): the file keeps the text.
        return csv_cell(value["text"])
    return _text(str(value))


def csv_text(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """The file's text: the BOM, the header line, then one line per row, CRLF-ended."""
    buffer = io.StringIO()
    buffer.write(BOM)
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([_text(h) for h in headers])
    for row in rows:
        writer.writerow([csv_cell(v) for v in row])
    return buffer.getvalue()


def csv_response(filename: str, headers: list[str], rows: Iterable[Sequence[object]]) -> Response:
    """A download of the table as `filename` (anything but letters, digits, '.', '_'
    and '-' becomes '-'; ".csv" is added when missing)."""
    name = _UNSAFE_FILENAME.sub("-", filename).strip("-.") or "export"
    if not name.lower().endswith(".csv"):
        name += ".csv"
    return Response(
        csv_text(headers, rows).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )
