"""Health: is the database reachable and migrated, is Temporal answering, is a worker
polling the task queue (without one, every action waits and nothing moves)."""

from __future__ import annotations

import time
from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from sqlalchemy import func
from sqlmodel import select
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from denialflow.models.tables import Claim, WorkItem
from denialflow.web.deps import Operations, SessionDep, TemporalDep, ViewerDep
from denialflow.web.templating import templates

router = APIRouter(tags=["health"])

# Each check is bounded so /health answers within seconds when a part is down.
_CHECK_TIMEOUT = timedelta(seconds=2)
# A worker long-polls about every minute; one seen more recently than this is alive.
_POLLER_FRESH_SECONDS = 90
_UNKNOWN_WORKER = "unknown: this Temporal server does not report task-queue pollers"


async def _worker_check(temporal: Client, namespace: str, task_queue: str) -> str:
    missing = []
    for kind, name in (
        (TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, "workflow"),
        (TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY, "activity"),
    ):
        response = await temporal.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=namespace, task_queue=TaskQueue(name=task_queue), task_queue_type=kind
            ),
            timeout=_CHECK_TIMEOUT,
        )
        now = time.time()
        fresh = [
            p
            for p in response.pollers
            if now - p.last_access_time.ToSeconds() <= _POLLER_FRESH_SECONDS
        ]
        if not fresh:
            missing.append(name)
    if missing:
        return f"down: no worker polling {task_queue} ({', '.join(missing)} tasks)"
    return "ok"


async def _checks(
    session: SessionDep, temporal: TemporalDep, namespace: str, task_queue: str
) -> dict[str, str]:
    checks: dict[str, str] = {}
    try:
        session.exec(select(func.count()).select_from(Claim)).one()
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        checks["database"] = f"error: {type(exc).__name__}"
    if temporal is None:
        checks["temporal"] = "unreachable"
        checks["worker"] = "unknown: Temporal unreachable"
        return checks
    try:
        await temporal.service_client.check_health(timeout=_CHECK_TIMEOUT)
        checks["temporal"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["temporal"] = f"error: {type(exc).__name__}"
        checks["worker"] = "unknown: Temporal unreachable"
        return checks
    try:
        checks["worker"] = await _worker_check(temporal, namespace, task_queue)
    except RPCError as exc:
        # The time-skipping test server cannot list pollers; saying so is true, and a
        # guess either way would not be.
        if exc.status == RPCStatusCode.UNIMPLEMENTED:
            checks["worker"] = _UNKNOWN_WORKER
        else:
            checks["worker"] = f"error: {exc.status.name if exc.status else 'RPCError'}"
    except Exception as exc:  # noqa: BLE001
        checks["worker"] = f"error: {type(exc).__name__}"
    return checks


_HEALTH_BODY = {
    "application/json": {
        "schema": {
            "type": "object",
            "properties": {"status": {"type": "string", "enum": ["ok", "degraded"]}},
            "required": ["status"],
            "additionalProperties": {"type": "string"},
        }
    }
}


# A monitor's endpoint, so it is in /openapi.json; the pages below are not.
@router.get(
    "/health",
    summary="Is the database, Temporal and a worker answering",
    responses={
        200: {"description": "every part answers", "content": _HEALTH_BODY},
        503: {"description": "a part is down; its entry says how", "content": _HEALTH_BODY},
    },
)
async def health(request: Request, session: SessionDep, temporal: TemporalDep) -> JSONResponse:
    settings = request.app.state.settings
    checks = await _checks(session, temporal, settings.temporal_namespace, settings.task_queue)
    ok = all(v in ("ok", _UNKNOWN_WORKER) for v in checks.values())
    return JSONResponse({"status": "ok" if ok else "degraded", **checks}, 200 if ok else 503)


@router.get("/", include_in_schema=False)
def home(viewer: ViewerDep) -> RedirectResponse:
    from denialflow.web.routers.login import HOME_BY_ROLE

    return RedirectResponse(HOME_BY_ROLE.get(viewer.role, "/status"), status_code=303)


@router.get("/status", response_class=HTMLResponse, include_in_schema=False)
async def status_page(
    request: Request, session: SessionDep, temporal: TemporalDep, viewer: Operations
) -> HTMLResponse:
    settings = request.app.state.settings
    checks = await _checks(session, temporal, settings.temporal_namespace, settings.task_queue)
    by_status = session.exec(
        select(Claim.status, func.count()).group_by(Claim.status).order_by(Claim.status)
    ).all()
    by_queue = session.exec(
        select(WorkItem.queue, func.count(), func.sum(WorkItem.balance))
        .where(WorkItem.state != "closed")
        .group_by(WorkItem.queue)
        .order_by(WorkItem.queue)
    ).all()
    return templates.TemplateResponse(
        request,
        "pages/health.html",
        {"checks": checks, "by_status": by_status, "by_queue": by_queue},
    )
