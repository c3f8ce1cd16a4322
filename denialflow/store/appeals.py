"""Appeals in the database: letter templates (versioned, audited), payers' appeal
addresses per level, what a claim's letter says (`letter_facts`), and the packets sent."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from denialflow.domain import appeal_letters as letters
from denialflow.domain.rules import carc
from denialflow.domain.types import ZERO, WorkItemState
from denialflow.models.tables import (
    AppealLetterTemplate,
    AppealPacket,
    AuditEvent,
    Claim,
    ClaimAttachment,
    Payer,
    PayerAppealAddress,
    Remittance,
    RemittanceAdjustment,
    WorkItem,
)
from denialflow.settings import Settings
from denialflow.store.attachments import forget_document
from denialflow.store.revisions import lines_and_diagnoses

MAX_ADDRESS = 500
MAX_ADDRESS_LINES = 6
DRAFT = "draft"
FILED = "filed"


class AppealNotReady(ValueError):
    """A letter that cannot be written yet; the message says what is missing and where."""


# --- templates ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TemplateInUse:
    """The template a letter is written from: a saved version, or the shipped default."""

    body: str
    category: str
    level: int
    version: int
    row_id: int | None

    @property
    def label(self) -> str:
        where = f"{letters.category_label(self.category)}, " + (
            "every level" if self.level == letters.ANY_LEVEL else f"level {self.level}"
        )
        if self.row_id is None:
            return f"the shipped default letter ({where})"
        return f"{where}, version {self.version}"


def latest_template(session: Session, category: str, level: int) -> AppealLetterTemplate | None:
    return session.exec(
        select(AppealLetterTemplate)
        .where(AppealLetterTemplate.category == category, AppealLetterTemplate.level == level)
        .order_by(col(AppealLetterTemplate.version).desc())
    ).first()


def template_for(session: Session, category: str, level: int) -> TemplateInUse:
    """The most specific template on file: this category and level, this category at every
    level, every category at this level, every category at every level; else the default."""
    for cat, lvl in (
        (category, level),
        (category, letters.ANY_LEVEL),
        (letters.ANY_CATEGORY, level),
        (letters.ANY_CATEGORY, letters.ANY_LEVEL),
    ):
        row = latest_template(session, cat, lvl)
        if row is not None:
            return TemplateInUse(row.body, cat, lvl, row.version, row.id)
    return TemplateInUse(letters.DEFAULT_TEMPLATE, letters.ANY_CATEGORY, letters.ANY_LEVEL, 0, None)


def templates_on_file(session: Session) -> list[AppealLetterTemplate]:
    """The latest version of each category and level that has one."""
    latest = (
        select(
            AppealLetterTemplate.category,
            AppealLetterTemplate.level,
            func.max(AppealLetterTemplate.version).label("version"),
        )
        .group_by(AppealLetterTemplate.category, AppealLetterTemplate.level)
        .subquery()
    )
    return list(
        session.exec(
            select(AppealLetterTemplate)
            .join(
                latest,
                (AppealLetterTemplate.category == latest.c.category)
                & (AppealLetterTemplate.level == latest.c.level)
                & (AppealLetterTemplate.version == latest.c.version),
            )
            .order_by(AppealLetterTemplate.category, AppealLetterTemplate.level)
        )
    )


def template_history(session: Session, category: str, level: int) -> list[AppealLetterTemplate]:
    return list(
        session.exec(
            select(AppealLetterTemplate)
            .where(AppealLetterTemplate.category == category, AppealLetterTemplate.level == level)
            .order_by(col(AppealLetterTemplate.version).desc())
        )
    )


def save_template(
    session: Session, category: str, level: int, body: str, by: str
) -> AppealLetterTemplate:
    """Check the template against the sample claim (TemplateProblem names the field) and
    save it as the next version, audited with before and after. Commits."""
    if category not in letters.LETTER_CATEGORIES:
        raise letters.TemplateProblem(
            f"category {category!r} is not one of {', '.join(letters.LETTER_CATEGORIES)}"
        )
    if not 0 <= level <= 10:
        raise letters.TemplateProblem(f"level {level} is not 0 (every level) to 10")
    body = body.replace("\r\n", "\n")
    letters.check_template(body)
    before = latest_template(session, category, level)
    if before is not None and before.body == body:
        raise letters.TemplateProblem(
            f"nothing changed: the template is the same as version {before.version}"
        )
    row = AppealLetterTemplate(
        category=category,
        level=level,
        version=(before.version if before else 0) + 1,
        body=body,
        created_by=by,
        created_at=datetime.now(UTC),
    )
    session.add(row)
    session.flush()
    session.add(
        AuditEvent(
            at=row.created_at,
            actor=by,
            action="appeal_template_saved",
            detail={
                "category": category,
                "level": level,
                "before": {"version": before.version, "body": before.body} if before else None,
                "after": {"version": row.version, "body": body},
            },
        )
    )
    session.commit()
    return row


# --- payers' appeal addresses --------------------------------------------------------------


def appeal_addresses(session: Session, payer_id: str) -> dict[int, str]:
    rows = session.exec(
        select(PayerAppealAddress).where(PayerAppealAddress.payer_id == payer_id)
    ).all()
    return {r.level: r.address for r in rows}


def appeal_address_lines(session: Session, payer_id: str, level: int) -> list[str] | None:
    """The address for this level, else the payer's address for every level (0)."""
    known = appeal_addresses(session, payer_id)
    text = known.get(level) or known.get(letters.ANY_LEVEL)
    if not text:
        return None
    return [line.strip() for line in text.splitlines() if line.strip()]


