"""My queue over real HTTP: order, paging, filters, who sees what, and "Next item"."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import cast

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from denialflow.domain.types import Role
from denialflow.models.db import session_scope
from denialflow.models.tables import Claim, WorkItem
from denialflow.web.deps import Viewer
from denialflow.web.queries import PAGE_SIZE, QueueFilters, queue_items
from tests.web.conftest import sign_in
from tests.workflows.conftest import Harness

CLAIM_LINK = re.compile(r'<a href="/claims/([^"]+)">')


def claims_listed(html: str) -> list[str]:
    return CLAIM_LINK.findall(html)


def add_items(harness: Harness, specs: list[dict]) -> None:
    """Work items (each with its claim) written straight to the read model, as the
    workflow's projection would; enough to test reads without running workflows."""
    now = datetime.now(UTC)
    with session_scope(harness.engine) as session:
        for n, spec in enumerate(specs):
            claim_id = spec.pop("claim_id")
            balance = Decimal(spec.pop("balance", "100.00"))
            session.add(
                Claim(
                    id=claim_id,
                    payer_id=spec.pop("payer", "commercial-uhc"),
                    patient_name="PATIENT, TEST",
                    service_date=date(2026, 1, 5),
                    submitted_on=date(2026, 1, 8),
                    status="denied",
                    charge=balance,
                    balance=balance,
                    created_at=now,
                    updated_at=now,
                )
            )
            likelihood = Decimal(spec.pop("likelihood", "0.5"))
            session.add(
                WorkItem(
                    id=f"{claim_id}:1",
                    claim_id=claim_id,
                    kind=spec.pop("kind", "denial"),
                    queue=spec.get("queue", "follow-up"),
                    home_queue=spec.pop("queue", "follow-up"),
                    opened_at=now,
                    due_at=now + timedelta(days=spec.pop("due_in_days", 3)),
                    balance=balance,
                    likelihood=likelihood,
                    urgency=Decimal("2"),
                    escalation_multiplier=Decimal("1"),
                    priority=balance * likelihood * 2,
                    updated_at=now + timedelta(seconds=n),
                    **spec,
                )
            )


async def test_queue_lists_by_priority_fifty_a_page(harness: Harness, web: str) -> None:
    # 120 items in sam's follow-up queue, balances 1001..1120: priority follows balance.
    add_items(
        harness,
        [{"claim_id": f"Q-{n:03d}", "balance": f"{1000 + n}.00"} for n in range(1, 121)],
    )
    async with httpx.AsyncClient(base_url=web) as http:
        await sign_in(http, "sam")
        first = await http.get("/queue")
        assert first.status_code == 200
        assert claims_listed(first.text) == [f"Q-{n:03d}" for n in range(120, 70, -1)]
        assert "120 open items; showing 1–50, page 1 of 3" in first.text
        # Why it ranks there: the score's parts, multiplied.
        assert "$1120.00 x 0.5 likely x urgency 2 x 1 escalation" in first.text

        third = await http.get("/queue", params={"page": "3"})
        assert claims_listed(third.text) == [f"Q-{n:03d}" for n in range(20, 0, -1)]
        assert 'rel="prev"' in third.text and 'rel="next"' not in third.text

        past = await http.get("/queue", params={"page": "4"})
        assert claims_listed(past.text) == []
        assert "Page 4 is past the end: there are 3 pages" in past.text

        bad = await http.get("/queue", params={"page": "two"})
        assert bad.status_code == 200
        assert "page: &#39;two&#39; is not a page number" in bad.text
        assert claims_listed(bad.text)[0] == "Q-120"


