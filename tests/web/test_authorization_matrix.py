"""The authorization matrix: every route of the whole app, for every role, against the
table below. Routes are read from the app itself, so a new page is covered the moment
it is added, and a route nobody has placed in the table fails here until someone
decides who may use it.

A role refused must get 403 with an audit entry; a role allowed must never get 401,
403, a sign-in redirect or a server error (a 404 or 422 for an empty form is fine:
what is asserted is who gets in, not what an empty request does); anonymous visitors
are sent to /login (pages) or get 401 (the API)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest_asyncio
from sqlalchemy import func
from sqlmodel import Session, select

from denialflow.models.db import session_scope
from denialflow.models.tables import AuditEvent, IngestedFile
from denialflow.settings import Settings
from denialflow.store.accounts import issue_api_token, utcnow
from denialflow.web.app import create_app
from tests.web.conftest import sign_in
from tests.workflows.conftest import Harness

try:
    from fastapi.routing import iter_route_contexts
except ImportError:  # older FastAPI: app.routes is already flat
    iter_route_contexts = None  # type: ignore[assignment]

SPECIALIST, SUPERVISOR, ADMIN = "sam", "casey", "alex"
ROLES = (SPECIALIST, SUPERVISOR, ADMIN)
PUBLIC = "public"
SIGNED_IN = frozenset(ROLES)
WORKERS = frozenset({SPECIALIST, SUPERVISOR})
SUPERVISORS = frozenset({SUPERVISOR})
ADMINS = frozenset({ADMIN})
OPERATIONS = frozenset({SUPERVISOR, ADMIN})

# (methods or None for any, path or prefix, who may use it). The first match wins, so
# narrower rules come first. A prefix matches itself and everything below it.
EXPECTED: list[tuple[frozenset[str] | None, str, frozenset[str] | str]] = [
    (None, "/login", PUBLIC),
    (None, "/health", PUBLIC),
    (None, "/static", PUBLIC),
    (None, "/docs", PUBLIC),
    (None, "/redoc", PUBLIC),
    (None, "/openapi.json", PUBLIC),
    (None, "/logout", SIGNED_IN),
    (None, "/", SIGNED_IN),  # the role's home: exact path only, see rule_for
    (None, "/queue", WORKERS),
    (None, "/queue.csv", WORKERS),  # the queue's export: whoever sees the queue
    (None, "/claims", WORKERS),
    (None, "/search", WORKERS),
    # Patient accounts and their payments: whoever works claims (a payment is taken at
    # any desk), as the claim pages.
    # Finishing a patient refund item: supervisors and members of the patient queue
    # (sam is one; a specialist outside it gets 403 from the handler).
    (None, "/accounts/{account_id}/refunds", WORKERS),
    (None, "/accounts", WORKERS),
    (None, "/payments", WORKERS),
    (None, "/team", SUPERVISORS),
    (None, "/escalations", SUPERVISORS),
    (None, "/admin", ADMINS),
    (None, "/audit", ADMINS),
    (None, "/audit.csv", ADMINS),
    (None, "/files", OPERATIONS),
    # Keying a paper EOB posts a remittance: specialists key the paper that comes in,
    # and whoever may upload an 835 may key what it would have said.
    (None, "/eobs", SIGNED_IN),
    # Unmatched payments and refunds: supervisors and admins, and specialists who are
    # members of the unmatched or refunds queue (sam is not).
    (None, "/unmatched", OPERATIONS),
    # Patient statements: supervisors, and specialists of the patient queue (sam is one).
    (None, "/statements", WORKERS),
    # A claim-less patient item (a complaint, a missed plan installment) opens its account.
    (None, "/patient-work", WORKERS),
    (None, "/status", OPERATIONS),
    # Reports: every role, each seeing what its role may (a specialist their own work).
    (None, "/reports/productivity", SIGNED_IN),
    (None, "/reports/productivity.csv", SIGNED_IN),
    # ...and their queues' aging; the money reports are for supervisors and admins.
    (None, "/reports/aging", SIGNED_IN),
    (None, "/reports/aging.csv", SIGNED_IN),
    # A denial spike is the supervisors' to resolve; admins may read it.
    (frozenset({"POST"}), "/reports/spikes/*", SUPERVISORS),
    (None, "/reports", OPERATIONS),
    (None, "/reports.csv", OPERATIONS),
    # The Temporal UI's codec server: decrypted payloads are PHI, for admins only.
    (None, "/codec", ADMINS),
    # The API: integrations (supervisors' and admins' tokens) create claims; the rest
    # is the specialists' and supervisors' work, as in the pages.
    (frozenset({"POST"}), "/api/claims", OPERATIONS),
    (None, "/api", WORKERS),
]

# Routes that end the session they are called with: they get a session of their own.
ENDS_SESSION = {("POST", "/logout")}


def rule_for(method: str, path: str) -> frozenset[str] | str | None:
    for methods, prefix, who in EXPECTED:
        if methods is not None and method not in methods:
            continue
        if prefix == "/":
            if path == "/":
                return who
            continue
        if prefix.endswith("/*"):
            # A method-specific rule for everything below a path (written "/path/*").
            if path.startswith(prefix[:-1]):
                return who
            continue
        if path == prefix or path.startswith(prefix + "/"):
            if methods is not None and path != prefix:
                continue  # a method-specific rule is for that exact path
            return who
    return None


@dataclass(frozen=True)
class Endpoint:
    method: str
    template: str

    @property
    def unsafe(self) -> bool:
        return self.method in {"POST", "PUT", "PATCH", "DELETE"}

    @property
    def is_api(self) -> bool:
        # The codec server answers like the API (401, bearer tokens), not like a page.
        return self.template.startswith(("/api/", "/codec/"))


def app_endpoints(harness: Harness) -> list[Endpoint]:
    """Every GET and state-changing route of the real app, as registered."""
    app = create_app(Settings(DATABASE_URL=str(harness.engine.url)))
    # FastAPI >= 0.13x keeps included routers as branches of app.routes; this walks them.
    routes = iter_route_contexts(app.routes) if iter_route_contexts else app.routes
    found = set()
    for r in routes:
        # Mounts (/static) have no methods; a known file under /static is checked below.
        for method in getattr(r, "methods", None) or ():
            if method in {"GET", "POST", "PUT", "PATCH", "DELETE"}:
                found.add(Endpoint(method, r.path))
    return sorted(found, key=lambda e: (e.unsafe, e.template, e.method))


PARAM = re.compile(r"{([^}:]+)(?::[^}]+)?}")


@dataclass
class Ids:
    """Existing rows to put into path parameters, all visible to the specialist (the
    denial sits in one of sam's queues) so a refusal can only be a role refusal."""

    claim: str
    item: str
    file: int

    def value(self, name: str) -> str:
        name = name.lower()
        if "claim" in name:
            return self.claim
        if "item" in name or "work" in name:
            return self.item
        if "user" in name:
            return "jordan"  # not one of the roles under test: edits to it cannot lock us out
        if "payer" in name:
            return "commercial-aetna"
        if "queue" in name:
            return "eligibility"
        if "file" in name:
            return str(self.file)
        return "1"

    def fill(self, template: str) -> str:
        return PARAM.sub(lambda m: self.value(m.group(1)), template)


async def denied_claim(harness: Harness, claim_id: str) -> tuple[str, str]:
    await harness.submit(claim_id, charge="200.00", submitted_days_ago=20)
    await harness.deny(claim_id, reason="27", amount="200.00")  # eligibility: sam's queue
    item = await harness.wait_item(claim_id, "denial")
    return claim_id, item.id


def forbidden_count(harness: Harness) -> int:
    with Session(harness.engine) as session:
        return session.exec(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "forbidden")
        ).one()


