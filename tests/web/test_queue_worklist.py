"""My queue as a worklist over real HTTP: aging and follow-up columns, sorting by any
column, the new filters, the CSV export (audited) and saved views per user."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from denialflow.demo import install_demo_users
from denialflow.domain.types import Role
from denialflow.models.db import session_scope
from denialflow.models.tables import AuditEvent, Claim, SavedView, WorkItem
from denialflow.settings import Settings
from denialflow.web.deps import Viewer
from denialflow.web.queries import SORTS, QueueFilters, queue_items
from denialflow.web.routers import queue as queue_router
from tests.web.conftest import sign_in
from tests.workflows.conftest import Harness

CLAIM_LINK = re.compile(r'<a href="/claims/([^"]+)">')
VIEW_LINK = re.compile(r'<a href="(/queue[^"]*)" class="saved-view">([^<]+)</a>')
DELETE_FORM = re.compile(r'action="/queue/views/(\d+)/delete"')


def listed(html: str) -> list[str]:
    return CLAIM_LINK.findall(html)


def practice_today() -> date:
    return datetime.now(Settings().tz).date()


def add(target: Harness | Engine, claim_id: str, **spec: object) -> None:
    """One claim and its open work item (in sam's follow-up queue unless `queue` says
    otherwise), written to the read model as the workflow's projection would."""
    engine = target.engine if isinstance(target, Harness) else target
    now = datetime.now(UTC)
    queue = str(spec.pop("queue", "follow-up"))
    balance = Decimal(str(spec.pop("balance", "100.00")))
    age = int(spec.pop("age", 10))  # type: ignore[call-overload]
    follow_up = spec.pop("follow_up", None)
    updated = spec.pop("updated", now)
    due = spec.pop("due", now + timedelta(days=3))
    with session_scope(engine) as session:
        session.add(
            Claim(
                id=claim_id,
                payer_id=str(spec.pop("payer", "commercial-uhc")),
                patient_name="PATIENT, TEST",
                service_date=practice_today() - timedelta(days=age),
                submitted_on=practice_today() - timedelta(days=max(age - 2, 0)),
                status="denied",
                charge=balance,
                balance=balance,
                next_follow_up_at=follow_up,
                created_at=now,
                updated_at=now,
            )
        )
        session.add(
            WorkItem(
                id=f"{claim_id}:1",
                claim_id=claim_id,
                kind=str(spec.pop("kind", "denial")),
                queue=queue,
                home_queue=queue,
                opened_at=now,
                due_at=due,
                balance=balance,
                likelihood=Decimal("0.5"),
                urgency=Decimal("2"),
                escalation_multiplier=Decimal("1"),
                priority=Decimal(str(spec.pop("priority", balance))),
                updated_at=updated,
                **spec,
            )
        )


def add_mix(harness: Harness) -> None:
    # Priority order: A, B, C, D, E. Dates of service, balances and buckets differ.
    add(harness, "W-A", balance="500.00", priority=900, age=5, escalation_level=1)
    add(
        harness,
        "W-B",
        balance="50.00",
        priority=800,
        age=45,
        follow_up=datetime(2030, 3, 4, 15, 0, tzinfo=UTC),
    )
    # Due late in the practice's day (Chicago), whatever the time in UTC.
    tz = Settings().tz
    late_today = datetime.combine(practice_today(), time(23, 59), tzinfo=tz).astimezone(UTC)
    add(harness, "W-C", balance="2500.00", priority=700, age=75, due=late_today)
    add(
        harness,
        "W-D",
        balance="120.00",
        priority=600,
        age=100,
        updated=datetime(2026, 2, 1, 18, 30, tzinfo=UTC),
    )
    add(harness, "W-E", balance="999.99", priority=500, age=200, escalation_level=2)


