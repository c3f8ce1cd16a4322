"""Connecting to Temporal and starting claim workflows, shared by the CLI, web and tests."""

from __future__ import annotations

import logging
from datetime import timedelta

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client, WorkflowHandle
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from denialflow.models.types import ClaimFacts, ClaimStatus, ClaimWorkflowInput, PayerRules
from denialflow.workflows.search_attributes import PAYER_ATTR, SEARCH_ATTRIBUTES, STATUS_ATTR
from denialflow.workflows.state import ClaimState, ClaimWorkflowRun

log = logging.getLogger(__name__)


def workflow_id(claim_id: str) -> str:
    return f"claim-{claim_id}"


async def connect(address: str, namespace: str = "default") -> Client:
    return await Client.connect(
        address, namespace=namespace, data_converter=pydantic_data_converter
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


async def start_claim_workflow(
    client: Client,
    facts: ClaimFacts,
    rules: PayerRules,
    task_queue: str,
    clock_offset: timedelta = timedelta(0),
    activity_timeout_seconds: int = 30,
    state: ClaimState | None = None,
    start_signal: tuple[str, object] | None = None,
) -> WorkflowHandle:
    """Start the claim's workflow; starting one that already runs is not an error.

    With `start_signal`, this is signal-with-start: a running workflow just gets the
    signal, a finished one starts again (from `state`) with the signal waiting."""
    run = ClaimWorkflowRun(
        input=ClaimWorkflowInput(
            claim=facts,
            rules=rules,
            clock_offset_seconds=int(clock_offset.total_seconds()),
            activity_timeout_seconds=activity_timeout_seconds,
        ),
        state=state,
    )
    status = state.status if state is not None else ClaimStatus.SUBMITTED
    options: dict[str, object] = {}
    if start_signal is not None:
        options = {"start_signal": start_signal[0], "start_signal_args": [start_signal[1]]}
    try:
        return await client.start_workflow(
            "ClaimWorkflow",
            run,
            id=workflow_id(facts.claim_id),
            task_queue=task_queue,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(STATUS_ATTR, status.value),
                    SearchAttributePair(PAYER_ATTR, facts.payer_id),
                ]
            ),
            **options,  # type: ignore[arg-type]
        )
    except WorkflowAlreadyStartedError:
        return client.get_workflow_handle(workflow_id(facts.claim_id))
