"""The audit log page and its CSV export, over real HTTP."""

from __future__ import annotations

import csv
import html
import io
import json
from datetime import UTC, datetime, timedelta

import httpx
from sqlmodel import Session, select

from denialflow.models.db import session_scope
from denialflow.models.tables import AuditEvent
from tests.web.conftest import sign_in
from tests.workflows.conftest import Harness


def seed(harness: Harness) -> None:
    """Events on known days in 2020, well before anything the test's own requests log."""
    with session_scope(harness.engine) as session:
        session.add_all(
            [
                AuditEvent(
                    at=datetime(2020, 1, 4, 23, 59, tzinfo=UTC),
                    actor="sam",
                    action="claim_viewed",
                    claim_id="CLM-A",
                    detail={"work_item": "w1"},
                ),
                AuditEvent(
                    at=datetime(2020, 1, 5, 9, 30, tzinfo=UTC),
                    actor="riley",
                    action="claim_viewed",
                    claim_id="CLM-A",
                    detail={"work_item": "w2"},
                ),
                AuditEvent(
                    at=datetime(2020, 1, 6, 0, 0, tzinfo=UTC),
                    actor="sam",
                    action="appeal_filed",
                    claim_id="CLM-B",
                    detail={"level": 1, "note": 'quote " and, comma'},
                ),
            ]
        )
        start = datetime(2020, 2, 1, tzinfo=UTC)
        session.add_all(
            AuditEvent(
                at=start + timedelta(minutes=n), actor="system", action="bulk_test", detail={"n": n}
            )
            for n in range(120)
        )


def rows_of(page: str) -> list[str]:
    """The audit table's rows as text, in page order."""
    body = page.split('<table id="audit"', 1)[1].split("</table>", 1)[0]
    return [html.unescape(r) for r in body.split("<tr>")[2:]]


async def test_filters_newest_first_and_paging(harness: Harness, web: str) -> None:
    seed(harness)
    async with httpx.AsyncClient(base_url=web) as http:
        await sign_in(http, "alex")

        by_claim = await http.get("/audit", params={"claim_id": "CLM-A"})
        assert by_claim.status_code == 200
        rows = rows_of(by_claim.text)
        assert len(rows) == 2
        assert "riley" in rows[0] and "sam" in rows[1]  # newest first
        assert "2 events, newest first" in by_claim.text

        by_actor_action = await http.get(
            "/audit", params={"actor": "sam", "action": "appeal_filed"}
        )
        (row,) = rows_of(by_actor_action.text)
        assert "CLM-B" in row and '"level": 1' in row

        # Whole days, both ends included: 23:59 on the 4th is out, midnight on the 6th is in.
        by_days = await http.get(
            "/audit", params={"date_from": "2020-01-05", "date_to": "2020-01-06"}
        )
        assert [("riley" in r, "appeal_filed" in r) for r in rows_of(by_days.text)] == [
            (False, True),
            (True, False),
        ]

        # Under HTMX only the results are swapped.
        partial = await http.get(
            "/audit", params={"action": "bulk_test"}, headers={"HX-Request": "true"}
        )
        assert partial.text.lstrip().startswith('<section id="audit-results"')
        assert "120 events, newest first; showing 1–50." in partial.text
        first = rows_of(partial.text)
        assert len(first) == 50 and '"n": 119' in first[0]
        assert "page=2" in partial.text and "Older" in partial.text

        last = await http.get("/audit", params={"action": "bulk_test", "page": "3"})
        assert "showing 101–120." in last.text
        tail = rows_of(last.text)
        assert len(tail) == 20 and '"n": 0' in tail[-1]
        assert "Newer" in last.text and "Older" not in last.text

        bad = await http.get("/audit", params={"date_from": "2020-13-01", "date_to": "yesterday"})
        assert bad.status_code == 422
        page = html.unescape(bad.text)
        assert "From: '2020-13-01' is not a date (YYYY-MM-DD)" in page
        assert "To: 'yesterday' is not a date (YYYY-MM-DD)" in page
        assert "Traceback" not in page

        backwards = await http.get(
            "/audit", params={"date_from": "2020-02-01", "date_to": "2020-01-01"}
        )
        assert backwards.status_code == 422
        assert "To: 2020-01-01 is before From 2020-02-01" in html.unescape(backwards.text)

        nothing = await http.get("/audit", params={"actor": "nobody"})
        assert "No events match these filters." in nothing.text


async def test_csv_export_uses_the_same_filters(harness: Harness, web: str) -> None:
    seed(harness)
    async with httpx.AsyncClient(base_url=web) as http:
        await sign_in(http, "alex")
        page = await http.get("/audit", params={"actor": "sam", "date_from": "2020-01-01"})
        assert 'href="/audit.csv?actor=sam&amp;date_from=2020-01-01"' in page.text

        export = await http.get("/audit.csv", params={"actor": "sam", "date_from": "2020-01-01"})
        assert export.status_code == 200
        assert export.headers["content-type"].startswith("text/csv")
        disposition = export.headers["content-disposition"]
        assert disposition.startswith("attachment;") and ".csv" in disposition
        table = list(csv.reader(io.StringIO(export.text)))
        assert table[0] == ["at", "actor", "action", "claim_id", "detail"]
        # Only sam's events since 2020-01-01: the two seeded, plus any sign-in of the test.
        seeded = [r for r in table[1:] if r[0].startswith("2020-")]
        assert [r[:4] for r in seeded] == [
            ["2020-01-06T00:00:00+00:00", "sam", "appeal_filed", "CLM-B"],
            ["2020-01-04T23:59:00+00:00", "sam", "claim_viewed", "CLM-A"],
        ]
        assert json.loads(seeded[0][4]) == {"level": 1, "note": 'quote " and, comma'}
        assert all(r[1] == "sam" for r in table[1:])

        everything = await http.get("/audit.csv", params={"action": "bulk_test"})
        assert len(list(csv.reader(io.StringIO(everything.text)))) == 121  # header + all pages

        bad = await http.get("/audit.csv", params={"date_to": "31/12/2020"})
        assert bad.status_code == 422
        assert "To: '31/12/2020' is not a date" in bad.text

    with Session(harness.engine) as session:
        exports = session.exec(
            select(AuditEvent).where(AuditEvent.action == "audit_exported")
        ).all()
    assert [e.detail["filters"] for e in exports] == [
        {"actor": "sam", "date_from": "2020-01-01"},
        {"action": "bulk_test"},
    ]
    assert all(e.actor == "alex" for e in exports)


async def test_only_admins_read_the_audit_log(harness: Harness, web: str) -> None:
    async with httpx.AsyncClient(base_url=web) as http:
        await sign_in(http, "casey")
        assert (await http.get("/audit")).status_code == 403
        assert (await http.get("/audit.csv")).status_code == 403
    with Session(harness.engine) as session:
        refused = session.exec(
            select(AuditEvent).where(AuditEvent.action == "forbidden", AuditEvent.actor == "casey")
        ).all()
    assert {"/audit", "/audit.csv"} <= {e.detail["path"] for e in refused}