async def test_columns_show_service_date_age_bucket_follow_up_and_last_change(
    harness: Harness, web: str
) -> None:
    add_mix(harness)
    today = practice_today()
    async with httpx.AsyncClient(base_url=web) as http:
        await sign_in(http, "sam")
        page = await http.get("/queue")
    html = page.text
    assert listed(html) == ["W-A", "W-B", "W-C", "W-D", "W-E"]
    for header in ("Date of service", "Age", "Bucket", "Next follow-up", "Last change"):
        assert f">{header}" in html, header
    row_b = html[html.index('data-item="W-B:1"') :].split("</tr>")[0]
    assert (today - timedelta(days=45)).isoformat() in row_b
    assert '<td class="num age">45</td>' in row_b
    assert ">31-60</span>" in row_b
    # 15:00 UTC on 4 March 2030 is that day in Chicago too.
    assert '<td class="follow-up">2030-03-04</td>' in row_b
    row_d = html[html.index('data-item="W-D:1"') :].split("</tr>")[0]
    assert ">91-120</span>" in row_d
    # Last change in the practice's time: 18:30 UTC is 12:30 in Chicago in February.
    assert '<td class="updated">2026-02-01 12:30</td>' in row_d
    row_e = html[html.index('data-item="W-E:1"') :].split("</tr>")[0]
    assert ">120+</span>" in row_e and '<td class="num age">200</td>' in row_e
    row_a = html[html.index('data-item="W-A:1"') :].split("</tr>")[0]
    assert ">0-30</span>" in row_a and '<td class="follow-up">—</td>' in row_a
    # Strict CSP: no inline script or handler; the page's script is a static file.
    assert re.search(r"<script(?![^>]*\bsrc=)", html) is None
    assert re.search(r"\s(hx-on[:-]|on[a-z]+=)", html) is None
    assert '<script src="/static/queue.js" defer></script>' in html
    async with httpx.AsyncClient(base_url=web) as http:
        script = await http.get("/static/queue.js")
    assert script.status_code == 200 and "htmx:responseError" in script.text


async def test_sort_by_service_date_and_balance_both_ways_keeping_filters(
    harness: Harness, web: str
) -> None:
    add_mix(harness)
    add(harness, "W-F", balance="10.00", priority=100, age=3, kind="follow_up")
    async with httpx.AsyncClient(base_url=web) as http:
        await sign_in(http, "sam")
        dos_asc = await http.get("/queue", params={"sort": "dos", "dir": "asc"})
        assert listed(dos_asc.text) == ["W-E", "W-D", "W-C", "W-B", "W-A", "W-F"]
        dos_desc = await http.get("/queue", params={"sort": "dos", "dir": "desc"})
        assert listed(dos_desc.text) == ["W-F", "W-A", "W-B", "W-C", "W-D", "W-E"]
        bal_desc = await http.get("/queue", params={"sort": "balance", "dir": "desc"})
        assert listed(bal_desc.text) == ["W-C", "W-E", "W-A", "W-D", "W-B", "W-F"]
        bal_asc = await http.get("/queue", params={"sort": "balance", "dir": "asc"})
        assert listed(bal_asc.text) == ["W-F", "W-B", "W-D", "W-A", "W-E", "W-C"]
        assert 'aria-sort="ascending" data-sort="balance"' in bal_asc.text
        # Age: youngest first ascending, oldest first descending (the first click's way).
        age_asc = await http.get("/queue", params={"sort": "age", "dir": "asc"})
        assert listed(age_asc.text) == ["W-F", "W-A", "W-B", "W-C", "W-D", "W-E"]
        age_desc = await http.get("/queue", params={"sort": "age", "dir": "desc"})
        assert listed(age_desc.text) == ["W-E", "W-D", "W-C", "W-B", "W-A", "W-F"]
        assert 'href="/queue?sort=age&amp;dir=desc"' in bal_asc.text
        assert 'href="/queue?sort=age&amp;dir=asc"' in age_desc.text

        # Header links keep the filters and flip the current column's direction.
        filtered = await http.get(
            "/queue", params={"kind": "denial", "sort": "balance", "dir": "asc"}
        )
        assert "W-F" not in listed(filtered.text)
        assert 'href="/queue?kind=denial&amp;sort=balance&amp;dir=desc"' in filtered.text
        assert 'href="/queue?kind=denial&amp;sort=dos&amp;dir=asc"' in filtered.text
        # Priority descending is the default: its link drops sort and dir.
        assert 'href="/queue?kind=denial" hx-get' in filtered.text
        default = await http.get("/queue")
        assert listed(default.text) == ["W-A", "W-B", "W-C", "W-D", "W-E", "W-F"]

        bad = await http.get("/queue", params={"sort": "patient_name", "dir": "sideways"})
        assert "sort: the queue cannot be sorted by &#39;patient_name&#39;" in bad.text
        assert "dir: &#39;sideways&#39; is neither asc nor desc" in bad.text
        assert listed(bad.text) == listed(default.text)