async def test_specialists_see_their_queues_and_own_items_supervisors_see_all(
    harness: Harness, web: str
) -> None:
    now = datetime.now(UTC)
    add_items(
        harness,
        [
            {"claim_id": "MINE-UNASSIGNED", "queue": "follow-up"},
            {"claim_id": "MINE-ASSIGNED", "queue": "coding", "assignee": "sam"},
            {
                "claim_id": "MINE-WORKING",
                "queue": "eligibility",
                "assignee": "sam",
                "state": "in_progress",
            },
            {"claim_id": "COLLEAGUES", "queue": "follow-up", "assignee": "jordan"},
            {"claim_id": "OTHER-QUEUE", "queue": "coding"},
            {
                "claim_id": "SNOOZED",
                "queue": "follow-up",
                "state": "snoozed",
                "snoozed_until": now + timedelta(days=5),
            },
            {"claim_id": "CLOSED", "queue": "follow-up", "state": "closed", "closed_at": now},
        ],
    )
    async with httpx.AsyncClient(base_url=web) as http:
        await sign_in(http, "sam")
        sam = claims_listed((await http.get("/queue")).text)
    assert sorted(sam) == ["MINE-ASSIGNED", "MINE-UNASSIGNED", "MINE-WORKING"]

    async with httpx.AsyncClient(base_url=web) as http:
        await sign_in(http, "casey")
        page = await http.get("/queue")
    assert "All queues" in page.text
    assert sorted(claims_listed(page.text)) == [
        "COLLEAGUES",
        "MINE-ASSIGNED",
        "MINE-UNASSIGNED",
        "MINE-WORKING",
        "OTHER-QUEUE",
    ]

    async with httpx.AsyncClient(base_url=web) as http:
        await sign_in(http, "alex")
        assert (await http.get("/queue")).status_code == 403


async def test_filters_narrow_the_table_and_htmx_gets_only_the_table(
    harness: Harness, web: str
) -> None:
    add_items(
        harness,
        [
            {
                "claim_id": "F-DENIAL-UHC",
                "kind": "denial",
                "category": "authorization",
                "reason_codes": ["CO-197"],
                "payer": "commercial-uhc",
                "balance": "300.00",
            },
            {
                "claim_id": "F-FOLLOW-MEDICARE",
                "kind": "follow_up",
                "payer": "medicare",
                "balance": "200.00",
            },
            {
                "claim_id": "F-DENIAL-MEDICARE",
                "kind": "denial",
                "category": "eligibility",
                "reason_codes": ["CO-27"],
                "payer": "medicare",
                "balance": "100.00",
            },
        ],
    )
    async with httpx.AsyncClient(base_url=web) as http:
        await sign_in(http, "sam")
        by_kind = await http.get("/queue", params={"kind": "denial"})
        assert claims_listed(by_kind.text) == ["F-DENIAL-UHC", "F-DENIAL-MEDICARE"]
        assert "CO-197" in by_kind.text and "authorization" in by_kind.text

        by_payer = await http.get("/queue", params={"payer": "medicare"})
        assert claims_listed(by_payer.text) == ["F-FOLLOW-MEDICARE", "F-DENIAL-MEDICARE"]

        both = await http.get(
            "/queue", params={"kind": "denial", "payer": "medicare", "category": "eligibility"}
        )
        assert claims_listed(both.text) == ["F-DENIAL-MEDICARE"]

        table = await http.get(
            "/queue", params={"category": "authorization"}, headers={"HX-Request": "true"}
        )
        assert claims_listed(table.text) == ["F-DENIAL-UHC"]
        assert table.text.lstrip().startswith('<section id="queue-table"')
        assert "<html" not in table.text

        unknown = await http.get("/queue", params={"kind": "lunch"})
        assert "kind: there is no kind &#39;lunch&#39;; showing every kind" in unknown.text
        assert len(claims_listed(unknown.text)) == 3

        none = await http.get("/queue", params={"kind": "rejection"})
        assert "Nothing to work with these filters" in none.text


async def test_queue_items_is_callable_directly(harness: Harness, web: str) -> None:
    add_items(harness, [{"claim_id": f"D-{n}", "balance": f"{n}.00"} for n in range(1, 61)])
    sam = Viewer(username="sam", full_name="Sam", role=Role.SPECIALIST, csrf_token="")
    with Session(harness.engine) as session:
        rows, total = queue_items(session, sam, QueueFilters(), page=2)
        everything = session.exec(select(WorkItem)).all()
    assert total == 60 == len(everything)
    assert len(rows) == 60 - PAGE_SIZE
    assert [r.claim_id for r in rows] == [f"D-{n}" for n in range(10, 0, -1)]


