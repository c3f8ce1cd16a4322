"""Schemathesis against the real app: served by uvicorn over a migrated database, its
writes going through real workflows on the time-skipping server.

- The JSON API, every operation in /openapi.json: no answer is a 5xx, every answer is
  one the spec declares (status code, content type, body schema), and data outside the
  schema is refused with a 4xx.
- The pages and form posts, which are not in the public spec (they answer HTML and
  redirects): described from their FastAPI routes and fuzzed signed in, for one
  property only, that no input a person can send is a 5xx.

Bounded for CI (about a minute on two cores): a fixed number of examples per operation,
derandomized generation, no example database, no deadlines, no shrinking. Every distinct
failure is collected and reported together, each with a curl command reproducing it.
"""

from __future__ import annotations

import asyncio
import copy
import tempfile
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import requests
import schemathesis
import uvicorn
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)
from sqlmodel import Session, select
from temporalio.testing import WorkflowEnvironment

from denialflow.demo import install_demo_users
from denialflow.devserver import free_port
from denialflow.models.db import session_scope
from denialflow.models.tables import Claim, Payer, Queue, WorkItem
from denialflow.settings import Settings
from denialflow.store.accounts import SESSION_COOKIE
from denialflow.web.app import create_app
from denialflow.worker import build_worker
from tests.conftest import make_engine
from tests.web.conftest import sign_in
from tests.web.test_api import token_for
from tests.workflows.conftest import Harness

BOUNDED = settings(
    derandomize=True,
    database=None,
    # A request that reaches a workflow waits for its worker; wall time on a busy CI
    # box says nothing about the app.
    deadline=None,
    # Failures are collected, not raised, so there is nothing to shrink; shrinking
    # HTTP calls would also make a failing run unbounded.
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ],
    print_blob=False,
)

# Per operation and per mode (valid data, invalid data): enough to walk each body's
# fields and limits; more only buys time on a shared two-core runner.
API_EXAMPLES = {GenerationMode.POSITIVE: 80, GenerationMode.NEGATIVE: 60}
PAGE_EXAMPLES = {GenerationMode.POSITIVE: 8, GenerationMode.NEGATIVE: 4}

API_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
# The pages' spec below is our own reconstruction, not a contract: only "no 5xx" holds.
PAGE_CHECKS = [not_a_server_error]

# Covered by the API pass; /logout would end the session the page pass signs in with.
NOT_PAGES = ("/api/", "/logout", "/docs", "/openapi.json")


def _app() -> FastAPI:
    # Building the app opens no database; the file is never created.
    url = f"sqlite:///{Path(tempfile.gettempdir()) / 'denialflow-fuzz-never-opened.db'}"
    return create_app(Settings(DATABASE_URL=url))


def _api_operations() -> list[tuple[str, str]]:
    # Collected from the app itself, so an operation added later is fuzzed too.
    spec = _app().openapi()
    return [
        (method.upper(), path)
        for path, methods in sorted(spec["paths"].items())
        for method in sorted(methods)
    ]


def _pages_spec(app: FastAPI) -> dict[str, Any]:
    """Every route left out of /openapi.json, described from its parameters and form
    fields, so the fuzzer knows what to send."""
    public = set(app.openapi()["paths"])
    routes = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if (
            isinstance(route, APIRoute)
            and route.path == context.path  # no router prefix to lose in the copy
            and route.path not in public
            and not route.path.startswith(NOT_PAGES)
        ):
            route = copy.copy(route)
            route.include_in_schema = True
            routes.append(route)
    return get_openapi(title="pages", version="0", routes=routes)


API_OPERATIONS = _api_operations()


