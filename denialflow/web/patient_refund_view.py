"""The account page's "Credit and refunds" panel: the account's refund items (open ones
with their "Refund sent" and "Keep as credit" forms, then the closed ones with what was
done), who may act on them, and the form a refusal sends back with its errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from fastapi import Request
from sqlmodel import Session

from denialflow.domain import queues
from denialflow.domain.types import Role
from denialflow.posting.patient_refunds import REFUND_METHODS, RefundItem, refund_items
from denialflow.web.deps import Viewer
from denialflow.web.queries import member_queues

ACTIONS = {"sent": "Refund sent", "keep": "Keep as credit"}


def may_act(session: Session, viewer: Viewer | None) -> bool:
    """Supervisors, and specialists who are members of the patient queue."""
    if viewer is None:
        return False
    if viewer.role == Role.SUPERVISOR:
        return True
    return viewer.role == Role.SPECIALIST and queues.PATIENT in member_queues(
        session, viewer.username
    )


@dataclass
class RefundForm:
    """A refused form: which item and action, what was typed, what is wrong."""

    payment_id: int
    action: str
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def value(self, payment_id: int, action: str, name: str, default: str = "") -> str:
        if payment_id == self.payment_id and action == self.action:
            return self.values.get(name, default)
        return default

    def has(self, payment_id: int, action: str, name: str) -> bool:
        return payment_id == self.payment_id and action == self.action and name in self.errors


@dataclass
class RefundPanel:
    items: list[RefundItem]
    may_act: bool
    today: date
    form: RefundForm
    flash: str = ""
    methods: dict[str, str] = field(default_factory=lambda: dict(REFUND_METHODS))
    actions: dict[str, str] = field(default_factory=lambda: dict(ACTIONS))

    @property
    def open(self) -> list[RefundItem]:
        return [r for r in self.items if r.is_open]

    @property
    def closed(self) -> list[RefundItem]:
        return [r for r in self.items if not r.is_open]


def _flash(request: Request, items: list[RefundItem]) -> str:
    """The result of the action just done (?refunded=<payment> or ?kept=<payment>)."""
    for name in ("refunded", "kept"):
        raw = request.query_params.get(name, "")
        found = next((r for r in items if raw.isdigit() and r.payment_id == int(raw)), None)
        if found is None:
            continue
        if name == "kept":
            return (
                f"Kept as credit: {found.credit} stays on the account; the refund item is closed."
            )
        if found.is_open:
            return (
                f"Refund recorded: {found.item.balance} is still to refund on this item; "
                f"the account's credit is now {found.credit}."
            )
        return (
            "Refund recorded: the refund item is closed; the account's credit is now "
            f"{found.credit}."
        )
    return ""


def refund_panel(
    request: Request,
    session: Session,
    account_id: str,
    today: date,
    form: RefundForm | None = None,
) -> RefundPanel:
    items = refund_items(session, account_id)
    viewer = getattr(request.state, "viewer", None)
    return RefundPanel(
        items=items,
        may_act=may_act(session, viewer),
        today=today,
        form=form or RefundForm(0, ""),
        flash=_flash(request, items) if form is None else "",
    )
