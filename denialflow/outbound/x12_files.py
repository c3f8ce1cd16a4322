"""Outbound files for the clearinghouse mailbox: 837P batches of claims we send and 276
status inquiries for claims that need follow-up, written to the outbound folder."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, date, datetime
from pathlib import Path

from pydantic import ValidationError

from denialflow.domain.types import ClaimIn
from denialflow.edi.outbound import (
    Address,
    BillingProvider,
    InterchangeSettings,
    Receiver,
    Submitter,
)
from denialflow.edi.outbound import Payer as PayerOut
from denialflow.edi.x837_cob import ClaimCoordination
from denialflow.edi.x837_secondary import OtherPayerOut, Responsibility, coordination_out
from denialflow.edi.x837_writer import (
    ClaimLineOut,
    ClaimOut,
    ProfessionalBatch,
    claim_problems,
    write_837p,
)
from denialflow.models.tables import Payer
from denialflow.settings import Settings


def _split_name(name: str) -> tuple[str, str]:
    last, _, first = name.partition(",")
    if not first and " " in name.strip():  # "First Last" as typed by people
        first, _, last = name.strip().rpartition(" ")
    return last.strip().upper(), first.strip().upper()


def _address(values: dict[str, str], prefix: str = "") -> Address | None:
    get = lambda k: values.get(prefix + k, "")  # noqa: E731
    if not (get("line1") and get("city") and get("state") and get("zip")):
        return None
    return Address(
        line1=get("line1"),
        line2=get("line2") or None,
        city=get("city"),
        state=get("state"),
        zip=get("zip"),
    )


def claim_out(
    claim: ClaimIn,
    payer: Payer,
    frequency: str = "1",
    payer_claim_control_number: str = "",
    coordination: ClaimCoordination | None = None,
) -> ClaimOut:
    """Our claim as the 837P writer takes it; raises ValueError naming what is missing.
    A replacement (7) or void (8) names the payer's claim it replaces (REF*F8).
    `coordination` (the coverages the practice's 837P stated) gives the claim's own
    SBR01 and its other-payer loops, with the prior payers' adjudication."""
    from denialflow.edi.outbound import Patient, Subscriber

    responsibility: Responsibility = "P"
    other_payers: list[OtherPayerOut] = []
    if coordination is not None and coordination.others:
        try:
            responsibility, other_payers = coordination_out(coordination)
        except ValueError as err:
            raise ValueError(f"claim {claim.id}: {err}") from None

    patient_last, patient_first = _split_name(claim.patient_name)
    dependent = bool(claim.subscriber)
    try:
        if dependent:
            sub = claim.subscriber
            sub_last, sub_first = _split_name(sub.get("name", ""))
            subscriber = Subscriber(
                member_id=claim.member_id,
                last_name=sub_last,
                first_name=sub_first,
                birth_date=date.fromisoformat(sub["birth_date"]) if sub.get("birth_date") else None,
                gender=sub.get("gender") or None,
                address=_address(sub, "address_"),
            )
            patient = Patient(
                last_name=patient_last,
                first_name=patient_first,
                birth_date=claim.patient_birth_date,
                gender=claim.patient_gender,
                address=_address(claim.patient_address),
                relationship=sub.get("relationship") or "19",
            )
        else:
            subscriber = Subscriber(
                member_id=claim.member_id,
                last_name=patient_last,
                first_name=patient_first,
                birth_date=claim.patient_birth_date,
                gender=claim.patient_gender,
                address=_address(claim.patient_address),
            )
            patient = None
        return ClaimOut(
            patient_control_number=claim.id,
            payer=PayerOut(
                name=payer.name[:60],
                id=payer.x12_payer_id or payer.id,
                claim_filing_indicator=payer.claim_filing_indicator,
            ),
            subscriber=subscriber,
            patient=patient,
            place_of_service=claim.place_of_service,
            frequency=frequency,
            payer_claim_control_number=payer_claim_control_number or None,
            responsibility=responsibility,
            other_payers=other_payers,
            diagnoses=[d.replace(".", "").upper() for d in claim.diagnoses],
            lines=[
                ClaimLineOut(
                    procedure_code=line.procedure_code,
                    modifiers=line.modifiers,
                    charge=line.charge,
                    units=line.units,
                    diagnosis_pointers=line.diagnosis_pointers,
                    service_date=claim.service_date,
                )
                for line in claim.lines
            ],
        )
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ValueError(f"claim {claim.id}: {where}: {first['msg']}") from None


def outbound_problems(
    claim: ClaimIn, payer: Payer, coordination: ClaimCoordination | None = None
) -> list[str]:
    """Why the 837P writer would refuse this claim (empty when it can be sent)."""
    try:
        out = claim_out(claim, payer, coordination=coordination)
    except ValueError as err:
        return [str(err)]
    return claim_problems(out)


def _control_number() -> int:
    # Unique enough per sender for a mailbox: seconds since 2020, within ISA13's nine digits.
    return int(datetime.now(UTC).timestamp() - 1_577_836_800) % 999_999_999 + 1


def interchange_settings(settings: Settings, control: int) -> InterchangeSettings:
    return InterchangeSettings(
        sender_id=settings.submitter_id[:15],
        receiver_id=settings.receiver_id[:15],
        interchange_control_number=control,
        group_control_number=control,
        transaction_control_number=control,
        created=datetime.now(UTC),
        usage="P",
    )


def billing_provider(settings: Settings) -> BillingProvider:
    return BillingProvider(
        name=settings.practice_name[:60],
        npi=settings.practice_npi,
        ein=settings.practice_tax_id,
        address=Address(
            line1=settings.practice_address,
            city=settings.practice_city,
            state=settings.practice_state,
            zip=settings.practice_zip,
        ),
    )


def _batch(settings: Settings, claims: list[ClaimOut], control: int) -> str:
    batch = ProfessionalBatch(
        interchange=interchange_settings(settings, control),
        submitter=Submitter(
            name=settings.practice_name[:60],
            id=settings.submitter_id,
            contact_name="BILLING OFFICE",
            contact_phone="8005550100",
        ),
        receiver=Receiver(name="CLEARINGHOUSE", id=settings.receiver_id),
        billing_provider=billing_provider(settings),
        claims=claims,
    )
    return write_837p(batch)


def _publish(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    # Appear whole or not at all: a clearinghouse client may pick files up any moment.
    os.replace(tmp, path)


def write_claim_batch(
    settings: Settings,
    claims: list[tuple[ClaimIn, Payer]],
    name_hint: str = "claims",
    coverages: Mapping[str, ClaimCoordination] | None = None,
) -> Path | None:
    """Write one 837P for the claims; returns its path (None when there is nothing).
    `coverages` holds, by claim id, the other coverages a claim's 837P named."""
    if not claims:
        return None
    control = _control_number()
    cob = coverages or {}
    text = _batch(
        settings, [claim_out(c, p, coordination=cob.get(c.id)) for c, p in claims], control
    )
    folder = settings.outbound
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"837P-{control:09d}-{Path(name_hint).stem}.x12"
    _publish(path, text)
    return path


FREQUENCY_FILE_NAMES = {"1": "resubmitted", "7": "corrected", "8": "void"}


def revision_path(settings: Settings, claim_id: str, revision_id: int, frequency: str) -> Path:
    """One file per revision, so a retried activity finds the file it already wrote
    instead of sending the payer a second copy."""
    kind = FREQUENCY_FILE_NAMES[frequency]
    return settings.outbound / f"837P-{kind}-{claim_id}-r{revision_id}.x12"


def write_claim_revision(
    settings: Settings,
    claim: ClaimIn,
    payer: Payer,
    *,
    revision_id: int,
    frequency: str,
    payer_claim_control_number: str,
) -> Path:
    """Write the 837P of a corrected (7), re-sent (1) or voided (8) claim, once; raises
    ValueError naming what the writer refuses (a replacement without the payer's claim
    number, a line it cannot write)."""
    path = revision_path(settings, claim.id, revision_id, frequency)
    if path.exists():
        return path
    out = claim_out(claim, payer, frequency, payer_claim_control_number)
    problems = claim_problems(out)
    if problems:
        raise ValueError("; ".join(problems))
    text = _batch(settings, [out], _control_number())
    path.parent.mkdir(parents=True, exist_ok=True)
    _publish(path, text)
    return path


def next_payer_path(settings: Settings, claim_id: str, position: int) -> Path:
    """One file per claim and coverage: a retried activity finds the file it wrote."""
    return settings.outbound / f"837P-cob-{claim_id}-p{position}.x12"


def write_next_payer_claim(
    settings: Settings, claim: ClaimIn, payer: Payer, coordination: ClaimCoordination, position: int
) -> Path:
    """Write the 837P that bills the coverage at `position` (SBR01 S, T...) with the prior
    payers' adjudication (2320/2330B/2430), once; raises ValueError naming what the
    writer refuses (amounts that do not balance, a member id missing)."""
    path = next_payer_path(settings, claim.id, position)
    if path.exists():
        return path
    out = claim_out(claim, payer, coordination=coordination)
    problems = claim_problems(out)
    if problems:
        raise ValueError("; ".join(problems))
    text = _batch(settings, [out], _control_number())
    path.parent.mkdir(parents=True, exist_ok=True)
    _publish(path, text)
    return path
