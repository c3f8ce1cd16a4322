"""270 (005010X279A1) eligibility inquiries: is this member covered, and for what?

Hierarchy: information source, the payer (HL 20) > information receiver, the
practice or provider asking, named by NPI (HL 21) > subscriber (HL 22) >
dependent (HL 23, only when the patient is not the subscriber). The patient's
level carries TRN (the trace the 271 echoes, so an answer finds its
inquiry), name, demographics, DTP*291 (the day asked about) and one EQ loop
per service type. One EQ loop per code rather than EQ01 repetitions: every
payer must take several 2110 loops, while support for repetitions varies.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from itertools import groupby
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from denialflow.edi.outbound import (
    Gender,
    InterchangeSettings,
    OutboundModel,
    Payer,
    Provider,
    Segments,
    Subscriber,
    Text,
    d8,
    interchange,
)

VERSION = "005010X279A1"
# An EQ01 code: one or two capital letters or digits (30, 98, AL, MH...).
ServiceType = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9A-Z]{1,2}$")]


class Dependent(OutboundModel):
    """A patient covered through the subscriber. Payers find a dependent by
    name and birth date under the subscriber's member id; dependents have no
    id of their own in a 270."""

    last_name: Text = Field(min_length=1, max_length=60)
    first_name: Text = Field(default="", max_length=35)
    birth_date: dt.date
    gender: Gender | None = None
    # INS02: 01 spouse, 19 child, 34 other adult; left out when not known.
    relationship: Literal["01", "19", "34"] | None = None


class EligibilityInquiry(OutboundModel):
    payer: Payer  # the information source
    subscriber: Subscriber
    dependent: Dependent | None = None  # None: the subscriber is the patient
    # TRN02, echoed by the 271 (TRN*2); unique per inquiry.
    trace_number: Text = Field(min_length=1, max_length=50)
    service_date: dt.date | None = None  # DTP*291; the payer answers for today when absent
    service_types: list[ServiceType] = Field(default=["30"], min_length=1, max_length=99)


class EligibilityBatch(OutboundModel):
    interchange: InterchangeSettings
    provider: Provider  # the information receiver: the practice or provider asking
    # TRN03: who assigned the trace numbers, "1" followed by our EIN (or "9"
    # and an id of our choosing); the 271 echoes it with each trace.
    trace_assigner: str = Field(pattern=r"^[19]\d{9}$")
    inquiries: list[EligibilityInquiry]
    # BHT03, the batch's own reference, echoed in the 271; the transaction
    # control number when absent.
    reference: Text | None = Field(default=None, min_length=1, max_length=50)


def inquiry_problems(inquiry: EligibilityInquiry) -> list[str]:
    """What keeps an inquiry from being written, as "field: problem" texts."""
    problems = []
    if inquiry.dependent is None and inquiry.subscriber.birth_date is None:
        # The payers' search (member id, name and birth date) needs the birth
        # date of whoever the patient is.
        problems.append("subscriber.birth_date: required when the subscriber is the patient")
    if not inquiry.subscriber.first_name:
        problems.append("subscriber.first_name: payers search by last and first name")
    if len(set(inquiry.service_types)) != len(inquiry.service_types):
        problems.append(f"service_types: {inquiry.service_types} repeats a code")
    patient_birth = (inquiry.dependent or inquiry.subscriber).birth_date
    if inquiry.service_date and patient_birth and inquiry.service_date < patient_birth:
        problems.append(
            f"service_date: {inquiry.service_date} is before the patient's birth on {patient_birth}"
        )
    return problems


def write_270(batch: EligibilityBatch, *, line_breaks: bool = True) -> str:
    """The inquiries as one 270 interchange. Raises ValueError naming the
    inquiry (its trace number) and field when one cannot be written."""
    if not batch.inquiries:
        raise ValueError("270 batch has no inquiries")
    traces = [i.trace_number for i in batch.inquiries]
    repeated = sorted({t for t in traces if traces.count(t) > 1})
    if repeated:
        # The trace is how a 271 answer finds its inquiry; two alike would be ambiguous.
        raise ValueError(f"trace numbers {repeated} are used more than once")
    for inquiry in batch.inquiries:
        problems = inquiry_problems(inquiry)
        if problems:
            raise ValueError(f"inquiry {inquiry.trace_number!r}: " + "; ".join(problems))
    s = batch.interchange
    body = Segments()
    reference = batch.reference or f"{s.transaction_control_number:04d}"
    # 0022 source/receiver/subscriber/dependent hierarchy; 13 request.
    body.add("BHT", "0022", "13", reference, d8(s.created.date()), s.created.strftime("%H%M"))
    hl = _Counter()
    provider = batch.provider
    # Consecutive inquiries to one payer share its loops. Order is kept, so a
    # caller sorting by payer and subscriber gets the tightest file.
    for payer, by_payer in groupby(batch.inquiries, key=lambda i: i.payer):
        payer_hl = hl.open(body, None, "20", True)
        body.add("NM1", "PR", "2", payer.name, "", "", "", "", "PI", payer.id)
        receiver_hl = hl.open(body, payer_hl, "21", True)
        body.add("NM1", "1P", "2", provider.name, "", "", "", "", "XX", provider.npi)
        for inquiries in _by_subscriber(list(by_payer)):
            first = inquiries[0]
            self_ = first.dependent is None
            subscriber_hl = hl.open(body, receiver_hl, "22", not self_)
            if self_:
                body.add("TRN", "1", first.trace_number, batch.trace_assigner)
            _subscriber(body, first.subscriber, with_demographics=self_)
            if self_:
                _asked(body, first)
                continue
            for inquiry in inquiries:
                dependent = inquiry.dependent
                assert dependent is not None  # _by_subscriber groups dependents only
                hl.open(body, subscriber_hl, "23", False)
                body.add("TRN", "1", inquiry.trace_number, batch.trace_assigner)
                body.add("NM1", "03", "1", dependent.last_name, dependent.first_name)
                body.add("DMG", "D8", d8(dependent.birth_date), _gender(dependent.gender))
                if dependent.relationship:
                    body.add("INS", "N", dependent.relationship)
                _asked(body, inquiry)
    return interchange(
        batch.interchange,
        functional_id="HS",
        set_id="270",
        version=VERSION,
        body=body,
        line_breaks=line_breaks,
    )


def _by_subscriber(inquiries: list[EligibilityInquiry]) -> Iterator[list[EligibilityInquiry]]:
    """Runs of dependents of one subscriber share the subscriber's level. A
    subscriber asked about themselves gets a level per inquiry, since TRN, DTP
    and EQ at that level belong to exactly one inquiry."""
    run: list[EligibilityInquiry] = []
    for inquiry in inquiries:
        last = run[-1] if run else None
        if (
            last is not None
            and last.dependent is not None
            and inquiry.dependent is not None
            and last.subscriber == inquiry.subscriber
        ):
            run.append(inquiry)
            continue
        if run:
            yield run
        run = [inquiry]
    if run:
        yield run


def _gender(gender: str | None) -> str | None:
    # X279A1 DMG03 takes F or M only; unknown is said by leaving it out.
    return gender if gender in ("F", "M") else None


class _Counter:
    def __init__(self) -> None:
        self.last = 0

    def open(self, body: Segments, parent: int | None, level: str, children: bool) -> int:
        self.last += 1
        parent_id = "" if parent is None else str(parent)
        body.add("HL", str(self.last), parent_id, level, "1" if children else "0")
        return self.last


def _subscriber(body: Segments, sub: Subscriber, *, with_demographics: bool) -> None:
    body.add("NM1", "IL", "1", sub.last_name, sub.first_name, "", "", "", "MI", sub.member_id)
    if sub.group_number:
        body.add("REF", "6P", sub.group_number)
    if with_demographics:
        assert sub.birth_date is not None  # inquiry_problems checked it
        body.add("DMG", "D8", d8(sub.birth_date), _gender(sub.gender))


def _asked(body: Segments, inquiry: EligibilityInquiry) -> None:
    if inquiry.service_date is not None:
        body.add("DTP", "291", "D8", d8(inquiry.service_date))
    for code in inquiry.service_types:
        body.add("EQ", code)