def test_supervisor_pages_every_queue_in_priority_then_id_order(any_engine: Engine) -> None:
    # Five priorities shared by items of three queues and both workable states, ids not in
    # insertion order: ties are broken by id across queues, states and page boundaries,
    # on SQLite and PostgreSQL alike.
    specs: list[dict] = []
    for n in range(140):
        spec: dict = {
            "claim_id": f"T-{(n * 37) % 140:03d}",
            "balance": f"{100 + n % 5}.00",
            "queue": ("follow-up", "coding", "eligibility")[n % 3],
            "kind": ("denial", "follow_up")[n % 2],
        }
        if n % 10 == 0:
            spec.update(state="snoozed", snoozed_until=datetime.now(UTC) + timedelta(days=5))
        elif n % 10 == 1:
            spec.update(state="closed", closed_at=datetime.now(UTC))
        elif n % 4 == 0:
            spec.update(state="in_progress", assignee="sam")
        elif n % 7 == 0:
            spec.update(assignee="jordan")
        specs.append(spec)
    # add_items needs only the engine, not the workflow harness.
    add_items(cast(Harness, SimpleNamespace(engine=any_engine)), specs)
    casey = Viewer(username="casey", full_name="Casey", role=Role.SUPERVISOR, csrf_token="")
    with Session(any_engine) as session:
        for filters in (QueueFilters(), QueueFilters(kind="denial")):
            expected = list(
                session.exec(
                    select(WorkItem.id)
                    .where(col(WorkItem.state).in_(["open", "in_progress"]))
                    .where(True if filters.kind is None else WorkItem.kind == filters.kind)
                    .order_by(col(WorkItem.priority).desc(), col(WorkItem.id))
                )
            )
            listed: list[str] = []
            for page in range(1, 5):
                rows, total = queue_items(session, casey, filters, page=page)
                assert total == len(expected)
                listed += [r.item_id for r in rows]
            assert len(expected) > PAGE_SIZE
            assert listed == expected, filters


async def test_next_item_starts_the_top_item_and_opens_its_claim(
    harness: Harness, web: str
) -> None:
    # CARC 197 (no authorization) routes to the authorization queue, which sam works.
    for claim_id, charge in (("NX-SMALL", "120.00"), ("NX-BIG", "900.00")):
        await harness.submit(claim_id, charge=charge, submitted_days_ago=20)
        await harness.deny(claim_id, reason="197", amount=charge)
        await harness.wait_item(claim_id, "denial")
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "sam")
        listed = claims_listed((await http.get("/queue")).text)
        assert listed[:2] == ["NX-BIG", "NX-SMALL"]

        opened = await http.post("/queue/next", data={"csrf_token": csrf})
        assert opened.status_code == 303
        assert opened.headers["location"] == "/claims/NX-BIG"
        item = await harness.wait_item("NX-BIG", "denial", state="in_progress")
        assert item.assignee == "sam"

        page = await http.get(opened.headers["location"])
        assert page.status_code == 200 and "in progress" in page.text

        # Through htmx the browser is told where to go instead.
        second = await http.post(
            "/queue/next", headers={"HX-Request": "true", "X-CSRF-Token": csrf}
        )
        assert second.headers["HX-Redirect"] == "/claims/NX-BIG"  # still mine, still top

        forged = await http.post("/queue/next")
        assert forged.status_code == 403


async def test_next_item_on_an_empty_queue_says_so(harness: Harness, web: str) -> None:
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "jordan")
        answer = await http.post("/queue/next", data={"csrf_token": csrf})
        assert answer.status_code == 200
        assert "Your queue is empty: nothing to start." in answer.text
        inline = await http.post(
            "/queue/next", headers={"HX-Request": "true", "X-CSRF-Token": csrf}
        )
        assert inline.headers["HX-Retarget"] == "#queue-message"
        assert 'role="alert"' in inline.text and "Your queue is empty" in inline.text