@dataclass
class Findings:
    """Distinct failures: the first response of each kind, by operation, check and
    status code, so one defect hit a hundred times is reported once."""

    seen: dict[tuple[str, ...], str] = field(default_factory=dict)
    calls: int = 0
    statuses: Counter[int] = field(default_factory=Counter)

    def add(self, case: schemathesis.Case, status: int, group: FailureGroup) -> None:
        titles = tuple(sorted({f.title for f in group.exceptions}))
        key = (case.operation.label, *titles, str(status))
        if key not in self.seen:
            self.seen[key] = f"{case.method} {case.formatted_path} -> {status}\n{group}"

    def report(self) -> str:
        answers = dict(sorted(self.statuses.items()))
        head = f"{len(self.seen)} distinct failure(s) in {self.calls} calls (answers: {answers})"
        return head + ":\n\n" + "\n\n".join(self.seen.values())


async def _seed(harness: Harness) -> dict[str, list[str]]:
    """Rows for path parameters to name: a claim waiting on its payer, and denials with
    open work items in the queues casey supervises. Returns real values by name."""
    await harness.submit("FUZZ-1", submitted_days_ago=5)
    await harness.submit("FUZZ-2", submitted_days_ago=10)
    await harness.deny("FUZZ-2", reason="27", amount="500.00")
    await harness.submit("FUZZ-3", submitted_days_ago=10)
    await harness.deny("FUZZ-3", reason="16", amount="500.00")
    await harness.wait_item("FUZZ-2", "denial")
    await harness.wait_item("FUZZ-3", "denial")
    with Session(harness.engine) as session:
        return {
            "claim_id": list(session.exec(select(Claim.id).order_by(Claim.id))),
            "item_id": list(session.exec(select(WorkItem.id).order_by(WorkItem.id))),
            "payer_id": ["commercial-uhc", *session.exec(select(Payer.id).limit(1))],
            "queue_name": list(session.exec(select(Queue.name).limit(2))),
            "username": ["sam"],
        }


@dataclass
class Stack:
    harness: Harness
    base_url: str
    real: dict[str, list[str]]  # values of real rows, by path parameter name


