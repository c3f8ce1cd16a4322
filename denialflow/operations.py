"""What intake, the demo seed, the simulator and the web do to claims, in one place.

Each function either records and starts, or sends one Update to the claim's
workflow and returns its answer; a refused action raises ActionRefused with
the workflow's own reason and leaves everything unchanged.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, delete, select
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from denialflow.activities.intake import payer_rules, record_claim
from denialflow.models.db import session_scope
from denialflow.models.tables import (
    AuditEvent,
    Claim,
    ClaimDiagnosis,
    ClaimEvent,
    ClaimLine,
    Payer,
    Remittance,
)
from denialflow.models.types import (
    AcknowledgementIn,
    ActionIn,
    ActionResult,
    ClaimFacts,
    ClaimIn,
    ClaimStatus,
    PayerRules,
    RemittanceIn,
    RemittanceResult,
)
from denialflow.temporal import start_claim_workflow, workflow_id
from denialflow.workflows.state import ClaimState


class ActionRefused(Exception):
    """The workflow refused an action or event; `conflict` when someone else got there first."""

    def __init__(self, message: str, conflict: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.conflict = conflict


async def submit_claim(
    client: Client,
    engine: Engine,
    claim: ClaimIn,
    task_queue: str,
    clock_offset: timedelta = timedelta(0),
    actor: str = "system",
    activity_timeout_seconds: int = 30,
    send_status_inquiries: bool = True,
) -> WorkflowHandle:
    with session_scope(engine) as session:
        facts = record_claim(session, claim, actor=actor)
        rules = payer_rules(session, claim.payer_id)
    try:
        return await start_claim_workflow(
            client,
            facts,
            rules,
            task_queue,
            clock_offset=clock_offset,
            activity_timeout_seconds=activity_timeout_seconds,
            send_status_inquiries=send_status_inquiries,
        )
    except BaseException:
        # No claim without its workflow: take the rows back so sending it again works.
        forget_claim(engine, claim.id, actor)
        raise


def forget_claim(engine: Engine, claim_id: str, actor: str) -> None:
    """Remove a just-recorded claim whose workflow could not be started."""
    with session_scope(engine) as session:
        for table in (ClaimLine, ClaimDiagnosis, ClaimEvent):
            session.exec(delete(table).where(table.claim_id == claim_id))  # type: ignore[call-overload,attr-defined]
        session.exec(delete(Claim).where(Claim.id == claim_id))  # type: ignore[call-overload]
        session.add(
            AuditEvent(
                at=datetime.now(UTC),
                actor=actor,
                action="claim_intake_rolled_back",
                claim_id=claim_id,
                detail={"reason": "workflow could not be started"},
            )
        )


async def _update(client: Client, claim_id: str, name: str, arg: object, result_type: type):
    handle = client.get_workflow_handle(workflow_id(claim_id))
    try:
        return await handle.execute_update(name, arg, result_type=result_type)
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        if isinstance(cause, ApplicationError):
            raise ActionRefused(cause.message, conflict=cause.type == "Conflict") from None
        raise
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise ActionRefused(
                f"claim {claim_id} is finished (paid or closed): nothing is left to do"
            ) from None
        raise


def claim_state_from_db(engine: Engine, claim_id: str) -> tuple[ClaimState, PayerRules]:
    """Rebuild a finished claim's workflow state from its rows, so a late payer event
    can reopen it in a new run. Sequence numbers continue past the recorded timeline
    and posted remittance keys are remembered, so nothing is written or counted twice."""
    with Session(engine) as session:
        claim = session.get(Claim, claim_id)
        if claim is None:
            raise ActionRefused(f"claim {claim_id} is not in the database")
        rules = payer_rules(session, claim.payer_id)
        last_seq = session.exec(
            select(func.max(ClaimEvent.seq)).where(ClaimEvent.workflow_id == workflow_id(claim_id))
        ).one()
        keys = session.exec(select(Remittance.key).where(Remittance.claim_id == claim_id)).all()
        state = ClaimState(
            facts=ClaimFacts(
                claim_id=claim.id,
                payer_id=claim.payer_id,
                service_date=claim.service_date,
                submitted_on=claim.submitted_on,
                charge=claim.charge,
            ),
            status=ClaimStatus(claim.status),
            submitted_on=claim.submitted_on,
            frequency_code=claim.frequency_code,
            acknowledged=True,
            payer_claim_control_number=claim.payer_claim_control_number,
            paid=claim.paid,
            contractual=claim.contractual,
            patient_responsibility=claim.patient_responsibility,
            written_off=claim.written_off,
            appeal_level=claim.appeal_level,
            missed=[f.removeprefix("missed:") for f in claim.flags if f.startswith("missed:")],
            seq=last_seq or 0,
            seen_keys=list(keys),
        )
    return state, rules


async def deliver_remittance(
    client: Client, engine: Engine, claim_id: str, remit: RemittanceIn, task_queue: str
) -> None:
    """Signal a payer's remittance to the claim's workflow without waiting for it to be
    applied (posting a large file must not wait claim by claim). A finished claim's
    workflow is started again from its recorded state, with the remittance waiting."""
    handle = client.get_workflow_handle(workflow_id(claim_id))
    try:
        await handle.signal("remittance", remit)
        return
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
    state, rules = claim_state_from_db(engine, claim_id)
    await start_claim_workflow(
        client, state.facts, rules, task_queue, state=state, start_signal=("remittance", remit)
    )


async def post_remittance(client: Client, claim_id: str, remit: RemittanceIn) -> RemittanceResult:
    return await _update(client, claim_id, "post_remittance", remit, RemittanceResult)


async def post_acknowledgement(
    client: Client, claim_id: str, ack: AcknowledgementIn
) -> RemittanceResult:
    return await _update(client, claim_id, "post_acknowledgement", ack, RemittanceResult)


async def change_payer_rules(
    client: Client, engine: Engine, payer_id: str, rules: PayerRules, actor: str
) -> int:
    """Save a payer's rules (audited with before and after) and tell every open claim of
    that payer, whose workflows recompute SLAs and the current appeal deadline.
    Returns how many claims were told."""
    with session_scope(engine) as session:
        payer = session.get(Payer, payer_id)
        if payer is None:
            raise ActionRefused(f"unknown payer {payer_id!r}")
        before = payer.rules
        payer.rules = rules.model_dump(mode="json")
        session.add(payer)
        session.add(
            AuditEvent(
                at=datetime.now(UTC),
                actor=actor,
                action="payer_rules_changed",
                detail={"payer": payer_id, "before": before, "after": payer.rules},
            )
        )
        open_claims = session.exec(
            select(Claim.id).where(
                Claim.payer_id == payer_id,
                col(Claim.status).not_in([ClaimStatus.PAID.value, ClaimStatus.CLOSED.value]),
            )
        ).all()
    told = 0
    for claim_id in open_claims:
        handle = client.get_workflow_handle(workflow_id(claim_id))
        with contextlib.suppress(RPCError):  # finished meanwhile: nothing to recompute
            await handle.signal("rules_changed", rules)
            told += 1
    return told


async def act(client: Client, claim_id: str, action: ActionIn) -> ActionResult:
    return await _update(client, claim_id, "act", action, ActionResult)