def audited(harness: Harness, action: str, actor: str) -> int:
    with Session(harness.engine) as session:
        return session.exec(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == action, AuditEvent.actor == actor)
        ).one()


@dataclass
class Clients:
    base: str
    sessions: dict[str, httpx.AsyncClient]
    csrf: dict[str, str]
    tokens: dict[str, str]
    anonymous: httpx.AsyncClient


@pytest_asyncio.fixture
async def clients(web: str, harness: Harness) -> AsyncIterator[Clients]:
    sessions = {u: httpx.AsyncClient(base_url=web) for u in ROLES}
    csrf = {u: await sign_in(http, u) for u, http in sessions.items()}
    with session_scope(harness.engine) as db:
        tokens = {u: issue_api_token(db, u, "matrix", utcnow()) for u in ROLES}
    anonymous = httpx.AsyncClient(base_url=web)
    yield Clients(web, sessions, csrf, tokens, anonymous)
    for http in (*sessions.values(), anonymous):
        await http.aclose()


def describe(response: httpx.Response) -> str:
    where = response.headers.get("location", "")
    return f"{response.status_code}{' -> ' + where if where else ''}"


def sends_to_login(response: httpx.Response) -> bool:
    return (response.is_redirect and response.headers.get("location", "").startswith("/login")) or (
        response.headers.get("hx-redirect", "").startswith("/login")
    )


