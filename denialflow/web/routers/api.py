"""The JSON API for integrations, under /api (described at /docs and /openapi.json).

Callers authenticate with `Authorization: Bearer <token>` (an API token acts with its
user's role) or a browser session (which then needs the X-CSRF-Token header on POST).
The rules are the web app's rules:

- creating claims: supervisors and admins. Intake is an integration's job, run under a
  service user that an admin sets up; specialists work claims, they do not add them.
- reading claims, queues and work items, and acting on work items: specialists and
  supervisors. Specialists see only their own queues and the items assigned to them,
  and only claims with such an open item. Admins configure, they do not work claims.
- reassigning: supervisors only.

Every change goes through the claim's workflow, exactly as a click in the web app does,
so an API call and a person acting at once get one success and one clear conflict.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response
from sqlalchemy import case, func, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from temporalio.client import Client
from temporalio.service import RPCError

from denialflow.domain.rules.carc import route
from denialflow.domain.types import (
    CENT,
    ZERO,
    ActionIn,
    Actor,
    ClaimIn,
    Role,
    WorkItemKind,
    WorkItemState,
)
from denialflow.models.tables import (
    AuditEvent,
    Claim,
    ClaimEvent,
    Note,
    Payer,
    Queue,
    Remittance,
    RemittanceAdjustment,
    User,
    WorkItem,
)
from denialflow.posting.eligibility import coverage_hold, hold_claim
from denialflow.store.claims import IntakeError
from denialflow.store.revisions import lines_and_diagnoses
from denialflow.web.api_models import (
    ActionOut,
    ActionRequest,
    AdjustmentOut,
    ClaimCreate,
    ClaimLineOut,
    ClaimOut,
    ErrorOut,
    InvalidOut,
    NoteOut,
    PriorityOut,
    QueueOut,
    RemittanceOut,
    TimelineEventOut,
    WorkItemOut,
    WorkItemPage,
)
from denialflow.web.deps import (
    Forbidden,
    Operations,
    SessionDep,
    SettingsDep,
    TemporalDep,
    Viewer,
    Worker,
)

# The claim page's own rule, shared, so the API never shows a claim the page would not.
from denialflow.web.queries import can_see_claim, member_queues
from denialflow.workflows.claim_client import ActionRefused, act, submit_claim

# The largest legitimate body (a claim of 50 lines, an action with a 4000-character note)
# is tens of kilobytes; anything far beyond is refused with 413 before it is read whole.
MAX_BODY_BYTES = 1024 * 1024

router = APIRouter(prefix="/api", tags=["api"], max_body_size=MAX_BODY_BYTES)

CLOSED = WorkItemState.CLOSED.value


# What a body that never reaches validation gets: 400 when it is not text (bytes that
# are not UTF-8), 413 when it is larger than MAX_BODY_BYTES.
BODY = (400, 413)


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": InvalidOut if code == 422 else ErrorOut} for code in (401, 403, *codes)}


def _now() -> datetime:
    return datetime.now(UTC)


def _audit(
    session: Session, viewer: Viewer, action: str, claim_id: str | None, **detail: Any
) -> None:
    session.add(
        AuditEvent(
            at=_now(),
            actor=viewer.username,
            action=action,
            claim_id=claim_id,
            detail={"via": "api", **detail},
        )
    )
    session.commit()


def _refuse(
    session: Session, viewer: Viewer, request: Request, message: str, claim_id: str | None
) -> Forbidden:
    # Same audit row as the role guards write, so one query finds every refusal.
    _audit(
        session,
        viewer,
        "forbidden",
        claim_id,
        method=request.method,
        path=request.url.path,
    )
    return Forbidden(message)


def _visible_items(session: Session, viewer: Viewer) -> Any:
    """The WHERE clause limiting a specialist to their queues and their own items;
    None for supervisors, who see everything."""
    if viewer.role != Role.SPECIALIST:
        return None
    queues = member_queues(session, viewer.username)
    return or_(col(WorkItem.queue).in_(queues), col(WorkItem.assignee) == viewer.username)


def _may_see_item(session: Session, viewer: Viewer, item: WorkItem) -> bool:
    if viewer.role != Role.SPECIALIST:
        return True
    return item.assignee == viewer.username or item.queue in member_queues(session, viewer.username)


def _item_out(item: WorkItem) -> WorkItemOut:
    return WorkItemOut(
        id=item.id,
        claim_id=item.claim_id,
        kind=WorkItemKind(item.kind),
        state=WorkItemState(item.state),
        queue=item.queue,
        home_queue=item.home_queue,
        assignee=item.assignee,
        version=item.version,
        category=item.category,
        reason_codes=[str(code) for code in item.reason_codes],
        next_action=item.next_action,
        opened_at=item.opened_at,
        due_at=item.due_at,
        snoozed_until=item.snoozed_until,
        escalation_level=item.escalation_level,
        escalation_reason=item.escalation_reason,
        deadline_name=item.deadline_name,
        deadline_at=item.deadline_at,
        balance=item.balance,
        expected_amount=item.expected_amount,
        actual_amount=item.actual_amount,
        priority=PriorityOut(
            score=item.priority,
            balance=item.balance,
            likelihood=item.likelihood,
            urgency=item.urgency,
            escalation_multiplier=item.escalation_multiplier,
        ),
    )


def _claim_out(session: Session, claim: Claim) -> ClaimOut:
    lines, diagnoses = lines_and_diagnoses(session, claim.id)
    items = session.exec(
        select(WorkItem)
        .where(WorkItem.claim_id == claim.id)
        .order_by(
            case((col(WorkItem.state) == CLOSED, 1), else_=0),
            col(WorkItem.priority).desc(),
            col(WorkItem.opened_at),
        )
    ).all()
    remits = session.exec(
        select(Remittance)
        .where(Remittance.claim_id == claim.id)
        .order_by(col(Remittance.posted_at), col(Remittance.id))
    ).all()
    adjustments: dict[int, list[AdjustmentOut]] = {}
    if remits:
        rows = session.exec(
            select(RemittanceAdjustment)
            .where(col(RemittanceAdjustment.remittance_id).in_([r.id for r in remits]))
            .order_by(col(RemittanceAdjustment.id))
        ).all()
        for adj in rows:
            adjustments.setdefault(adj.remittance_id, []).append(
                AdjustmentOut(
                    group=adj.group,
                    reason=adj.reason,
                    amount=adj.amount,
                    category=adj.category,
                    recommended_action=route(adj.group, adj.reason).next_action,
                )
            )
    notes = session.exec(
        select(Note).where(Note.claim_id == claim.id).order_by(col(Note.created_at))
    ).all()
    events = session.exec(
        select(ClaimEvent)
        .where(ClaimEvent.claim_id == claim.id)
        .order_by(col(ClaimEvent.at), col(ClaimEvent.seq))
    ).all()
    return ClaimOut(
        id=claim.id,
        payer_id=claim.payer_id,
        status=claim.status,  # type: ignore[arg-type]
        patient_name=claim.patient_name,
        patient_birth_date=claim.patient_birth_date,
        member_id=claim.member_id,
        service_date=claim.service_date,
        submitted_on=claim.submitted_on,
        frequency_code=claim.frequency_code,
        payer_claim_control_number=claim.payer_claim_control_number,
        charge=claim.charge,
        paid=claim.paid,
        contractual=claim.contractual,
        patient_responsibility=claim.patient_responsibility,
        written_off=claim.written_off,
        balance=claim.balance,
        appeal_level=claim.appeal_level,
        timely_filing_deadline=claim.timely_filing_deadline,
        appeal_deadline=claim.appeal_deadline,
        next_follow_up_at=claim.next_follow_up_at,
        flags=[str(flag) for flag in claim.flags],
        diagnoses=list(diagnoses),
        lines=[ClaimLineOut.model_validate(line) for line in lines],
        work_items=[_item_out(item) for item in items],
        remittances=[
            RemittanceOut(
                posted_at=r.posted_at,
                status_code=r.status_code,
                paid=r.paid,
                patient_responsibility=r.patient_responsibility,
                payer_claim_control_number=r.payer_claim_control_number,
                decision_date=r.decision_date,
                remarks=[str(code) for code in r.remarks],
                adjustments=adjustments.get(r.id or 0, []),
            )
            for r in remits
        ],
        notes=[NoteOut.model_validate(note) for note in notes],
        timeline=[TimelineEventOut.model_validate(event) for event in events],
    )


def _temporal_or_503(temporal: Client | None) -> Client:
    if temporal is None:
        raise HTTPException(503, "Temporal is not reachable: nothing was changed; try again")
    return temporal


# --- claims ------------------------------------------------------------------


@router.post(
    "/claims",
    status_code=201,
    response_model=ClaimOut,
    summary="Create a claim (supervisors and admins)",
    responses=_errors(*BODY, 409, 422, 503),
)
async def create_claim(
    body: ClaimCreate,
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    viewer: Operations,
) -> ClaimOut:
    """Record a new claim and start watching it, as if it had come in on an 837P.
    A duplicate id is refused with 409 and an unknown payer with 422; either way
    nothing is written. When the payer's latest 271 says the member was not covered on
    the date of service, the claim is recorded as held (status "held", not sent) with an
    eligibility work item naming that answer."""
    client = _temporal_or_503(temporal)
    if session.get(Claim, body.id) is not None:
        raise HTTPException(409, f"claim {body.id} already exists; nothing was changed")
    if session.get(Payer, body.payer_id) is None:
        raise HTTPException(
            422, f"payer_id: unknown payer {body.payer_id!r}; an admin adds payers under /admin"
        )
    claim_in = ClaimIn.model_validate(body.model_dump())
    # The payer's latest 271 says the member was not covered on the date of service:
    # held before submission with an eligibility item, like an 837P claim.
    not_covered = coverage_hold(
        session,
        claim_id=claim_in.id,
        payer_id=claim_in.payer_id,
        member_id=claim_in.member_id,
        birth_date=claim_in.patient_birth_date,
        service_date=claim_in.service_date,
    )
    # End this request's read transaction so the claim written by intake is visible below.
    session.rollback()
    engine = request.app.state.engine
    try:
        if not_covered is not None:
            hold_claim(engine, claim_in, not_covered, viewer.username)
        else:
            await submit_claim(
                client,
                engine,
                claim_in,
                settings.task_queue,
                actor=viewer.username,
                activity_timeout_seconds=settings.activity_timeout_seconds,
            )
    except IntegrityError:
        # Another caller created the same id between the check and the write.
        raise HTTPException(409, f"claim {body.id} already exists; nothing was changed") from None
    except IntakeError as err:
        raise HTTPException(422, f"{err}; nothing was changed") from None
    except RPCError:
        # Intake committed before the start failed; say so rather than claim nothing changed.
        raise HTTPException(
            503,
            f"claim {body.id} was recorded but Temporal did not start its workflow; "
            "an operator must start it (resending the claim is refused as a duplicate)",
        ) from None
    claim = session.get(Claim, body.id)
    if claim is None:  # pragma: no cover - intake committed it just above
        raise HTTPException(500, f"claim {body.id} was not recorded")
    response.headers["Location"] = f"/api/claims/{claim.id}"
    return _claim_out(session, claim)


@router.get(
    "/claims/{claim_id}",
    response_model=ClaimOut,
    summary="A claim with its lines, work items, remittances, call logs and timeline",
    responses=_errors(404),
)
def get_claim(claim_id: str, request: Request, session: SessionDep, viewer: Worker) -> ClaimOut:
    claim = session.get(Claim, claim_id)
    if claim is None:
        raise HTTPException(404, f"claim {claim_id} not found")
    if not can_see_claim(session, viewer, claim_id):
        raise _refuse(
            session,
            viewer,
            request,
            f"claim {claim_id} has no open work in your queues or assigned to you",
            claim_id,
        )
    out = _claim_out(session, claim)
    _audit(session, viewer, "claim_viewed", claim_id)
    return out


# --- queues and work items ---------------------------------------------------


@router.get(
    "/queues",
    response_model=list[QueueOut],
    summary="Queues with their open work and dollars (specialists: their own queues)",
    responses=_errors(),
)
def list_queues(session: SessionDep, viewer: Worker) -> list[QueueOut]:
    titles = {q.name: q.title for q in session.exec(select(Queue).order_by(Queue.name)).all()}
    names = (
        member_queues(session, viewer.username) if viewer.role == Role.SPECIALIST else list(titles)
    )
    counts = session.exec(
        select(
            WorkItem.queue,
            func.count(),
            func.sum(case((col(WorkItem.assignee).is_(None), 1), else_=0)),
            func.sum(case((col(WorkItem.escalation_level) > 0, 1), else_=0)),
            func.sum(WorkItem.balance),
        )
        .where(WorkItem.state != CLOSED)
        .group_by(WorkItem.queue)
    ).all()
    by_queue = {row[0]: row[1:] for row in counts}
    if viewer.role != Role.SPECIALIST:
        # Work reassigned to a queue since removed still has to be found by someone.
        names += sorted(set(by_queue) - set(titles))
    out = []
    for name in sorted(set(names)):
        n, unassigned, escalated, dollars = by_queue.get(name, (0, 0, 0, ZERO))
        out.append(
            QueueOut(
                name=name,
                title=titles.get(name, name),
                open_items=n,
                unassigned=unassigned or 0,
                escalated=escalated or 0,
                # SQLite sums NUMERIC as a float; back to cents through text.
                open_balance=Decimal(str(dollars or ZERO)).quantize(CENT),
            )
        )
    return out


@router.get(
    "/work-items",
    response_model=WorkItemPage,
    summary="Work items by priority, with the parts of each score",
    responses=_errors(),
)
def list_work_items(
    session: SessionDep,
    viewer: Worker,
    queue: Annotated[str | None, Query(max_length=60)] = None,
    kind: WorkItemKind | None = None,
    assignee: Annotated[str | None, Query(max_length=60, description="a username, or 'me'")] = None,
    state: Annotated[
        WorkItemState | None, Query(description="default: every state but closed")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> WorkItemPage:
    conditions: list[Any] = []
    visible = _visible_items(session, viewer)
    if visible is not None:
        conditions.append(visible)
    if queue:
        conditions.append(WorkItem.queue == queue)
    if kind:
        conditions.append(WorkItem.kind == kind.value)
    if assignee:
        conditions.append(WorkItem.assignee == (viewer.username if assignee == "me" else assignee))
    conditions.append(WorkItem.state == state.value if state else WorkItem.state != CLOSED)
    total = session.exec(select(func.count()).select_from(WorkItem).where(*conditions)).one()
    items = session.exec(
        select(WorkItem)
        .where(*conditions)
        .order_by(col(WorkItem.priority).desc(), col(WorkItem.due_at), col(WorkItem.id))
        .limit(limit)
        .offset(offset)
    ).all()
    return WorkItemPage(
        total=total, limit=limit, offset=offset, items=[_item_out(i) for i in items]
    )


@router.post(
    "/work-items/{item_id}/actions",
    response_model=ActionOut,
    summary="Act on a work item (start work, log a call, appeal, write off, reassign...)",
    responses=_errors(*BODY, 404, 409, 422, 503),
)
async def act_on_work_item(
    item_id: str,
    body: ActionRequest,
    request: Request,
    session: SessionDep,
    temporal: TemporalDep,
    viewer: Worker,
) -> ActionOut:
    """Sends the action to the claim's workflow. A refusal changes nothing: 409 when
    someone else changed the item since `expected_version`, 422 when the action does not
    fit the claim (the message says why)."""
    item = session.get(WorkItem, item_id)
    if item is None:
        raise HTTPException(404, f"work item {item_id} not found")
    if not _may_see_item(session, viewer, item):
        raise _refuse(
            session,
            viewer,
            request,
            f"work item {item_id} is not in your queues or assigned to you",
            item.claim_id,
        )
    if body.kind == "reassign" and viewer.role != Role.SUPERVISOR:
        raise _refuse(
            session, viewer, request, "only a supervisor can reassign work", item.claim_id
        )
    if item.claim_id is None:
        raise HTTPException(
            422, f"work item {item_id} has no claim yet: match it to a claim in the web app first"
        )
    to_user = (body.to_user or "").strip() or None
    to_queue = (body.to_queue or "").strip() or None
    if to_user is not None:
        user = session.get(User, to_user)
        if user is None or not user.active:
            raise HTTPException(422, f"to_user: no active user {to_user!r}")
    if to_queue is not None and session.get(Queue, to_queue) is None:
        raise HTTPException(422, f"to_queue: no queue {to_queue!r}")
    client = _temporal_or_503(temporal)
    claim_id = item.claim_id
    action = ActionIn(
        kind=body.kind,
        by=Actor(username=viewer.username, role=viewer.role),
        work_item_id=item.id,
        expected_version=body.expected_version,
        level=body.level,
        reason=body.reason.strip(),
        to_user=to_user,
        to_queue=to_queue,
        follow_up_date=body.follow_up_date,
        representative=body.representative.strip(),
        reference_number=body.reference_number.strip(),
        outcome=body.outcome.strip(),
        note=body.note,
    )
    try:
        result = await act(client, claim_id, action)
    except ActionRefused as err:
        _audit(
            session,
            viewer,
            "action_refused",
            claim_id,
            kind=body.kind,
            item=item.id,
            conflict=err.conflict,
        )
        raise HTTPException(err.status, err.message) from None
    except RPCError:
        raise HTTPException(
            503,
            f"the workflow of claim {claim_id} did not answer; read work item {item_id} "
            "again to see whether the action was applied",
        ) from None
    return ActionOut(
        ok=result.ok,
        message=result.message,
        claim_id=claim_id,
        status=result.status,
        work_item_id=result.work_item_id,
        version=result.version,
    )
