"""Shared pieces of the outbound X12 writers (837P claims, 276 status requests).

Pure models and functions: no database, no Temporal. The writers always use
`*` between elements, `:` between components, `^` for repetitions and `~`
after segments, so every text value is checked here against those
characters: one stray `*` in a street name would shift every later element
and the payer would reject the whole file.
"""

from __future__ import annotations

import datetime as dt
import re
import string
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

ELEMENT = "*"
COMPONENT = ":"
REPETITION = "^"
TERMINATOR = "~"

# The X12 5010 extended character set without the four delimiters written above.
_ALLOWED = frozenset(string.ascii_letters + string.digits + "!\"&'()+,-./;?= %@[]_{}\\|<>`#$")


def _x12_text(value: str) -> str:
    bad = sorted({c for c in value if c not in _ALLOWED})
    if bad:
        shown = ", ".join(repr(c) for c in bad)
        raise ValueError(f"contains characters an X12 file cannot carry here: {shown}")
    return value


def _digits_only(value: object) -> object:
    # Phone numbers, EINs and ZIP codes arrive formatted ("(801) 555-0100",
    # "12-3456789", "84106-1149"); X12 wants the bare digits.
    if isinstance(value, str):
        return re.sub(r"[\s().-]", "", value)
    return value


Text = Annotated[str, StringConstraints(strip_whitespace=True), AfterValidator(_x12_text)]
Digits = Annotated[str, BeforeValidator(_digits_only)]

# CLM01 comes back as CLP01 on the 835 and is how denialflow matches money to
# claims: the TR3 lets receivers keep only 20 characters, and the reader turns
# any other character into "-", so anything outside this shape would not match.
PatientControlNumber = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9._-]{1,20}$")
]
Npi = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\d{10}$")]
Gender = Literal["F", "M", "U"]
IdQualifier = Literal["01", "14", "20", "27", "28", "29", "30", "33", "ZZ"]


class OutboundModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Address(OutboundModel):
    line1: Text = Field(min_length=1, max_length=55)
    line2: Text | None = Field(default=None, min_length=1, max_length=55)
    city: Text = Field(min_length=2, max_length=30)
    state: str = Field(pattern=r"^[A-Z]{2}$")
    zip: Digits = Field(pattern=r"^(\d{5}|\d{9})$")


class Party(OutboundModel):
    """An organisation named with its electronic id (NM1 ...*46*id)."""

    name: Text = Field(min_length=1, max_length=60)
    id: Text = Field(min_length=2, max_length=80)


class Receiver(Party):
    """The clearinghouse or payer the file goes to (837 loop 1000B)."""


class Submitter(Party):
    """Who sends the file (837 loop 1000A), with the person to call about it."""

    contact_name: Text = Field(min_length=1, max_length=60)
    contact_phone: Digits = Field(pattern=r"^\d{10}$")


class Provider(OutboundModel):
    """A provider as the 276 names it: organisation name and NPI."""

    name: Text = Field(min_length=1, max_length=60)
    npi: Npi


class BillingProvider(Provider):
    ein: Digits = Field(pattern=r"^\d{9}$")
    address: Address
    taxonomy: str | None = Field(default=None, pattern=r"^[0-9]{3}[0-9A-Z]{6}X$")

    @field_validator("address")
    @classmethod
    def _zip_plus_four(cls, address: Address) -> Address:
        # 837P 2010AA N403: the billing provider's ZIP must be all nine digits;
        # payers reject the claim at the front door otherwise.
        if len(address.zip) != 9:
            raise ValueError("the billing provider needs the nine-digit ZIP+4")
        return address


class Payer(OutboundModel):
    name: Text = Field(min_length=1, max_length=60)
    id: Text = Field(min_length=2, max_length=80)
    # SBR09: CI commercial, MB Medicare Part B, MC Medicaid, BL Blue Cross, HM HMO...
    claim_filing_indicator: Literal[
        "11", "12", "13", "14", "15", "16", "17", "AM", "BL", "CH", "CI", "DS", "FI",
        "HM", "LM", "MA", "MB", "MC", "OF", "TV", "VA", "WC", "ZZ",
    ] = "CI"  # fmt: skip


class Subscriber(OutboundModel):
    """The insured member. Birth date, gender and address are needed only when
    the subscriber is also the patient (the writers check that)."""

    member_id: Text = Field(min_length=2, max_length=80)
    last_name: Text = Field(min_length=1, max_length=60)
    first_name: Text = Field(default="", max_length=35)
    birth_date: dt.date | None = None
    gender: Gender | None = None
    address: Address | None = None
    group_number: Text | None = Field(default=None, min_length=1, max_length=50)