async def call(
    http: httpx.AsyncClient, endpoint: Endpoint, path: str, headers: dict[str, str]
) -> httpx.Response:
    # No body: a route that needs one answers 422 to whoever gets past its guard.
    return await http.request(endpoint.method, path, headers=headers)


async def test_every_route_admits_exactly_the_roles_in_the_table(
    harness: Harness, clients: Clients
) -> None:
    shared = await denied_claim(harness, "MATRIX-1")
    with session_scope(harness.engine) as db:
        file = IngestedFile(
            sha256="0" * 64,
            sender="MATRIX",
            control_number="1",
            file_name="matrix.835",
            received_at=datetime.now(UTC),
            status="posted",
        )
        db.add(file)
        db.flush()
        file_id = file.id or 0
    endpoints = app_endpoints(harness)
    unplaced = [f"{e.method} {e.template}" for e in endpoints if not rule_for(e.method, e.template)]
    assert not unplaced, f"routes with no rule in EXPECTED (decide who may use them): {unplaced}"

    failures: list[str] = []
    fresh = 0
    for endpoint in endpoints:
        who = rule_for(endpoint.method, endpoint.template)
        assert who is not None
        ids = Ids(*shared, file=file_id)
        if endpoint.unsafe and PARAM.search(endpoint.template):
            # A change that worked (allowed roles get through) may close the item or the
            # claim; each such route gets a claim of its own so the next one starts clean.
            fresh += 1
            ids = Ids(*(await denied_claim(harness, f"MATRIX-P{fresh}")), file=file_id)
        path = ids.fill(endpoint.template)
        label = f"{endpoint.method} {path}"

        anonymous = await call(clients.anonymous, endpoint, path, {})
        if who == PUBLIC:
            if anonymous.status_code == 401 or sends_to_login(anonymous):
                failures.append(f"{label}: public, but anonymous got {describe(anonymous)}")
        elif endpoint.is_api:
            if anonymous.status_code != 401:
                failures.append(f"{label}: anonymous API call got {describe(anonymous)}, not 401")
        elif not sends_to_login(anonymous):
            failures.append(f"{label}: anonymous got {describe(anonymous)}, not sent to /login")

        # Refused roles first: a change an allowed role makes cannot then hide a refusal.
        order = sorted(ROLES, key=lambda u: who == PUBLIC or u in who)
        ends_session = (endpoint.method, endpoint.template) in ENDS_SESSION
        for username in order:
            allowed = who == PUBLIC or username in who
            if ends_session:
                http = httpx.AsyncClient(base_url=clients.base)
                csrf = await sign_in(http, username)
            else:
                http, csrf = clients.sessions[username], clients.csrf[username]
            variants = [("session", http, {"X-CSRF-Token": csrf} if endpoint.unsafe else {})]
            bearer = {"Authorization": f"Bearer {clients.tokens[username]}"}
            if endpoint.is_api:
                variants.append(("token", clients.anonymous, bearer))
            elif endpoint.unsafe and who != PUBLIC:
                # A token on a page form is refused before the handler runs (it once saved
                # the change and then answered 500).
                response = await call(clients.anonymous, endpoint, path, bearer)
                if response.status_code != 403:
                    failures.append(
                        f"{label}: {username} (token on a page) should get 403, "
                        f"got {describe(response)}"
                    )
            for how, client, headers in variants:
                before = forbidden_count(harness)
                response = await call(client, endpoint, path, headers)
                got = describe(response)
                # Signing out ends at the sign-in page: that is its success.
                to_login = sends_to_login(response) and not ends_session
                if allowed:
                    if response.status_code in (401, 403) or to_login:
                        failures.append(f"{label}: {username} ({how}) refused with {got}")
                    elif response.status_code >= 500:
                        failures.append(f"{label}: {username} ({how}) got a server error {got}")
                elif response.status_code != 403:
                    failures.append(f"{label}: {username} ({how}) should get 403, got {got}")
                elif forbidden_count(harness) <= before:
                    failures.append(f"{label}: {username} ({how}) refused without an audit entry")
            if ends_session:
                await http.aclose()
                # Signing in again ended the user's shared session too: open a new one.
                clients.csrf[username] = await sign_in(clients.sessions[username], username)

    static = await clients.anonymous.get("/static/htmx.min.js")
    if static.status_code != 200:
        failures.append(f"GET /static/htmx.min.js: public, but anonymous got {describe(static)}")
    assert not failures, "authorization matrix mismatches:\n" + "\n".join(failures)


