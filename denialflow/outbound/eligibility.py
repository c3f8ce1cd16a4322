"""270 eligibility inquiries for claims' patients, written to the outbound folder.

One inquiry per claim: the claim's payer, its member (the subscriber, and the patient as
a dependent when the patient is not the subscriber), the date of service and service
type 30 (health plan coverage in general). The trace number (TRN02) is the caller's, so
the payer's 271 can be matched back to the claim.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from pydantic import ValidationError

from denialflow.edi.outbound import Payer as PayerOut
from denialflow.edi.outbound import Provider, Subscriber
from denialflow.edi.x270_writer import (
    Dependent,
    EligibilityBatch,
    EligibilityInquiry,
    inquiry_problems,
    write_270,
)
from denialflow.models.tables import Claim, Payer
from denialflow.outbound.x12_files import (
    _control_number,
    _publish,
    _split_name,
    interchange_settings,
)
from denialflow.settings import Settings

GENERAL = "30"  # health benefit plan coverage
# INS02 codes the 270 takes for a dependent; any other relationship is left out.
DEPENDENT_RELATIONSHIPS = ("01", "19", "34")


class CannotAsk(ValueError):
    """The claim lacks what a 270 needs; the message names the claim and the field."""


def _gender(value: str | None) -> str | None:
    return value if value in ("F", "M") else None


def inquiry_for_claim(claim: Claim, payer: Payer, trace_number: str) -> EligibilityInquiry:
    """The 270 inquiry for a claim's patient on its date of service; raises CannotAsk
    naming what is missing (a member id, the patient's birth date...)."""
    patient_last, patient_first = _split_name(claim.patient_name)
    sub = claim.subscriber or {}
    try:
        if sub:
            sub_last, sub_first = _split_name(str(sub.get("name", "")))
            birth = str(sub.get("birth_date") or "")
            subscriber = Subscriber(
                member_id=claim.member_id,
                last_name=sub_last,
                first_name=sub_first,
                birth_date=date.fromisoformat(birth) if birth else None,
                gender=_gender(sub.get("gender")),
            )
            relationship = str(sub.get("relationship") or "")
            dependent: Dependent | None = Dependent(
                last_name=patient_last,
                first_name=patient_first,
                birth_date=claim.patient_birth_date,  # type: ignore[arg-type]  # checked below
                gender=_gender(claim.patient_gender),
                relationship=relationship if relationship in DEPENDENT_RELATIONSHIPS else None,
            )
        else:
            subscriber = Subscriber(
                member_id=claim.member_id,
                last_name=patient_last,
                first_name=patient_first,
                birth_date=claim.patient_birth_date,
                gender=_gender(claim.patient_gender),
            )
            dependent = None
        inquiry = EligibilityInquiry(
            payer=PayerOut(
                name=payer.name[:60],
                id=payer.x12_payer_id or payer.id,
                claim_filing_indicator=payer.claim_filing_indicator,  # type: ignore[arg-type]
            ),
            subscriber=subscriber,
            dependent=dependent,
            trace_number=trace_number,
            service_date=claim.service_date,
            service_types=[GENERAL],
        )
    except (ValidationError, ValueError) as err:
        raise CannotAsk(f"claim {claim.id}: {_first_problem(err)}") from None
    problems = inquiry_problems(inquiry)
    if problems:
        raise CannotAsk(f"claim {claim.id}: " + "; ".join(problems))
    return inquiry


def _first_problem(err: Exception) -> str:
    if isinstance(err, ValidationError):
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "claim"
        words = {"member_id": "member id", "last_name": "name", "birth_date": "birth date"}
        where = words.get(where, where.replace("_", " "))
        return f"{where}: {first['msg']}"
    return str(err)


@dataclass
class Written:
    path: Path
    control_number: int


def write_eligibility_batch(
    settings: Settings, inquiries: list[EligibilityInquiry], name_hint: str
) -> Written:
    """Write one 270 with the inquiries to the outbound folder, whole or not at all;
    raises ValueError naming the inquiry the writer refuses."""
    control = _control_number()
    batch = EligibilityBatch(
        interchange=interchange_settings(settings, control),
        provider=Provider(name=settings.practice_name[:60], npi=settings.practice_npi),
        # TRN03: "1" and our EIN: the payer echoes it with each trace.
        trace_assigner="1" + settings.practice_tax_id.replace("-", "")[:9],
        # Consecutive inquiries to one payer share its loops: sort by payer.
        inquiries=sorted(inquiries, key=lambda i: (i.payer.id, i.subscriber.member_id)),
    )
    text = write_270(batch)
    folder = settings.outbound
    folder.mkdir(parents=True, exist_ok=True)
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in name_hint)[-60:] or "batch"
    path = folder / f"270-{control:09d}-{safe}.x12"
    _publish(path, text)
    return Written(path, control)
