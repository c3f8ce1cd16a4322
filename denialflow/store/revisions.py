"""Claim revisions: a person's edit of a claim, kept before it is sent, applied to the
claim's rows when its 837P goes out, and described in words for the timeline.

The web records a draft (already scrubbed); the claim workflow's activity applies it
and writes the file; a refused action discards it. A revision is the one place the
before and after of a correction live, so the workflow only carries its id.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlmodel import Session, delete, select

from denialflow.domain.types import ZERO, ClaimLineIn, to_money
from denialflow.models.tables import Claim, ClaimDiagnosis, ClaimLine, ClaimRevision
from denialflow.store.claims import add_lines

DRAFT, SENT, DISCARDED = "draft", "sent", "discarded"


class RevisionError(ValueError):
    """A revision that cannot be sent; the message says which and why."""


def lines_and_diagnoses(session: Session, claim_id: str) -> tuple[list[ClaimLine], list[str]]:
    """The claim's lines and diagnosis codes in the order its 837P lists them."""
    lines = session.exec(
        select(ClaimLine).where(ClaimLine.claim_id == claim_id).order_by(ClaimLine.line_number)
    ).all()
    diagnoses = session.exec(
        select(ClaimDiagnosis.code)
        .where(ClaimDiagnosis.claim_id == claim_id)
        .order_by(ClaimDiagnosis.position)
    ).all()
    return list(lines), list(diagnoses)


def editable_fields(session: Session, claim: Claim) -> dict[str, Any]:
    """The fields a correction may change, as JSON: place of service, member id,
    diagnoses and lines."""
    lines, diagnoses = lines_and_diagnoses(session, claim.id)
    return {
        "place_of_service": claim.place_of_service,
        "member_id": claim.member_id,
        "diagnoses": list(diagnoses),
        "lines": [
            {
                "procedure_code": line.procedure_code,
                "modifiers": list(line.modifiers),
                "units": str(Decimal(line.units).normalize()),
                "charge": str(to_money(line.charge)),
                "diagnosis_pointers": list(line.diagnosis_pointers),
            }
            for line in lines
        ],
    }


def _line_words(line: dict[str, Any]) -> str:
    mods = "-".join(line["modifiers"])
    pointers = ",".join(str(p) for p in line["diagnosis_pointers"])
    code = f"{line['procedure_code']}{'-' + mods if mods else ''}"
    return f"{code} x{line['units']} {line['charge']} dx {pointers}"


def describe_changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """What a correction changes, one phrase per difference ("line 1: procedure 99214 ->
    99213"), in the order the form shows the fields."""
    changes: list[str] = []
    for key, label in (("place_of_service", "place of service"), ("member_id", "member id")):
        if before.get(key) != after.get(key):
            changes.append(
                f"{label}: {before.get(key) or '(none)'} -> {after.get(key) or '(none)'}"
            )
    old_dx, new_dx = before.get("diagnoses", []), after.get("diagnoses", [])
    for n in range(max(len(old_dx), len(new_dx))):
        old = old_dx[n] if n < len(old_dx) else None
        new = new_dx[n] if n < len(new_dx) else None
        if old != new:
            if old is None:
                changes.append(f"diagnosis {n + 1} added: {new}")
            elif new is None:
                changes.append(f"diagnosis {n + 1} removed: {old}")
            else:
                changes.append(f"diagnosis {n + 1}: {old} -> {new}")
    fields = (
        ("procedure_code", "procedure"),
        ("modifiers", "modifiers"),
        ("units", "units"),
        ("charge", "charge"),
        ("diagnosis_pointers", "diagnosis pointers"),
    )
    old_lines, new_lines = before.get("lines", []), after.get("lines", [])
    for n in range(max(len(old_lines), len(new_lines))):
        old = old_lines[n] if n < len(old_lines) else None
        new = new_lines[n] if n < len(new_lines) else None
        if old is None:
            changes.append(f"line {n + 1} added: {_line_words(new)}")  # type: ignore[arg-type]
        elif new is None:
            changes.append(f"line {n + 1} removed: {_line_words(old)}")
        else:
            for key, label in fields:
                if old[key] != new[key]:
                    show = lambda v: ", ".join(map(str, v)) if isinstance(v, list) else str(v)  # noqa: E731
                    changes.append(
                        f"line {n + 1} {label}: {show(old[key]) or '(none)'} -> "
                        f"{show(new[key]) or '(none)'}"
                    )
    return changes


def fields_total(fields: dict[str, Any]) -> Decimal:
    return to_money(sum((Decimal(line["charge"]) for line in fields["lines"]), ZERO))


def record_draft(
    session: Session,
    claim: Claim,
    frequency: str,
    after: dict[str, Any] | None,
    by: str,
    reason: str = "",
) -> ClaimRevision:
    """A draft revision of `claim` (after=None: sent as it stands, as a void is)."""
    before = editable_fields(session, claim)
    after = before if after is None else after
    revision = ClaimRevision(
        claim_id=claim.id,
        frequency=frequency,
        reason=reason,
        created_by=by,
        created_at=datetime.now(UTC),
        before=before,
        after=after,
        changes=describe_changes(before, after),
        charge=ZERO if frequency == "8" else fields_total(after),
    )
    session.add(revision)
    session.flush()
    return revision


def discard(session: Session, revision_id: int) -> None:
    revision = session.get(ClaimRevision, revision_id)
    if revision is not None and revision.state == DRAFT:
        revision.state = DISCARDED


def apply_to_claim(session: Session, revision: ClaimRevision) -> None:
    """Make the claim's rows what the revision says (idempotent: run again, same rows)."""
    claim = session.get(Claim, revision.claim_id)
    if claim is None:
        raise RevisionError(f"claim {revision.claim_id} is not in the database")
    if revision.frequency == "8":
        claim.frequency_code = "8"
        return
    after = revision.after
    claim.place_of_service = after["place_of_service"]
    claim.member_id = after["member_id"]
    claim.frequency_code = revision.frequency
    claim.charge = fields_total(after)
    claim.updated_at = datetime.now(UTC)
    session.exec(delete(ClaimLine).where(ClaimLine.claim_id == claim.id))  # type: ignore[call-overload]
    session.exec(delete(ClaimDiagnosis).where(ClaimDiagnosis.claim_id == claim.id))  # type: ignore[call-overload]
    session.flush()
    add_lines(
        session,
        claim.id,
        [ClaimLineIn.model_validate(raw) for raw in after["lines"]],
        after["diagnoses"],
    )
    session.flush()


def revisions_of(session: Session, claim_id: str) -> list[ClaimRevision]:
    return list(
        session.exec(
            select(ClaimRevision)
            .where(ClaimRevision.claim_id == claim_id, ClaimRevision.state == SENT)
            .order_by(ClaimRevision.id)
        )
    )
