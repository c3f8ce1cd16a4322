"""A read-only view of one segment for the transaction parsers.

The tokenizer keeps bare lists for speed; parsers want missing trailing
elements to read as "", typed values, and errors that name the segment.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation

from denialflow.domain.types import to_money
from denialflow.edi.errors import X12Error
from denialflow.edi.tokenizer import Transaction


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
        try:
            number = Decimal(value)
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite():
            raise self.error(f"{self.label(i)} {value!r} is not a number")
        return number

    def money(self, i: int) -> Decimal | None:
        number = self.decimal(i)
        return None if number is None else to_money(number)

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


def parse_date(value: str) -> dt.date:
    """CCYYMMDD to a date; ValueError otherwise."""
    if len(value) != 8 or not value.isdigit():
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