async def test_filters_age_bucket_balance_escalated_and_due_today(
    harness: Harness, web: str
) -> None:
    add_mix(harness)
    async with httpx.AsyncClient(base_url=web) as http:
        await sign_in(http, "sam")

        async def claims(**params: str) -> list[str]:
            return listed((await http.get("/queue", params=params)).text)

        assert await claims(age="0-30") == ["W-A"]
        assert await claims(age="31-60") == ["W-B"]
        assert await claims(age="61-90") == ["W-C"]
        assert await claims(age="91-120") == ["W-D"]
        assert await claims(age="120+") == ["W-E"]
        assert await claims(balance_min="120") == ["W-A", "W-C", "W-D", "W-E"]
        assert await claims(balance_max="500.00") == ["W-A", "W-B", "W-D"]
        assert await claims(balance_min="100", balance_max="999.99") == ["W-A", "W-D", "W-E"]
        assert await claims(escalated="1") == ["W-A", "W-E"]
        assert await claims(due_today="1") == ["W-C"]
        assert await claims(escalated="1", age="120+", sort="balance", dir="asc") == ["W-E"]

        bad = await http.get("/queue", params={"balance_min": "lots", "balance_max": "200"})
        assert bad.status_code == 200
        assert "minimum balance: &#39;lots&#39; is not an amount" in bad.text
        assert listed(bad.text) == ["W-B", "W-D"]  # the good filter still applies
        unknown = await http.get("/queue", params={"age": "ancient"})
        assert "age bucket: there is no age bucket &#39;ancient&#39;" in unknown.text
        assert len(listed(unknown.text)) == 5


async def test_csv_export_has_the_filtered_sorted_rows_and_is_audited(
    harness: Harness, web: str
) -> None:
    add_mix(harness)
    async with httpx.AsyncClient(base_url=web) as http:
        await sign_in(http, "sam")
        page = await http.get("/queue", params={"balance_min": "100", "sort": "dos", "dir": "asc"})
        assert 'href="/queue.csv?balance_min=100&amp;sort=dos&amp;dir=asc"' in page.text
        answer = await http.get(
            "/queue.csv", params={"balance_min": "100", "sort": "dos", "dir": "asc"}
        )
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert answer.headers["content-disposition"].startswith('attachment; filename="queue-')
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [r["claim_id"] for r in rows] == ["W-E", "W-D", "W-C", "W-A"]
    assert rows[0]["balance"] == "999.99" and rows[2]["balance"] == "2500.00"
    assert rows[0]["age_bucket"] == "120+" and rows[0]["age_days"] == "200"
    assert rows[0]["escalation_level"] == "2"
    assert "PATIENT" not in answer.text
    with Session(harness.engine) as session:
        events = session.exec(select(AuditEvent).where(AuditEvent.action == "queue_exported")).all()
    assert len(events) == 1
    assert events[0].actor == "sam"
    assert events[0].detail == {
        "rows": 4,
        "filters": {"balance_min": "100", "sort": "dos", "dir": "asc"},
    }


