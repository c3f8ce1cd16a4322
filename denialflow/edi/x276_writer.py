"""276 (005010X212) claim status requests for claims that need follow-up.

Hierarchy: payer (HL 20) > information receiver, i.e. us (HL 21) > provider
(HL 19) > subscriber (HL 22) > dependent patient (HL 23, only when the
patient is not the subscriber). One claim inquiry is TRN, REF*1K (the
payer's claim number, when known), REF*EJ (our patient control number),
AMT*T3 and DTP*472; the 277 answer echoes TRN02, so the trace number is how
an answer finds its claim. Service-line (SVC) inquiries are not written.
"""

from __future__ import annotations

import datetime as dt
from itertools import groupby

from pydantic import Field

from denialflow.domain.types import Money
from denialflow.edi.outbound import (
    InterchangeSettings,
    OutboundModel,
    Party,
    Patient,
    PatientControlNumber,
    Payer,
    Provider,
    Segments,
    Subscriber,
    Text,
    amount,
    d8,
    interchange,
    rd8,
)
from denialflow.edi.x837_writer import ClaimOut

VERSION = "005010X212"


class ClaimStatusInquiry(OutboundModel):
    payer: Payer
    provider: Provider  # the billing provider of the claim asked about
    subscriber: Subscriber
    patient: Patient | None = None  # None: the subscriber is the patient
    # TRN02, echoed by the 277; unique per inquiry. The reader of the 277 falls
    # back to it for the claim when REF*EJ is absent, so the patient control
    # number is a good choice.
    trace_number: Text = Field(min_length=1, max_length=50)
    patient_control_number: PatientControlNumber  # REF*EJ, the 837 CLM01
    payer_claim_control_number: Text | None = Field(default=None, min_length=1, max_length=50)
    total_charge: Money  # AMT*T3, the 837 CLM02
    service_from: dt.date
    service_to: dt.date | None = None  # the same day when absent


class StatusRequestBatch(OutboundModel):
    interchange: InterchangeSettings
    # Who asks and receives the 277 (loop 2100B, NM1*41 with its ETIN):
    # normally the 837 submitter.
    information_receiver: Party
    inquiries: list[ClaimStatusInquiry]
    # BHT03, the batch's own reference; the transaction control number when absent.
    reference: Text | None = Field(default=None, min_length=1, max_length=50)


def inquiry_for(
    claim: ClaimOut,
    provider: Provider,
    *,
    trace_number: str | None = None,
    payer_claim_control_number: str | None = None,
) -> ClaimStatusInquiry:
    """The status inquiry for a claim as it was sent: same payer, people,
    charge and service dates. The payer's claim number comes from the 277CA
    or 835 when known (a replacement claim carries the one it replaces)."""
    dates = [line.service_date for line in claim.lines]
    if not dates:
        raise ValueError(f"claim {claim.patient_control_number!r}: lines: no service dates")
    return ClaimStatusInquiry(
        payer=claim.payer,
        provider=provider,
        subscriber=claim.subscriber,
        patient=claim.patient,
        trace_number=trace_number or claim.patient_control_number,
        patient_control_number=claim.patient_control_number,
        payer_claim_control_number=payer_claim_control_number or claim.payer_claim_control_number,
        total_charge=claim.total_charge,
        service_from=min(dates),
        service_to=max(dates),
    )


def inquiry_problems(inquiry: ClaimStatusInquiry) -> list[str]:
    """What keeps an inquiry from being written, as "field: problem" texts."""
    problems = []
    if inquiry.total_charge < 0:
        problems.append(f"total_charge: {inquiry.total_charge} is negative")
    if inquiry.service_to is not None and inquiry.service_to < inquiry.service_from:
        problems.append(
            f"service_to: {inquiry.service_to} is before service_from {inquiry.service_from}"
        )
    sub = inquiry.subscriber
    if inquiry.patient is None:
        # Payers find the patient by member id plus birth date (2000D DMG).
        problems += [
            f"subscriber.{name}: required when the subscriber is the patient"
            for name, value in (("birth_date", sub.birth_date), ("gender", sub.gender))
            if value is None
        ]
    return problems


