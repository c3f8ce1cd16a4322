"""Write-off reasons and limits: what the practice lets a write-off say, and how much
each role may write off on a claim before a supervisor must approve it."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlmodel import Session, col, select

from denialflow.domain.types import Role
from denialflow.models.reference import WRITE_OFF_LIMITS
from denialflow.models.tables import WriteOffLimit, WriteOffReason

# Admins configure the product and work no claims: no limit applies to them.
LIMITED_ROLES = (Role.SPECIALIST, Role.SUPERVISOR)


@dataclass(frozen=True)
class WriteOffReasonView:
    code: str
    label: str


def all_reasons(session: Session) -> list[WriteOffReason]:
    return list(
        session.exec(
            select(WriteOffReason).order_by(col(WriteOffReason.position), WriteOffReason.code)
        )
    )


def write_off_reasons(session: Session) -> list[WriteOffReasonView]:
    """The active reasons, in the admin's order."""
    return [WriteOffReasonView(r.code, r.label) for r in all_reasons(session) if r.active]


def write_off_reason(session: Session, code: str) -> WriteOffReasonView | None:
    row = session.get(WriteOffReason, code) if code else None
    return WriteOffReasonView(row.code, row.label) if row is not None and row.active else None


def write_off_limit(session: Session, role: Role) -> Decimal | None:
    """The most `role` may write off without approval; None when no limit applies."""
    if role not in LIMITED_ROLES:
        return None
    row = session.get(WriteOffLimit, role.value)
    return row.amount if row is not None else WRITE_OFF_LIMITS[role]
