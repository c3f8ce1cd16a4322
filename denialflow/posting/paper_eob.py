"""Posting a keyed paper EOB: the batch becomes a real 835 and is taken in by
`ingest_bytes`, so matching, pricing, idempotency, the all-or-nothing write and the
signals to each claim's workflow are exactly those of an 835 from the clearinghouse.

The file's identity comes from the payer and the check number alone (never from
when or by whom it was keyed), so keying the same check twice is one file: the same
amounts are "already posted", other amounts are refused.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from sqlmodel import Session, col, or_, select

from denialflow.domain.paper_eob import EobBatch, Method, Problem, balance, claim_label
from denialflow.edi.samples import SampleClaim, SampleService, build_835
from denialflow.models.tables import Claim, IngestedFile, Payer, Payment
from denialflow.posting.files import internal_error_report
from denialflow.posting.ingest import IngestContext, IngestReport, ingest_bytes

# ISA06 is 15 characters; one sender for every keyed EOB keeps the payer in the control
# number instead, and tells keyed files apart from any payer's own interchanges.
PAPER_SENDER = "PAPEREOB"
SOURCE = "paper EOB"
_X12_UNSAFE = re.compile(r"[^A-Za-z0-9 .,'-]")


@dataclass
class EobPosting:
    """What came of posting: `problems` when it was refused before anything was
    written, else the report of the 835 it was posted as."""

    problems: list[Problem] = field(default_factory=list)
    report: IngestReport | None = None

    @property
    def posted(self) -> bool:
        return self.report is not None and self.report.ok


def control_number(payer_id: str, check_number: str) -> int:
    """The interchange control number (ISA13, nine digits) of one payer's check."""
    digest = hashlib.sha256(f"{payer_id}\x1f{check_number.upper()}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 1_000_000_000


def file_name(batch: EobBatch) -> str:
    return f"paper-eob-{batch.payer_id}-{batch.check_number}.835"


def _x12_text(text: str, size: int) -> str:
    return _X12_UNSAFE.sub(" ", text)[:size].strip()


def to_835(batch: EobBatch, payer: Payer, claims: dict[str, Claim]) -> str:
    """The 835 the payer would have sent for this check. Patient names come from our
    claims (the EOB's are not keyed): they only matter if a payment goes unmatched."""
    samples = []
    for c in batch.claims:
        ours = claims.get(c.claim_id)
        last, _, first = (ours.patient_name if ours else "").partition(",")
        samples.append(
            SampleClaim(
                patient_control_number=c.claim_id,
                charge=c.charge,
                paid=c.paid,
                status_code=c.outcome.value,
                patient_responsibility=c.patient_responsibility,
                payer_claim_control_number=c.payer_claim_number,
                service_date=c.service_date,
                patient_last=_x12_text(last, 60) or "UNKNOWN",
                patient_first=_x12_text(first, 35),
                member_id=_x12_text(ours.member_id if ours else "", 80).replace(" ", ""),
                services=[
                    SampleService(
                        code=line.procedure_code,
                        charge=line.charge,
                        paid=line.paid,
                        adjustments=[(a.group, a.reason, a.amount) for a in line.adjustments],
                        units=line.units,
                        modifiers=list(line.modifiers),
                    )
                    for line in c.lines
                ],
            )
        )
    text = build_835(
        samples,
        paid_on=batch.paid_on,
        trace_number=batch.check_number,
        control_number=control_number(batch.payer_id, batch.check_number),
        sender=PAPER_SENDER,
        payer_name=_x12_text(payer.name, 60) or payer.id,
        payer_id=_x12_text(payer.x12_payer_id or payer.id, 50).replace(" ", ""),
        payment_amount=batch.amount,
    )
    return _with_method(text, batch)


def _with_method(text: str, batch: EobBatch) -> str:
    """BPR04 as paid: a paper check (CHK), an EFT (ACH), or nothing paid (NON)."""
    method = "NON" if batch.amount == 0 else batch.method.value
    segments = text.split("~\n")
    for i, segment in enumerate(segments):
        if segment.startswith("BPR*"):
            parts = segment.split("*")
            parts[4] = method
            if method != Method.EFT.value:
                # Bank routing (BPR05-BPR15) belongs to an electronic transfer only.
                parts[5:16] = [""] * 11
            segments[i] = "*".join(parts)
    return "~\n".join(segments)


def check_against_records(session: Session, batch: EobBatch) -> tuple[list[Problem], Payer | None]:
    """What the books say against this batch: the payer and claims exist, each claim is
    billed to this payer, and this check was not posted already with other amounts or
    by the payer's own 835."""
    problems: list[Problem] = []
    payer = session.get(Payer, batch.payer_id)
    if payer is None:
        return [Problem("check", "check", f"payer {batch.payer_id!r} is not set up")], None
    ids = sorted({c.claim_id for c in batch.claims})
    found = {c.id: c for c in session.exec(select(Claim).where(col(Claim.id).in_(ids)))}
    for i, c in enumerate(batch.claims):
        label = claim_label(c.claim_id, i)
        ours = found.get(c.claim_id)
        if ours is None:
            problems.append(
                Problem(
                    label,
                    f"c{i}",
                    "no claim has this id; key the patient account number (our claim id) "
                    "printed on the EOB",
                )
            )
        elif ours.payer_id != payer.id:
            problems.append(
                Problem(label, f"c{i}", f"is billed to {ours.payer_id}, not to {payer.id}")
            )
        elif ours.service_date != c.service_date:
            # The 835 path would park it as unmatched; a keying slip is better fixed now.
            problems.append(
                Problem(
                    label,
                    f"c{i}",
                    f"the claim is for service on {ours.service_date}, the EOB row says "
                    f"{c.service_date}",
                )
            )
    control = str(control_number(batch.payer_id, batch.check_number))
    earlier = session.exec(
        select(IngestedFile).where(
            IngestedFile.sender == PAPER_SENDER, IngestedFile.control_number == control
        )
    ).first()
    if earlier is not None and earlier.sha256 != _sha(batch, payer, found):
        who = earlier.summary.get("keyed_by", "someone")
        problems.append(
            Problem(
                "check",
                "check",
                f"check {batch.check_number} from {payer.name} was already keyed by {who} on "
                f"{earlier.received_at:%Y-%m-%d} with other amounts or details; nothing posted. "
                "A payer's correction comes as reversals on a new check or EOB.",
            )
        )
    identifiers = [payer.id, *([payer.x12_payer_id] if payer.x12_payer_id else [])]
    paid_electronically = session.exec(
        select(Payment).where(
            Payment.trace_number == batch.check_number,
            or_(
                col(Payment.payer_identifier).in_(identifiers),
                Payment.payer_name == payer.name,
            ),
        )
    ).first()
    if earlier is None and paid_electronically is not None:
        problems.append(
            Problem(
                "check",
                "check",
                f"check/EFT {batch.check_number} from {payer.name} was already posted from "
                "the payer's 835; nothing posted",
            )
        )
    return problems, payer


def _sha(batch: EobBatch, payer: Payer, claims: dict[str, Claim]) -> str:
    return hashlib.sha256(to_835(batch, payer, claims).encode()).hexdigest()


async def post_batch(batch: EobBatch, keyed_by: str, ctx: IngestContext) -> EobPosting:
    """Post a balanced batch as an 835, or say why not; nothing is half-written."""
    problems = balance(batch)
    if problems:
        return EobPosting(problems=problems)
    with Session(ctx.engine) as session:
        problems, payer = check_against_records(session, batch)
        ids = {c.claim_id for c in batch.claims}
        claims = {c.id: c for c in session.exec(select(Claim).where(col(Claim.id).in_(ids)))}
    if problems or payer is None:
        return EobPosting(problems=problems)
    origin = {
        "source": SOURCE,
        "keyed_by": keyed_by,
        "payer_id": batch.payer_id,
        "check_number": batch.check_number,
        "method": batch.method.value,
        "amount": str(batch.amount),
    }
    data, name = to_835(batch, payer, claims).encode(), file_name(batch)
    try:
        report = await ingest_bytes(data, name, ctx, origin=origin, actor=keyed_by)
    except Exception as err:  # noqa: BLE001 - the person must get a report, as for an upload
        report = internal_error_report(data, name, ctx, err)
    return EobPosting(report=report)