def check_address(label: str, text: str) -> str | None:
    """Why an address cannot be saved, or None."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(text) > MAX_ADDRESS:
        return f"{label}: {len(text)} characters; at most {MAX_ADDRESS}"
    if len(lines) > MAX_ADDRESS_LINES:
        return f"{label}: {len(lines)} lines; at most {MAX_ADDRESS_LINES}"
    if lines and len(lines) < 2:
        return f"{label}: give at least two lines (a street or PO box, then city, state, ZIP)"
    return None


def save_appeal_addresses(
    session: Session, payer_id: str, addresses: dict[int, str], by: str
) -> bool:
    """Replace the payer's appeal addresses (an empty one is removed); audited with
    before and after. Returns whether anything changed. Commits."""
    before = appeal_addresses(session, payer_id)
    after = {
        level: "\n".join(line.strip() for line in text.splitlines() if line.strip())
        for level, text in addresses.items()
    }
    after = {level: text for level, text in after.items() if text}
    if after == before:
        return False
    now = datetime.now(UTC)
    for row in session.exec(
        select(PayerAppealAddress).where(PayerAppealAddress.payer_id == payer_id)
    ).all():
        if row.level not in after:
            session.delete(row)
    for level, text in after.items():
        row = session.get(PayerAppealAddress, (payer_id, level))
        if row is None:
            row = PayerAppealAddress(
                payer_id=payer_id, level=level, address=text, updated_by=by, updated_at=now
            )
        row.address, row.updated_by, row.updated_at = text, by, now
        session.add(row)
    session.add(
        AuditEvent(
            at=now,
            actor=by,
            action="payer_appeal_addresses_changed",
            detail={
                "payer": payer_id,
                "before": {str(k): v for k, v in sorted(before.items())},
                "after": {str(k): v for k, v in sorted(after.items())},
            },
        )
    )
    session.commit()
    return True


# --- a claim's letter ---------------------------------------------------------------------


def denial_category(session: Session, claim: Claim) -> str:
    """The category the appeal argues: the open denial's, else the latest remittance's."""
    item = session.exec(
        select(WorkItem).where(
            WorkItem.claim_id == claim.id,
            WorkItem.state != WorkItemState.CLOSED.value,
            col(WorkItem.kind).in_(["denial", "underpayment"]),
        )
    ).first()
    if item is not None and item.category:
        return item.category
    adjustments = _latest_adjustments(session, claim.id)
    found = carc.primary_reason([(a.group, a.reason, a.amount) for a in adjustments])
    return found.category.value if found else "other"


def _latest_remittance(session: Session, claim_id: str) -> Remittance | None:
    return session.exec(
        select(Remittance)
        .where(Remittance.claim_id == claim_id)
        .order_by(col(Remittance.posted_at).desc(), col(Remittance.id).desc())
    ).first()


def _latest_adjustments(session: Session, claim_id: str) -> list[RemittanceAdjustment]:
    remit = _latest_remittance(session, claim_id)
    if remit is None:
        return []
    return list(
        session.exec(
            select(RemittanceAdjustment)
            .where(RemittanceAdjustment.remittance_id == remit.id)
            .order_by(RemittanceAdjustment.id)
        )
    )


def letter_facts(
    session: Session,
    settings: Settings,
    claim: Claim,
    level: int,
    signer: str,
    enclosures: list[ClaimAttachment],
    today: date,
) -> letters.LetterFacts:
    """What the letter for appeal `level` of `claim` says. AppealNotReady when the payer
    has no appeal address for that level (the admin sets it on the payer's page)."""
    payer = session.get(Payer, claim.payer_id)
    payer_name = payer.name if payer else claim.payer_id
    address = appeal_address_lines(session, claim.payer_id, level)
    if address is None:
        raise AppealNotReady(
            f"{payer_name} has no appeal address for level {level}: an admin sets it under "
            f"Admin > Payers > {claim.payer_id} > Appeal addresses"
        )
    remit = _latest_remittance(session, claim.id)
    adjustments = [
        a for a in _latest_adjustments(session, claim.id) if a.group != "PR" and a.amount > ZERO
    ]
    lines, diagnoses = lines_and_diagnoses(session, claim.id)
    zip_code = settings.practice_zip
    zip_text = f"{zip_code[:5]}-{zip_code[5:]}" if len(zip_code) == 9 else zip_code
    return letters.LetterFacts(
        today=today,
        practice_name=settings.practice_name,
        practice_npi=settings.practice_npi,
        practice_tax_id=settings.practice_tax_id,
        practice_address_lines=[
            settings.practice_address,
            f"{settings.practice_city}, {settings.practice_state} {zip_text}",
        ],
        payer_name=payer_name,
        payer_id=claim.payer_id,
        appeal_address_lines=address,
        claim_id=claim.id,
        payer_claim_number=claim.payer_claim_control_number,
        patient_name=claim.patient_name,
        member_id=claim.member_id,
        patient_birth_date=claim.patient_birth_date,
        service_date=claim.service_date,
        submitted_on=claim.submitted_on,
        charge=claim.charge,
        paid=claim.paid,
        balance=claim.balance,
        denied_amount=max(claim.balance - claim.patient_responsibility, ZERO),
        category=denial_category(session, claim),
        decision_date=remit.decision_date if remit else None,
        level=level,
        deadline=claim.appeal_deadline,
        signer_name=signer,
        diagnoses=list(diagnoses),
        lines=[
            letters.LineFacts(
                number=line.line_number,
                procedure_code=line.procedure_code,
                modifiers=list(line.modifiers),
                units=line.units,
                charge=line.charge,
                service_date=claim.service_date,
            )
            for line in lines
        ],
        adjustments=[
            letters.AdjustmentFacts(a.group, a.reason, a.amount, a.category) for a in adjustments
        ],
        enclosures=[letters.EnclosureFacts(e.title, e.kind) for e in enclosures],
    )


# --- packets -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PacketIn:
    claim_id: str
    level: int
    category: str
    template: TemplateInUse
    pdf: bytes
    pages: int
    method: str
    sent_on: date
    reference: str
    attachment_ids: list[int]


def record_packet(session: Session, sha256: str, packet: PacketIn, by: str) -> AppealPacket:
    """The packet's row, once its PDF is stored under `sha256`; a draft until the claim's
    workflow records the appeal. Commits."""
    row = AppealPacket(
        claim_id=packet.claim_id,
        level=packet.level,
        category=packet.category,
        template_id=packet.template.row_id,
        template_version=packet.template.version,
        sha256=sha256,
        size=len(packet.pdf),
        pages=packet.pages,
        method=packet.method,
        sent_on=packet.sent_on,
        reference=packet.reference,
        attachment_ids=list(packet.attachment_ids),
        state=DRAFT,
        created_by=by,
        created_at=datetime.now(UTC),
    )
    session.add(row)
    session.commit()
    assert hashlib.sha256(packet.pdf).hexdigest() == sha256
    return row


def mark_filed(session: Session, packet_id: int) -> None:
    row = session.get(AppealPacket, packet_id)
    if row is not None and row.state == DRAFT:
        row.state = FILED
        row.filed_at = datetime.now(UTC)
        session.add(row)
        session.commit()


def discard_packet(session: Session, settings: Settings, packet_id: int) -> None:
    """A packet whose appeal was refused: its row goes, and its file unless another row
    uses it. Commits."""
    row = session.get(AppealPacket, packet_id)
    if row is None:
        return
    sha = row.sha256
    session.delete(row)
    session.commit()
    forget_document(session, settings, sha)


def packets_of(session: Session, claim_id: str) -> list[AppealPacket]:
    return list(
        session.exec(
            select(AppealPacket)
            .where(AppealPacket.claim_id == claim_id)
            .order_by(col(AppealPacket.created_at).desc(), col(AppealPacket.id).desc())
        )
    )


def packet_of(session: Session, claim_id: str, packet_id: int) -> AppealPacket | None:
    row = session.get(AppealPacket, packet_id)
    return row if row is not None and row.claim_id == claim_id else None


def settle_drafts(session: Session, claim_id: str, filed_packet_ids: set[int]) -> None:
    """Drafts whose appeal the claim's timeline shows filed (an action that waited for a
    worker and was applied later) become filed."""
    for row in packets_of(session, claim_id):
        if row.state == DRAFT and row.id in filed_packet_ids:
            mark_filed(session, row.id)