async def test_csv_export_past_the_cap_says_so(
    harness: Harness, web: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_mix(harness)
    monkeypatch.setattr(queue_router, "CSV_CAP", 3)
    async with httpx.AsyncClient(base_url=web) as http:
        await sign_in(http, "sam")
        answer = await http.get("/queue.csv", params={"sort": "balance", "dir": "desc"})
        whole = await http.get("/queue.csv", params={"escalated": "1"})
    lines = list(csv.reader(io.StringIO(answer.text)))
    assert lines[0][:3] == ["work_item_id", "claim_id", "balance"]
    assert [line[1] for line in lines[1:4]] == ["W-C", "W-E", "W-A"]
    assert lines[4] == [
        "# capped: the first 3 of 5 matching items (an export holds at most 3); "
        "narrow the filters for the rest"
    ]
    assert len(lines) == 5
    assert answer.headers["x-export-capped"] == "3"
    assert answer.headers["x-export-rows"] == "3"
    assert answer.headers["x-export-matching"] == "5"
    assert "capped" not in whole.text and "x-export-capped" not in whole.headers
    with Session(harness.engine) as session:
        events = session.exec(
            select(AuditEvent)
            .where(AuditEvent.action == "queue_exported")
            .order_by(col(AuditEvent.id))
        ).all()
    assert [e.detail for e in events] == [
        {"rows": 3, "filters": {"sort": "balance", "dir": "desc"}, "capped": True, "matching": 5},
        {"rows": 2, "filters": {"escalated": "1"}},
    ]


async def test_saved_views_are_per_user(harness: Harness, web: str) -> None:
    add_mix(harness)
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "sam")
        saved = await http.post(
            "/queue/views",
            data={
                "csrf_token": csrf,
                "name": "Old and big",
                # Unknown values are dropped; the rest is stored as the page writes it.
                "query": "age=120%2B&balance_min=100&sort=balance&dir=asc&kind=lunch",
            },
        )
        assert saved.status_code == 303
        assert saved.headers["location"] == "/queue?age=120%2B&balance_min=100&sort=balance&dir=asc"
        page = await http.get("/queue")
        views = VIEW_LINK.findall(page.text)
        assert views == [
            ("/queue?age=120%2B&amp;balance_min=100&amp;sort=balance&amp;dir=asc", "Old and big")
        ]
        applied = await http.get(views[0][0].replace("&amp;", "&"))
        assert listed(applied.text) == ["W-E"]
        assert 'value="120+" selected' in applied.text

        duplicate = await http.post(
            "/queue/views", data={"csrf_token": csrf, "name": "Old and big", "query": ""}
        )
        assert duplicate.status_code == 409
        assert "you already have a view named &#39;Old and big&#39;" in duplicate.text
        blank = await http.post("/queue/views", data={"csrf_token": csrf, "name": "  "})
        assert blank.status_code == 422 and "1 to 60 characters" in blank.text
        long = await http.post("/queue/views", data={"csrf_token": csrf, "name": "x" * 61})
        assert long.status_code == 422
        assert "1 to 60 characters" in long.text
        assert "x" * 61 not in (await http.get("/queue")).text
        view_id = int(DELETE_FORM.findall(page.text)[0])

    async with httpx.AsyncClient(base_url=web) as other:
        riley_csrf = await sign_in(other, "riley")
        theirs = await other.get("/queue")
        assert "Old and big" not in theirs.text
        refused = await other.post(
            f"/queue/views/{view_id}/delete", data={"csrf_token": riley_csrf}
        )
        assert refused.status_code == 404
        # The same name is free for someone else.
        mine = await other.post(
            "/queue/views", data={"csrf_token": riley_csrf, "name": "Old and big", "query": ""}
        )
        assert mine.status_code == 303
    with Session(harness.engine) as session:
        assert session.get(SavedView, view_id) is not None

    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "sam")
        gone = await http.post(f"/queue/views/{view_id}/delete", data={"csrf_token": csrf})
        assert gone.status_code == 303
        assert "Old and big" not in (await http.get("/queue")).text
    with Session(harness.engine) as session:
        left = session.exec(select(SavedView.username).order_by(col(SavedView.id))).all()
    assert left == ["riley"]


async def test_next_item_opens_an_unmatched_remittance_at_the_top(
    harness: Harness, web: str
) -> None:
    add(harness, "W-CLAIM", balance="100.00", priority=100)
    now = datetime.now(UTC)
    with session_scope(harness.engine) as session:
        session.add(
            WorkItem(
                id="unmatched:TRACE 7/1",
                claim_id=None,
                kind="unmatched_remittance",
                queue="follow-up",
                home_queue="follow-up",
                opened_at=now,
                due_at=now + timedelta(days=1),
                balance=Decimal("400.00"),
                priority=Decimal("5000"),
                updated_at=now,
            )
        )
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "sam")
        answer = await http.post("/queue/next", data={"csrf_token": csrf})
        assert answer.status_code == 303
        assert answer.headers["location"] == "/unmatched/" + quote("unmatched:TRACE 7/1", safe="")
        inline = await http.post(
            "/queue/next", headers={"HX-Request": "true", "X-CSRF-Token": csrf}
        )
        assert inline.headers["HX-Redirect"] == answer.headers["location"]


