"""Patients' complaints and questions, people's side: one logged from the account page
(the message, how it came: phone, letter, portal, in person), optionally pausing the
account's statement cycle as a dispute; resolved with the answer given, which resumes
the cycle if the complaint paused it.

The message and the answer are PHI: they stay in the database (store/patient_complaints.py);
the audit keeps the account, the complaint's number, the channel and whether it paused
the cycle.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Literal

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select
from temporalio.client import Client
from temporalio.service import RPCError

from denialflow.models.db import session_scope
from denialflow.models.tables import AuditEvent, PatientComplaint
from denialflow.posting.account_forms import FormRefused, account_balance, account_for_form
from denialflow.settings import Settings
from denialflow.store.patient_complaints import (
    CHANNELS,
    MAX_ANSWER,
    MAX_MESSAGE,
    close_item,
    record_complaint,
)
from denialflow.workflows.account_client import AccountEvent, tell_account

NO_TEMPORAL = (
    "Temporal is not reachable, so the statements cannot be paused: nothing was logged. "
    "Log it without pausing, or try again in a moment."
)


class ComplaintRefused(FormRefused):
    """field -> message (each starts with the field's label); nothing changed."""


async def _tell_cycle(
    client: Client | None,
    account_id: str,
    kind: Literal["paused", "resumed"],
    today: date,
    settings: Settings | None,
    *,
    unreachable: Mapping[str, str],
    no_answer: Mapping[str, str],
) -> None:
    """Pause or resume the account's statement cycle as a dispute, before anything is
    written: if the workflow cannot be told, the complaint stays as it was."""
    if client is None:
        raise ComplaintRefused(unreachable)
    try:
        await tell_account(
            client, account_id, AccountEvent(kind=kind, why="dispute", on=today), settings
        )
    except RPCError:
        raise ComplaintRefused(no_answer) from None


def check_complaint(values: Mapping[str, str]) -> tuple[str, str, bool]:
    errors: dict[str, str] = {}
    message = values.get("message", "").strip()
    if not message:
        errors["message"] = "Message: required (what the patient said or asked)"
    elif len(message) > MAX_MESSAGE:
        errors["message"] = f"Message: {len(message)} characters; at most {MAX_MESSAGE}"
    channel = values.get("channel", "").strip()
    if channel not in CHANNELS:
        errors["channel"] = (
            f"Channel: {channel!r} is not one of {', '.join(CHANNELS.values()).lower()}"
            if channel
            else "Channel: required (how the patient reached us)"
        )
    pause = values.get("pause", "") in ("yes", "on", "1", "true")
    if errors:
        raise ComplaintRefused(errors)
    return message, channel, pause


async def open_complaint(
    client: Client | None,
    engine: Engine,
    account_id: str,
    values: Mapping[str, str],
    actor: str,
    today: date,
    settings: Settings | None = None,
) -> PatientComplaint:
    """Log the complaint and open its work item; with `pause`, the statement cycle is
    paused as a dispute first (if that fails, nothing is logged)."""
    with Session(engine) as session:
        account = account_for_form(session, account_id, ComplaintRefused)
        owed = account_balance(session, account.id)
    message, channel, pause = check_complaint(values)
    if pause:
        refused = {"pause": f"Pause statements: {NO_TEMPORAL}"}
        await _tell_cycle(
            client, account.id, "paused", today, settings, unreachable=refused, no_answer=refused
        )
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        complaint = record_complaint(
            session, account.id, channel, message, pause, actor, now, owed=owed
        )
        session.add(
            AuditEvent(
                at=now,
                actor=actor[:60],
                action="patient_complaint_logged",
                detail={
                    "account": account.id,
                    "complaint": complaint.id,
                    "channel": channel,
                    "paused_cycle": pause,
                },
            )
        )
        session.flush()
        session.expunge(complaint)
    return complaint


async def resolve_complaint(
    client: Client | None,
    engine: Engine,
    account_id: str,
    complaint_id: int,
    values: Mapping[str, str],
    actor: str,
    today: date,
    settings: Settings | None = None,
) -> PatientComplaint:
    """Record the answer given and close the complaint's work; a complaint that paused
    the statement cycle resumes it."""
    answer = values.get("answer", "").strip()
    with Session(engine) as session:
        account = account_for_form(session, account_id, ComplaintRefused)
        complaint = session.get(PatientComplaint, complaint_id)
        if complaint is None or complaint.account_id != account.id:
            raise ComplaintRefused(
                {"complaint": f"Complaint: account {account.id} has no complaint {complaint_id}"}
            )
        if complaint.state != "open":
            raise ComplaintRefused(
                {
                    "complaint": f"Complaint: {complaint_id} was resolved already by "
                    f"{complaint.resolved_by}"
                }
            )
        # Another open complaint that paused the cycle keeps it paused.
        others = session.exec(
            select(func.count()).where(
                PatientComplaint.account_id == account.id,
                PatientComplaint.state == "open",
                col(PatientComplaint.paused_cycle).is_(True),
                PatientComplaint.id != complaint_id,
            )
        ).one()
        paused = complaint.paused_cycle and not others
    if not answer:
        raise ComplaintRefused({"answer": "Answer: required (what the patient was told)"})
    if len(answer) > MAX_ANSWER:
        raise ComplaintRefused(
            {"answer": f"Answer: {len(answer)} characters; at most {MAX_ANSWER}"}
        )
    if paused:
        await _tell_cycle(
            client,
            account.id,
            "resumed",
            today,
            settings,
            unreachable={
                "answer": "Temporal is not reachable, so statements cannot resume: "
                "nothing was recorded. Try again in a moment."
            },
            no_answer={
                "answer": "Temporal did not answer, so statements cannot resume: nothing "
                "was recorded. Try again in a moment."
            },
        )
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        row = session.get(PatientComplaint, complaint_id)
        assert row is not None
        row.state = "resolved"
        row.answer = answer
        row.resolved_by = actor[:60]
        row.resolved_at = now
        session.add(row)
        close_item(session, row, now)
        session.add(
            AuditEvent(
                at=now,
                actor=actor[:60],
                action="patient_complaint_resolved",
                detail={
                    "account": account.id,
                    "complaint": complaint_id,
                    "resumed_cycle": paused,
                },
            )
        )
        session.flush()
        session.expunge(row)
    return row
