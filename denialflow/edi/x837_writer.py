"""837P (005010X222A1) professional claims out of plain models.

Covers what a physician practice sends to its payers: billing provider,
subscriber (and a dependent patient when the subscriber is not the patient),
claim with ICD-10-CM diagnoses, service lines with modifiers and diagnosis
pointers, replacement/void claims (frequency 7/8 with REF*F8), and claims to a
secondary or tertiary payer with the prior payers' adjudication (the
2320/2330/2430 loops, from `x837_secondary`). Not written: rendering, referring
or service-facility providers, attachments and ambulance/drug details.

Every claim is checked before anything is written, and a problem raises a
ValueError that names the claim (CLM01) and the field, so a batch never goes
out half right.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from itertools import groupby
from typing import Literal

from pydantic import Field

from denialflow.domain.types import ZERO, Money, to_money
from denialflow.edi.outbound import (
    Address,
    BillingProvider,
    InterchangeSettings,
    OutboundModel,
    Patient,
    PatientControlNumber,
    Payer,
    Receiver,
    Segments,
    Submitter,
    Subscriber,
    Text,
    amount,
    composite,
    d8,
    interchange,
)
from denialflow.edi.x837_secondary import (
    OtherPayerOut,
    Responsibility,
    other_payer_problems,
    write_line_adjudications,
    write_other_payers,
)

VERSION = "005010X222A1"
MAX_DIAGNOSES = 12  # HI01..HI12
MAX_LINES = 50  # loop 2400 repeats at most 50 times
MAX_POINTERS = 4  # SV107-1..SV107-4

_ICD10 = re.compile(r"^[A-Z][0-9][0-9A-Z]{1,5}$")
_PROCEDURE = re.compile(r"^[A-Z0-9]{5}$")
_MODIFIER = re.compile(r"^[A-Z0-9]{2}$")
_FREQUENCY_NAMES = {"7": "replace", "8": "void"}


class ClaimLineOut(OutboundModel):
    procedure_code: str  # CPT or HCPCS, checked with the claim
    modifiers: list[str] = Field(default_factory=list)
    charge: Money
    units: Decimal = Decimal(1)
    # 1-based positions in ClaimOut.diagnoses, the first one primary for the line.
    diagnosis_pointers: list[int] = Field(default_factory=lambda: [1])
    service_date: dt.date


class ClaimOut(OutboundModel):
    """One professional claim. The total charge (CLM02) is always the sum of the lines."""

    patient_control_number: PatientControlNumber  # CLM01
    payer: Payer
    subscriber: Subscriber
    patient: Patient | None = None  # None: the subscriber is the patient
    frequency: Literal["1", "7", "8"] = "1"
    place_of_service: str = Field(default="11", pattern=r"^\d{2}$")
    # The payer's ICN of the claim being replaced or voided; written (REF*F8)
    # only for frequency 7 and 8, which cannot be sent without it.
    payer_claim_control_number: Text | None = Field(default=None, min_length=1, max_length=50)
    diagnoses: list[str] = Field(default_factory=list)  # ICD-10-CM without the dot
    lines: list[ClaimLineOut] = Field(default_factory=list)
    # SBR01 of the claim's own payer (P primary, S secondary, T tertiary...) and the
    # patient's other coverages, with what the payers before this one decided.
    responsibility: Responsibility = "P"
    other_payers: list[OtherPayerOut] = Field(default_factory=list)

    @property
    def total_charge(self) -> Decimal:
        return to_money(sum((line.charge for line in self.lines), ZERO))


class ProfessionalBatch(OutboundModel):
    """What one 837P file carries: one submitter and billing provider, many claims."""

    interchange: InterchangeSettings
    submitter: Submitter
    receiver: Receiver
    billing_provider: BillingProvider
    claims: list[ClaimOut]
    # BHT03, the batch's own reference; the transaction control number when absent.
    reference: Text | None = Field(default=None, min_length=1, max_length=50)


def claim_problems(claim: ClaimOut) -> list[str]:
    """What keeps a claim from being written, as "field: problem" texts."""
    problems: list[str] = []
    if claim.frequency in ("7", "8") and not claim.payer_claim_control_number:
        name = _FREQUENCY_NAMES[claim.frequency]
        problems.append(
            f"payer_claim_control_number: required for frequency {claim.frequency} "
            f"({name}): REF*F8 must name the payer's claim it {name}s"
        )
    problems += _subscriber_problems(claim)
    problems += _diagnosis_problems(claim.diagnoses)
    if not claim.lines:
        problems.append("lines: a claim needs at least one service line")
    elif len(claim.lines) > MAX_LINES:
        problems.append(f"lines: {len(claim.lines)} lines, an 837P claim allows {MAX_LINES}")
    for i, line in enumerate(claim.lines):
        problems += [f"lines[{i}].{p}" for p in _line_problems(line, len(claim.diagnoses))]
    problems += other_payer_problems(
        claim.responsibility,
        claim.payer.id,
        claim.total_charge,
        [line.charge for line in claim.lines],
        claim.other_payers,
    )
    return problems


def check_claim(claim: ClaimOut) -> None:
    """Raise ValueError naming the claim and every field that keeps it from being written."""
    problems = claim_problems(claim)
    if problems:
        raise ValueError(f"claim {claim.patient_control_number!r}: " + "; ".join(problems))


def _subscriber_problems(claim: ClaimOut) -> list[str]:
    if claim.patient is not None:
        return []
    # 2010BA N3/N4/DMG are required when the subscriber is the patient.
    sub = claim.subscriber
    missing = [
        name
        for name, value in (
            ("birth_date", sub.birth_date),
            ("gender", sub.gender),
            ("address", sub.address),
        )
        if value is None
    ]
    return [f"subscriber.{name}: required when the subscriber is the patient" for name in missing]


def _diagnosis_problems(diagnoses: list[str]) -> list[str]:
    if not diagnoses:
        return ["diagnoses: a claim needs at least one diagnosis"]
    problems = []
    if len(diagnoses) > MAX_DIAGNOSES:
        problems.append(f"diagnoses: {len(diagnoses)} codes, an 837P claim allows {MAX_DIAGNOSES}")
    seen: set[str] = set()
    for i, code in enumerate(diagnoses):
        if "." in code:
            problems.append(f"diagnoses[{i}]: {code!r} must be written without the dot")
        elif not _ICD10.match(code):
            problems.append(f"diagnoses[{i}]: {code!r} is not an ICD-10-CM code")
        elif code in seen:
            problems.append(f"diagnoses[{i}]: {code!r} is listed twice")
        seen.add(code)
    return problems


def _line_problems(line: ClaimLineOut, diagnoses: int) -> list[str]:
    problems = []
    if not _PROCEDURE.match(line.procedure_code):
        problems.append(f"procedure_code: {line.procedure_code!r} is not a CPT/HCPCS code")
    if len(line.modifiers) > 4:
        problems.append(f"modifiers: {len(line.modifiers)} given, at most 4")
    problems += [
        f"modifiers[{i}]: {m!r} is not a two-character modifier"
        for i, m in enumerate(line.modifiers)
        if not _MODIFIER.match(m)
    ]
    if line.charge < 0:
        problems.append(f"charge: {line.charge} is negative")
    if not line.units.is_finite() or line.units <= 0:
        problems.append(f"units: {line.units} must be positive")
    pointers = line.diagnosis_pointers
    if not pointers:
        problems.append("diagnosis_pointers: at least one is required")
    elif len(pointers) > MAX_POINTERS:
        problems.append(f"diagnosis_pointers: {len(pointers)} given, at most {MAX_POINTERS}")
    if len(set(pointers)) != len(pointers):
        problems.append(f"diagnosis_pointers: {pointers} repeats a pointer")
    if not diagnoses:
        return problems  # the claim's own "no diagnosis" problem says it all
    problems += [
        f"diagnosis_pointers: {p} points past the {diagnoses} diagnoses"
        if p > 0
        else f"diagnosis_pointers: {p} is not a position (they start at 1)"
        for p in pointers
        if not 1 <= p <= diagnoses
    ]
    return problems


def write_837p(batch: ProfessionalBatch, *, line_breaks: bool = True) -> str:
    """The batch as one 837P interchange. `line_breaks` puts a newline after
    each `~`, which every receiver we know tolerates and people can read."""
    if not batch.claims:
        raise ValueError("837P batch has no claims")
    for claim in batch.claims:
        check_claim(claim)
    body = Segments()
    _header(body, batch)
    hl = 1
    # Consecutive claims for the same subscriber and payer share one 2000B
    # loop, and those for the same dependent one 2000C loop; order is kept.
    for (payer, subscriber, self_, responsibility), group in groupby(
        batch.claims, key=lambda c: (c.payer, c.subscriber, c.patient is None, c.responsibility)
    ):
        claims = list(group)
        parent = hl = hl + 1
        body.add("HL", str(hl), "1", "22", "0" if self_ else "1")
        _subscriber(body, payer, subscriber, self_, responsibility)
        if self_:
            for claim in claims:
                _claim(body, claim)
            continue
        for patient, dependents in groupby(claims, key=lambda c: c.patient):
            hl += 1
            body.add("HL", str(hl), str(parent), "23", "0")
            assert patient is not None  # grouped under self_ False
            _patient(body, patient)
            for claim in dependents:
                _claim(body, claim)
    return interchange(
        batch.interchange,
        functional_id="HC",
        set_id="837",
        version=VERSION,
        body=body,
        line_breaks=line_breaks,
    )


def _header(body: Segments, batch: ProfessionalBatch) -> None:
    s = batch.interchange
    reference = batch.reference or f"{s.transaction_control_number:04d}"
    # 0019 information source/subscriber/dependent hierarchy; 00 original;
    # CH chargeable (a claim, not an encounter report).
    body.add("BHT", "0019", "00", reference, d8(s.created.date()), s.created.strftime("%H%M"), "CH")
    sub = batch.submitter
    body.add("NM1", "41", "2", sub.name, "", "", "", "", "46", sub.id)
    body.add("PER", "IC", sub.contact_name, "TE", sub.contact_phone)
    body.add("NM1", "40", "2", batch.receiver.name, "", "", "", "", "46", batch.receiver.id)
    bp = batch.billing_provider
    body.add("HL", "1", "", "20", "1")
    if bp.taxonomy:
        body.add("PRV", "BI", "PXC", bp.taxonomy)
    body.add("NM1", "85", "2", bp.name, "", "", "", "", "XX", bp.npi)
    _address(body, bp.address)
    body.add("REF", "EI", bp.ein)


def _address(body: Segments, address: Address) -> None:
    body.add("N3", address.line1, address.line2)
    body.add("N4", address.city, address.state, address.zip)


def _subscriber(
    body: Segments, payer: Payer, sub: Subscriber, self_: bool, responsibility: str
) -> None:
    # SBR01: where this payer stands (P, S, T...). SBR02 18: "self".
    body.add(
        "SBR",
        responsibility,
        "18" if self_ else "",
        sub.group_number,
        "",
        "",
        "",
        "",
        "",
        payer.claim_filing_indicator,
    )
    body.add("NM1", "IL", "1", sub.last_name, sub.first_name, "", "", "", "MI", sub.member_id)
    if self_:
        assert sub.address is not None and sub.birth_date is not None
        _address(body, sub.address)
        body.add("DMG", "D8", d8(sub.birth_date), sub.gender)
    body.add("NM1", "PR", "2", payer.name, "", "", "", "", "PI", payer.id)


def _patient(body: Segments, patient: Patient) -> None:
    body.add("PAT", patient.relationship)
    body.add("NM1", "QC", "1", patient.last_name, patient.first_name)
    _address(body, patient.address)
    body.add("DMG", "D8", d8(patient.birth_date), patient.gender)


def _claim(body: Segments, claim: ClaimOut) -> None:
    # CLM05 place of service : B (professional) : frequency; CLM06 provider
    # signature on file; CLM07 assigned; CLM08 benefits assigned; CLM09 release
    # of information signed.
    body.add(
        "CLM",
        claim.patient_control_number,
        amount(claim.total_charge),
        "",
        "",
        composite(claim.place_of_service, "B", claim.frequency),
        "Y",
        "A",
        "Y",
        "Y",
    )
    if claim.frequency in ("7", "8"):
        body.add("REF", "F8", claim.payer_claim_control_number)
    body.add(
        "HI",
        *(composite("ABK" if i == 0 else "ABF", code) for i, code in enumerate(claim.diagnoses)),
    )
    write_other_payers(body, claim.other_payers)
    for number, line in enumerate(claim.lines, start=1):
        body.add("LX", str(number))
        body.add(
            "SV1",
            composite("HC", line.procedure_code, *line.modifiers),
            amount(line.charge),
            "UN",
            amount(line.units),
            "",
            "",
            composite(*(str(p) for p in line.diagnosis_pointers)),
        )
        body.add("DTP", "472", "D8", d8(line.service_date))
        write_line_adjudications(body, claim.other_payers, number)