async def test_saved_views_have_a_limit_per_person(harness: Harness, web: str) -> None:
    with session_scope(harness.engine) as session:
        for n in range(queue_router.VIEWS_PER_USER):
            session.add(
                SavedView(
                    username="jordan", name=f"view {n}", query="", created_at=datetime.now(UTC)
                )
            )
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "jordan")
        refused = await http.post(
            "/queue/views", data={"csrf_token": csrf, "name": "one more", "query": "kind=denial"}
        )
        assert refused.status_code == 422
        assert "you already have 50 saved views" in refused.text
        # The page shown keeps the filters that were being saved.
        assert 'value="denial" selected' in refused.text
        gone = await http.post("/queue/views/999999/delete", data={"csrf_token": csrf})
        assert gone.status_code == 404
    with Session(harness.engine) as session:
        names = session.exec(select(SavedView.name).where(SavedView.username == "jordan")).all()
    assert len(names) == queue_router.VIEWS_PER_USER and "one more" not in names


def test_every_sort_and_filter_runs_on_sqlite_and_postgresql(any_engine: Engine) -> None:
    # The statements behind the page, on both databases: dates, Decimals and times bound
    # with their columns' types, the follow-up CASE, empty values last both ways, and a
    # specialist's visibility in the sorted path as in the priority fast path.
    with session_scope(any_engine) as session:
        install_demo_users(session)
    now = datetime.now(UTC)
    add(any_engine, "P-A", balance="500.00", priority=900, age=5, escalation_level=1)
    add(
        any_engine,
        "P-B",
        balance="50.00",
        priority=800,
        age=45,
        follow_up=datetime(2030, 3, 4, 15, 0, tzinfo=UTC),
        updated=now - timedelta(days=2),
    )
    add(any_engine, "P-C", balance="2500.00", priority=700, age=75, due=now + timedelta(hours=1))
    add(
        any_engine,
        "P-D",
        balance="120.00",
        priority=600,
        age=100,
        follow_up=datetime(2029, 1, 1, tzinfo=UTC),
        updated=now - timedelta(days=9),
    )
    # Not sam's: riley's queue unassigned, and jordan's own item in a queue sam shares.
    add(any_engine, "P-R", balance="9000.00", priority=5000, age=10, queue="coding")
    add(any_engine, "P-J", balance="8000.00", priority=4000, age=10, assignee="jordan")
    # sam's own item in a queue he is not a member of.
    add(any_engine, "P-S", balance="75.00", priority=50, age=300, queue="coding", assignee="sam")
    sam = Viewer(username="sam", full_name="Sam", role=Role.SPECIALIST, csrf_token="")
    casey = Viewer(username="casey", full_name="Casey", role=Role.SUPERVISOR, csrf_token="")

    def ids(viewer: Viewer, filters: QueueFilters | None = None, **order: object) -> list[str]:
        with Session(any_engine) as session:
            rows, total = queue_items(session, viewer, filters, **order)  # type: ignore[arg-type]
        assert total == len(rows)
        return [r.claim_id for r in rows if r.claim_id]

    mine = ["P-A", "P-B", "P-C", "P-D", "P-S"]
    assert ids(sam) == mine
    for key in SORTS:
        for descending in (True, False):
            assert sorted(ids(sam, sort=key, descending=descending)) == sorted(mine), key
    assert sorted(ids(casey, sort="balance")) == sorted([*mine, "P-R", "P-J"])
    assert ids(sam, sort="dos", descending=False) == ["P-S", "P-D", "P-C", "P-B", "P-A"]
    assert ids(sam, sort="balance", descending=False) == ["P-B", "P-S", "P-D", "P-A", "P-C"]
    # Without a follow-up date: last, whichever way.
    assert ids(sam, sort="follow_up", descending=False)[:2] == ["P-D", "P-B"]
    assert ids(sam, sort="follow_up", descending=True)[:2] == ["P-B", "P-D"]
    assert ids(sam, sort="updated", descending=False)[:2] == ["P-D", "P-B"]

    today = practice_today()
    between = QueueFilters(
        service_from=today - timedelta(days=90), service_to=today - timedelta(days=31)
    )
    assert ids(sam, between) == ["P-B", "P-C"]
    assert ids(sam, between, sort="dos", descending=False) == ["P-C", "P-B"]
    money = QueueFilters(balance_min=Decimal("75"), balance_max=Decimal("500.00"))
    assert ids(sam, money) == ["P-A", "P-D", "P-S"]
    assert ids(sam, money, sort="balance", descending=True) == ["P-A", "P-D", "P-S"]
    due = QueueFilters(due_from=now, due_before=now + timedelta(hours=2))
    assert ids(sam, due) == ["P-C"] == ids(sam, due, sort="due")
    assert ids(casey, QueueFilters(escalated=True), sort="dos") == ["P-A"]