@pytest_asyncio.fixture(scope="module")
async def stack(env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The `web` fixture's app, worker and database, once for the module rather than per
    test: the time budget goes to fuzzing instead of migrations and worker start-ups."""
    tmp = tmp_path_factory.mktemp("fuzz")
    engine = make_engine(tmp, "sqlite")
    task_queue = f"tq-fuzz-{uuid.uuid4().hex[:8]}"
    var = str(tmp / "var")
    async with build_worker(
        env.client, engine, task_queue, settings=Settings(DENIALFLOW_VAR_DIR=var)
    ):
        harness = Harness(env, env.client, engine, task_queue)
        with session_scope(engine) as session:
            install_demo_users(session)
        app = create_app(
            Settings(
                DATABASE_URL=str(engine.url),
                DENIALFLOW_TASK_QUEUE=task_queue,
                DENIALFLOW_VAR_DIR=var,
            )
        )
        app.state.temporal = env.client
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        )
        task = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.02)
        try:
            real = await _seed(harness)
            yield Stack(harness, f"http://127.0.0.1:{port}", real)
        finally:
            server.should_exit = True
            await task
            # Claims the fuzzer created run workflows too; stopping them keeps the shared
            # test server's clock from being held by workflows whose worker is gone.
            with Session(engine) as session:
                harness.started = [harness.handle(c) for c in session.exec(select(Claim.id))]
            await harness.terminate_all()
    engine.dispose()


# Body fields that must name an existing row for a request to get anywhere, and the
# `real` values they may take: a random payer id is a 422 before any workflow is reached.
REFERENCES = {"payer_id": "payer_id", "to_user": "username", "to_queue": "queue_name"}


def _strategy(operation: Any, mode: GenerationMode, real: dict[str, list[str]]) -> Any:
    """Cases with generated path parameters (mostly rows that do not exist) or with the
    values of real rows, so handlers get past their 404 and reach the workflows."""
    names = [p.name for p in operation.path_parameters]
    choices = [operation.as_strategy(mode)]
    if names and all(real.get(name) for name in names):
        for n in range(max(len(real[name]) for name in names)):
            fixed = {name: real[name][n % len(real[name])] for name in names}
            choices.append(operation.as_strategy(mode, path_parameters=fixed))
    if mode is GenerationMode.POSITIVE:
        # Only valid cases: rewriting a field of an invalid one could make it valid, and
        # negative_data_rejection would then wrongly expect a refusal.
        choices += [c.flatmap(lambda case: _referencing(case, real)) for c in choices]
    return st.one_of(*choices)


def _referencing(case: schemathesis.Case, real: dict[str, list[str]]) -> Any:
    body = case.body
    fields = [f for f in REFERENCES if isinstance(body, dict) and body.get(f) is not None]
    if not fields:
        return st.just(case)

    def named(values: dict[str, str]) -> schemathesis.Case:
        case.body = {**body, **values}
        return case

    return st.fixed_dictionaries({f: st.sampled_from(real[REFERENCES[f]]) for f in fields}).map(
        named
    )


def _fuzz(
    operation: Any,
    base_url: str,
    headers: dict[str, str],
    real: dict[str, list[str]],
    examples: dict[GenerationMode, int],
    checks: list[Any],
    findings: Findings,
) -> None:
    """Runs in a thread: the server and the worker live on the test's event loop."""
    with requests.Session() as http:
        for mode, n in examples.items():

            @settings(BOUNDED, max_examples=n)
            @given(case=_strategy(operation, mode, real))
            def run(case: schemathesis.Case) -> None:
                findings.calls += 1
                response = case.call(base_url=base_url, session=http, headers=headers, timeout=60)
                findings.statuses[response.status_code] += 1
                try:
                    case.validate_response(response, checks=checks, headers=headers)
                except FailureGroup as group:
                    findings.add(case, response.status_code, group)

            try:
                run()
            except Unsatisfiable:
                # An operation without parameters or body has no invalid input to send.
                if mode is not GenerationMode.NEGATIVE:
                    raise


@pytest.mark.parametrize(
    ("method", "path"), API_OPERATIONS, ids=[f"{m} {p}" for m, p in API_OPERATIONS]
)
async def test_every_api_answer_is_declared_and_none_is_a_server_error(
    stack: Stack, method: str, path: str
) -> None:
    async with httpx.AsyncClient(base_url=stack.base_url) as http:
        spec = (await http.get("/openapi.json")).json()
    operation = schemathesis.openapi.from_dict(spec)[path][method]
    # casey supervises: the one role that may call every operation of the API, so the
    # fuzzing reaches handlers instead of stopping at 401 or 403.
    headers = token_for(stack.harness, "casey")
    findings = Findings()
    await asyncio.to_thread(
        _fuzz, operation, stack.base_url, headers, stack.real, API_EXAMPLES, API_CHECKS, findings
    )
    assert findings.calls > 0
    # Not every answer a refusal: the fuzzing got past authentication and validation.
    assert any(200 <= status < 300 for status in findings.statuses), findings.report()
    if findings.seen:
        pytest.fail(findings.report(), pytrace=False)


async def test_no_page_or_form_post_answers_a_server_error(stack: Stack) -> None:
    schema = schemathesis.openapi.from_dict(_pages_spec(_app()))
    # Each page is fuzzed as the role it is for: admin pages as alex, the rest as casey.
    sessions = {}
    for username in ("casey", "alex"):
        async with httpx.AsyncClient(base_url=stack.base_url) as http:
            csrf = await sign_in(http, username)
            cookie = f"{SESSION_COOKIE}={http.cookies[SESSION_COOKIE]}"
        sessions[username] = {"Cookie": cookie, "X-CSRF-Token": csrf}
    findings = Findings()
    for result in schema.get_all_operations():
        operation = result.ok()
        headers = sessions["alex" if operation.path.startswith("/admin") else "casey"]
        await asyncio.to_thread(
            _fuzz,
            operation,
            stack.base_url,
            headers,
            stack.real,
            PAGE_EXAMPLES,
            PAGE_CHECKS,
            findings,
        )
    assert findings.calls > 100
    if findings.seen:
        pytest.fail(findings.report(), pytrace=False)