def area(template: str) -> str:
    return "/" + template.strip("/").split("/")[0]


async def test_a_session_change_without_its_csrf_token_is_refused(
    harness: Harness, clients: Clients
) -> None:
    """Every state-changing route reached with a session cookie but no CSRF token is
    refused with 403 before anything runs (sign-in has its own form token)."""
    shared = await denied_claim(harness, "MATRIX-CSRF")
    ids = Ids(*shared, file=0)
    version = harness.open_items("MATRIX-CSRF")[0].version
    unsafe = [
        e for e in app_endpoints(harness) if e.unsafe and rule_for(e.method, e.template) != PUBLIC
    ]
    assert unsafe, "no state-changing routes found"
    failures: list[str] = []
    areas: set[str] = set()
    for endpoint in unsafe:
        who = rule_for(endpoint.method, endpoint.template)
        assert isinstance(who, frozenset)
        username = next(u for u in ROLES if u in who)
        path = ids.fill(endpoint.template)
        before = audited(harness, "csrf_rejected", username)
        http = clients.sessions[username]
        if endpoint.is_api:
            response = await http.request(endpoint.method, path, json={})
        else:
            # A form post, as a forged page would send it, only without csrf_token.
            response = await http.request(endpoint.method, path, data={"note": "forged"})
        if response.status_code != 403:
            failures.append(f"{endpoint.method} {path} as {username}: {describe(response)}")
        elif audited(harness, "csrf_rejected", username) <= before:
            failures.append(f"{endpoint.method} {path}: refused without a csrf_rejected audit")
        areas.add(area(endpoint.template))
    # The session is intact: the forged sign-out did not sign anyone out.
    for username, http in clients.sessions.items():
        still = await http.get("/")
        assert still.status_code == 303 and not sends_to_login(still), username
    assert harness.open_items("MATRIX-CSRF")[0].version == version
    assert {"/api", "/logout", "/files"} <= areas
    assert not failures, "changes accepted without a CSRF token:\n" + "\n".join(failures)
