"""Connecting to Temporal, registering search attributes, and reading a workflow's history."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from temporalio.api.enums.v1 import EventType, IndexedValueType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client, WorkflowHandle
from temporalio.converter import DataConverter
from temporalio.service import RPCError, RPCStatusCode

from denialflow.settings import Settings, get_settings
from denialflow.workflows.codec import codec_from_settings
from denialflow.workflows.converter import data_converter
from denialflow.workflows.search_attributes import SEARCH_ATTRIBUTES

log = logging.getLogger(__name__)


def encrypted_converter(settings: Settings | None = None) -> DataConverter:
    """Our converter with the payload codec keyed from `settings` (default: the process's)."""
    return data_converter(codec_from_settings(settings or get_settings()))


async def connect(
    address: str, namespace: str = "default", settings: Settings | None = None
) -> Client:
    """A client whose every payload is encrypted (workflows/codec.py)."""
    return await Client.connect(
        address, namespace=namespace, data_converter=encrypted_converter(settings)
    )


async def register_search_attributes(client: Client, namespace: str = "default") -> bool:
    """Register our search attributes; True when they are there afterwards.

    Safe to call at every worker start: existing attributes are fine, and a cluster
    whose operator API we may not use (Temporal Cloud) is left to its admins."""
    try:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace=namespace,
                search_attributes={
                    name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD for name in SEARCH_ATTRIBUTES
                },
            )
        )
    except RPCError as err:
        if err.status == RPCStatusCode.ALREADY_EXISTS:
            return True
        log.warning(
            "could not register search attributes %s (%s); ask the cluster admin to add "
            "them as Keyword",
            ", ".join(SEARCH_ATTRIBUTES),
            err.message,
        )
        return False
    return True


@dataclass
class WorkflowState:
    busy: bool
    closed: bool
    timers: list[datetime]
    failure: str | None


def history_state(events: list[HistoryEvent]) -> WorkflowState:
    """Is the workflow waiting on nothing but its timers, and when do they fire?"""
    task_open = False
    failure: str | None = None
    activities: set[int] = set()
    timers: dict[str, datetime] = {}
    closed = False
    for e in events:
        t = e.event_type
        if t == EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
            task_open = True
        elif t == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            task_open, failure = False, None
        elif t == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
            task_open = True
            failure = e.workflow_task_failed_event_attributes.failure.message
        elif t == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            activities.add(e.event_id)
        elif t == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            activities.discard(e.activity_task_completed_event_attributes.scheduled_event_id)
        elif t == EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED:
            activities.discard(e.activity_task_failed_event_attributes.scheduled_event_id)
        elif t == EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
            activities.discard(e.activity_task_timed_out_event_attributes.scheduled_event_id)
        elif t == EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED:
            activities.discard(e.activity_task_canceled_event_attributes.scheduled_event_id)
        elif t == EventType.EVENT_TYPE_TIMER_STARTED:
            a = e.timer_started_event_attributes
            started = e.event_time.ToDatetime(tzinfo=UTC)
            timers[a.timer_id] = started + a.start_to_fire_timeout.ToTimedelta()
        elif t == EventType.EVENT_TYPE_TIMER_FIRED:
            timers.pop(e.timer_fired_event_attributes.timer_id, None)
        elif t == EventType.EVENT_TYPE_TIMER_CANCELED:
            timers.pop(e.timer_canceled_event_attributes.timer_id, None)
        elif t in (
            EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
            EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
            EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT,
            EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED,
            EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
        ):
            closed = True
        elif t == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
            # Read just as the run continued as new: the next run is about to start.
            task_open = True
    if closed:
        return WorkflowState(busy=False, closed=True, timers=[], failure=None)
    return WorkflowState(
        busy=task_open or bool(activities),
        closed=False,
        timers=sorted(timers.values()),
        failure=failure,
    )


async def wait_idle(handle: WorkflowHandle, timeout: float = 30.0) -> WorkflowState:
    """Wait until the workflow has no task or activity in flight (or has closed)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        state = history_state([e async for e in handle.fetch_history_events()])
        if not state.busy or asyncio.get_running_loop().time() > deadline:
            return state
        await asyncio.sleep(0.05)
