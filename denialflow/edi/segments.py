"""A read-only view of one segment for the transaction parsers.

The tokenizer keeps bare lists for speed; parsers want missing trailing
elements to read as "", typed values, and errors that name the segment.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from decimal import Decimal

from denialflow.domain.types import CENT
from denialflow.edi.errors import X12Error
from denialflow.edi.tokenizer import Transaction, quoted

# X12 R (decimal) as the 005010 TR3s allow it: ASCII digits, an optional leading minus
# and decimal point, no exponent, at most 18 digits. Python's Decimal() would also take
# "1E+999999", "NaN", "1_000" and non-ASCII digits, and a long enough value then breaks
# quantize (InvalidOperation) or int() (the 4,300-digit limit) far from the segment.
_DECIMAL = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)\Z")
MAX_DIGITS = 18
# No claim line or payment denialflow handles comes near this; a larger amount is a
# broken file, and refusing it keeps every sum well inside Decimal's 28-digit precision.
MAX_AMOUNT = Decimal("99999999.99")
# An integer element (N0: counts, pointers) is at most this many digits in any X12 rule.
MAX_INTEGER_DIGITS = 9


def read_decimal(value: str) -> Decimal | None:
    """A stripped, non-empty element text as an X12 decimal; None when it is not one
    (wrong characters, or more than MAX_DIGITS digits)."""
    if len(value) > MAX_DIGITS + 2 or _DECIMAL.match(value) is None:
        return None
    if len(value) - (value[0] == "-") - ("." in value) > MAX_DIGITS:
        return None
    return Decimal(value)


def decimal_problem(label: str, value: str) -> str:
    """Why `value` (stripped, non-empty) is not an X12 decimal, for an X12Error."""
    if _DECIMAL.match(value) is not None:
        return (
            f"{label} has {sum(c.isdigit() for c in value)} digits; X12 allows at most {MAX_DIGITS}"
        )
    return f"{label} {quoted(value)} is not a number"


def amount_problem(label: str, number: Decimal) -> str | None:
    """Why a decimal cannot be money, or None when it can: whole cents, within MAX_AMOUNT."""
    if abs(number) > MAX_AMOUNT:
        return f"{label} {number} is over {MAX_AMOUNT:,}, the largest amount denialflow takes"
    cents = number.quantize(CENT)
    if cents != number:
        return f"{label} {number} has more than 2 decimal places"
    return None


def to_amount(number: Decimal) -> Decimal | None:
    """`number` in cents when amount_problem finds nothing, else None."""
    if abs(number) > MAX_AMOUNT:
        return None
    cents = number.quantize(CENT)
    return cents if cents == number else None


class Seg:
    __slots__ = ("elements", "offset", "tx")

    def __init__(self, tx: Transaction, offset: int) -> None:
        self.tx = tx
        self.offset = offset
        self.elements = tx.segments[offset]

    @property
    def id(self) -> str:
        return self.elements[0]

    @property
    def number(self) -> int:
        return self.tx.first_segment + self.offset

    def __getitem__(self, i: int) -> str:
        return self.elements[i] if i < len(self.elements) else ""

    def label(self, i: int) -> str:
        return f"{self.id}{i:02d}"

    def error(self, message: str) -> X12Error:
        return X12Error(self.tx.file, self.number, self.id, message)

    def parts(self, i: int) -> list[str]:
        """Components of composite element i ([] when empty)."""
        value = self[i]
        return value.split(self.tx.delimiters.component) if value else []

    def decimal(self, i: int) -> Decimal | None:
        value = self[i].strip()
        if not value:
            return None
        number = read_decimal(value)
        if number is None:
            raise self.error(decimal_problem(self.label(i), value))
        return number

    def money(self, i: int) -> Decimal | None:
        number = self.decimal(i)
        if number is None:
            return None
        cents = to_amount(number)
        if cents is None:
            raise self.error(amount_problem(self.label(i), number) or "not an amount")
        return cents

    def integer(self, i: int) -> int | None:
        """An N0 element: ASCII digits only, at most MAX_INTEGER_DIGITS of them."""
        value = self[i].strip()
        if not value:
            return None
        if not (value.isascii() and value.isdigit()):
            raise self.error(f"{self.label(i)} {quoted(value)} is not a whole number")
        if len(value) > MAX_INTEGER_DIGITS:
            raise self.error(
                f"{self.label(i)} has {len(value)} digits; at most {MAX_INTEGER_DIGITS} here"
            )
        return int(value)

    def amount(self, i: int) -> Decimal:
        """A required money element."""
        number = self.money(i)
        if number is None:
            raise self.error(f"{self.label(i)} (amount) is missing")
        return number

    def date(self, i: int, warnings: list[str]) -> dt.date | None:
        """CCYYMMDD; a bad date is noted in `warnings` rather than failing the
        whole file, because the money in the file is still good."""
        value = self[i].strip()
        if not value:
            return None
        try:
            return parse_date(value)
        except ValueError:
            warnings.append(
                f"segment {self.number} ({self.id}): {self.label(i)} {value!r} is not a date"
            )
            return None

    def period(self, i: int, warnings: list[str]) -> tuple[dt.date | None, dt.date | None]:
        """A DTP-style value: D8 (one date) or RD8 (CCYYMMDD-CCYYMMDD)."""
        value = self[i].strip()
        start, _, end = value.partition("-")
        try:
            first = parse_date(start) if start else None
            last = parse_date(end) if end else first
        except ValueError:
            warnings.append(
                f"segment {self.number} ({self.id}): {self.label(i)} {value!r} is not a date"
            )
            return None, None
        return first, last


class SegmentReader:
    """A transaction's reader: `read` hands each segment to the reader's `on_<ID>`
    method; a segment with none is one this reader has no use for."""

    def read(self, seg: Seg) -> None:
        handler = getattr(self, f"on_{seg.id}", None)
        if handler is not None:
            handler(seg)


def parse_date(value: str) -> dt.date:
    """CCYYMMDD to a date; ValueError otherwise."""
    if len(value) != 8 or not (value.isascii() and value.isdigit()):
        raise ValueError(value)
    return dt.date(int(value[:4]), int(value[4:6]), int(value[6:]))


def walk(tx: Transaction) -> Iterator[Seg]:
    for offset in range(len(tx.segments)):
        yield Seg(tx, offset)


def person_name(seg: Seg) -> str:
    """NM1 name as "LAST, FIRST MIDDLE" (an organisation keeps NM103 alone)."""
    return format_name(seg[3], seg[4], seg[5])


def format_name(last: str, first: str, middle: str) -> str:
    """NM103/NM104/NM105 as "LAST, FIRST MIDDLE", skipping blank parts."""
    last, first, middle = last.strip(), first.strip(), middle.strip()
    given = f"{first} {middle}" if first and middle else first or middle
    return f"{last}, {given}" if last and given else last or given