def write_276(batch: StatusRequestBatch, *, line_breaks: bool = True) -> str:
    """The inquiries as one 276 interchange. Raises ValueError naming the claim
    and field when an inquiry cannot be written."""
    if not batch.inquiries:
        raise ValueError("276 batch has no inquiries")
    for inquiry in batch.inquiries:
        problems = inquiry_problems(inquiry)
        if problems:
            name = inquiry.patient_control_number
            raise ValueError(f"claim {name!r}: " + "; ".join(problems))
    s = batch.interchange
    body = Segments()
    reference = batch.reference or f"{s.transaction_control_number:04d}"
    # 0010 source/receiver/provider/subscriber/dependent hierarchy; 13 request.
    body.add("BHT", "0010", "13", reference, d8(s.created.date()), s.created.strftime("%H%M"))
    hl = _Counter()
    receiver = batch.information_receiver
    # Consecutive inquiries share their payer, provider and subscriber loops;
    # order is kept, so a caller sorting by payer gets the tightest file.
    for payer, by_payer in groupby(batch.inquiries, key=lambda i: i.payer):
        payer_hl = hl.open(body, None, "20", True)
        body.add("NM1", "PR", "2", payer.name, "", "", "", "", "PI", payer.id)
        receiver_hl = hl.open(body, payer_hl, "21", True)
        body.add("NM1", "41", "2", receiver.name, "", "", "", "", "46", receiver.id)
        for provider, by_provider in groupby(by_payer, key=lambda i: i.provider):
            provider_hl = hl.open(body, receiver_hl, "19", True)
            body.add("NM1", "1P", "2", provider.name, "", "", "", "", "XX", provider.npi)
            for (sub, self_), by_subscriber in groupby(
                by_provider, key=lambda i: (i.subscriber, i.patient is None)
            ):
                subscriber_hl = hl.open(body, provider_hl, "22", not self_)
                if self_:
                    assert sub.birth_date is not None
                    body.add("DMG", "D8", d8(sub.birth_date), sub.gender)
                body.add(
                    "NM1", "IL", "1", sub.last_name, sub.first_name, "", "", "", "MI", sub.member_id
                )
                if self_:
                    for inquiry in by_subscriber:
                        _claim(body, inquiry)
                    continue
                for patient, by_patient in groupby(by_subscriber, key=lambda i: i.patient):
                    assert patient is not None  # grouped under self_ False
                    hl.open(body, subscriber_hl, "23", None)
                    body.add("DMG", "D8", d8(patient.birth_date), patient.gender)
                    body.add("NM1", "QC", "1", patient.last_name, patient.first_name)
                    for inquiry in by_patient:
                        _claim(body, inquiry)
    return interchange(
        batch.interchange,
        functional_id="HR",
        set_id="276",
        version=VERSION,
        body=body,
        line_breaks=line_breaks,
    )


class _Counter:
    def __init__(self) -> None:
        self.last = 0

    def open(self, body: Segments, parent: int | None, level: str, children: bool | None) -> int:
        """HL04 says whether child levels follow; None leaves it out, as X212
        wants for the dependent level, which never has children."""
        self.last += 1
        parent_id = "" if parent is None else str(parent)
        child_code = None if children is None else "1" if children else "0"
        body.add("HL", str(self.last), parent_id, level, child_code)
        return self.last


def _claim(body: Segments, inquiry: ClaimStatusInquiry) -> None:
    body.add("TRN", "1", inquiry.trace_number)
    if inquiry.payer_claim_control_number:
        body.add("REF", "1K", inquiry.payer_claim_control_number)
    body.add("REF", "EJ", inquiry.patient_control_number)
    body.add("AMT", "T3", amount(inquiry.total_charge))
    last = inquiry.service_to or inquiry.service_from
    body.add("DTP", "472", "RD8", rd8(inquiry.service_from, last))