class Patient(OutboundModel):
    """A patient who is not the subscriber (a dependent)."""

    last_name: Text = Field(min_length=1, max_length=60)
    first_name: Text = Field(default="", max_length=35)
    birth_date: dt.date
    gender: Gender
    address: Address
    # PAT01 / relationship to the subscriber: 01 spouse, 19 child, 20 employee,
    # 21 unknown, 39 organ donor, 40 cadaver donor, 53 life partner, G8 other.
    relationship: Literal["01", "19", "20", "21", "39", "40", "53", "G8"]


class InterchangeSettings(OutboundModel):
    """ISA/GS/ST identity of one outbound file. Control numbers must be unique
    per trading partner; the caller owns the counters."""

    sender_qualifier: IdQualifier = "ZZ"
    sender_id: Text = Field(min_length=2, max_length=15)
    receiver_qualifier: IdQualifier = "ZZ"
    receiver_id: Text = Field(min_length=2, max_length=15)
    # GS02/GS03; the ISA ids when not given.
    application_sender: Text | None = Field(default=None, min_length=2, max_length=15)
    application_receiver: Text | None = Field(default=None, min_length=2, max_length=15)
    interchange_control_number: int = Field(ge=1, le=999_999_999)  # ISA13
    group_control_number: int = Field(ge=1, le=999_999_999)  # GS06
    transaction_control_number: int = Field(ge=1, le=999_999_999)  # ST02
    created: dt.datetime
    usage: Literal["T", "P"]  # no default: a test file sent as P gets adjudicated
    acknowledgment_requested: bool = False  # ISA14: ask for a TA1


# --- formatting ------------------------------------------------------------


def amount(value: Decimal) -> str:
    """An X12 R (decimal) value: "125", "125.5", "125.25"; never an exponent."""
    if not value.is_finite():
        raise ValueError(f"{value} is not a finite amount")
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def d8(day: dt.date) -> str:
    return day.strftime("%Y%m%d")


def rd8(first: dt.date, last: dt.date) -> str:
    return f"{d8(first)}-{d8(last)}"


def composite(*parts: str | None) -> str:
    return COMPONENT.join(_trim([p or "" for p in parts]))


def _trim(values: list[str]) -> list[str]:
    # X12 forbids trailing separators: drop empty trailing elements/components.
    while values and not values[-1]:
        values.pop()
    return values


class Segments:
    """The segments of one transaction set, ST and SE excluded."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, segment_id: str, *elements: str | None) -> None:
        self.items.append(ELEMENT.join(_trim([segment_id, *(e or "" for e in elements)])))

    def __len__(self) -> int:
        return len(self.items)


def _fixed(value: str, width: int) -> str:
    return value.ljust(width)[:width]


def interchange(
    settings: InterchangeSettings,
    *,
    functional_id: str,
    set_id: str,
    version: str,
    body: Segments,
    line_breaks: bool = True,
) -> str:
    """One transaction set in its ST/SE, GS/GE and ISA/IEA envelopes, with counts."""
    s = settings
    when = s.created
    ctrl = f"{s.interchange_control_number:09d}"
    st_ctrl = f"{s.transaction_control_number:04d}"
    isa = ELEMENT.join(
        [
            "ISA",
            "00",
            " " * 10,
            "00",
            " " * 10,
            s.sender_qualifier,
            _fixed(s.sender_id, 15),
            s.receiver_qualifier,
            _fixed(s.receiver_id, 15),
            when.strftime("%y%m%d"),
            when.strftime("%H%M"),
            REPETITION,
            "00501",
            ctrl,
            "1" if s.acknowledgment_requested else "0",
            s.usage,
            COMPONENT,
        ]
    )
    group = str(s.group_control_number)
    segments = [
        isa,
        ELEMENT.join(
            [
                "GS",
                functional_id,
                s.application_sender or s.sender_id,
                s.application_receiver or s.receiver_id,
                when.strftime("%Y%m%d"),
                when.strftime("%H%M"),
                group,
                "X",
                version,
            ]
        ),
        ELEMENT.join(["ST", set_id, st_ctrl, version]),
        *body.items,
        ELEMENT.join(["SE", str(len(body) + 2), st_ctrl]),
        ELEMENT.join(["GE", "1", group]),
        ELEMENT.join(["IEA", "1", ctrl]),
    ]
    end = TERMINATOR + ("\n" if line_breaks else "")
    return end.join(segments) + end
