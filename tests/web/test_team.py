"""The supervisor's pages over real HTTP and real claim workflows: queue and people load,
escalations, and reassigning work in bulk through each claim's workflow."""

from __future__ import annotations

import re
from datetime import datetime

import httpx
import pytest
from sqlmodel import Session, select

from denialflow.models.tables import AuditEvent, WorkItem
from denialflow.web.routers import team
from tests.web.conftest import sign_in
from tests.workflows.conftest import Harness

HTMX = {"HX-Request": "true"}


@pytest.fixture
def pin_clock(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Pin the pages' clock to the workflow test server's: the shared time-skipping
    server runs ahead of the wall clock once earlier tests have skipped time, and the
    items' due dates and the audit times are on its clock."""

    def pin(at: datetime) -> None:
        monkeypatch.setattr(team, "now", lambda: at)

    return pin


def row(html: str, attr: str, value: str) -> str:
    found = re.search(rf'<tr {attr}="{re.escape(value)}".*?</tr>', html, re.S)
    assert found, f"no row {attr}={value!r} on the page"
    return found.group(0)


def cell(row_html: str, name: str) -> str:
    found = re.search(rf'<td class="[^"]*\b{name}\b[^"]*">(.*?)</td>', row_html, re.S)
    assert found, f"no {name} cell in {row_html}"
    return found.group(1).strip()


def item(harness: Harness, claim_id: str) -> WorkItem:
    items = harness.open_items(claim_id)
    assert len(items) == 1, items
    return items[0]


def form(*items: WorkItem, **fields: str) -> dict[str, str | list[str]]:
    """The reassign form: the checked items as "<id>@<version the page showed>"."""
    return {**fields, "item": [f"{i.id}@{i.version}" for i in items]}


async def _denied(harness: Harness, claim_id: str, amount: str, **kw: object) -> WorkItem:
    await harness.submit(claim_id, charge=amount)
    await harness.deny(claim_id, reason="50", amount=amount, **kw)  # CO-50: clinical queue
    return await harness.wait_item(claim_id, "denial")


async def test_overview_counts_open_work_money_lateness_and_escalation(
    harness: Harness, web: str, pin_clock
) -> None:  # type: ignore[no-untyped-def]
    # Level 2 only after 30 business days, so a denial decided 12 days ago sits at level 1.
    harness.add_payer("slow-escalation", escalation={"level2_after_business_days": 30})
    await _denied(harness, "TM-1", "300.00")
    await _denied(harness, "TM-2", "200.00")
    await harness.submit("TM-3", payer="slow-escalation", charge="150.00")
    await harness.deny("TM-3", reason="50", amount="150.00", decision_days_ago=12)
    late = await harness.wait_item("TM-3", "denial", escalation_level=1)
    assert late.queue == "clinical"
    # Silent for 60 days: a follow-up so far past its SLA it reached the supervisor.
    await harness.submit("TM-4", charge="400.00", submitted_days_ago=60)
    await harness.wait_item("TM-4", "follow_up", escalation_level=2)
    first = item(harness, "TM-1")
    await harness.act("TM-1", "start_work", by="riley", work_item_id=first.id)
    pin_clock(await harness.now())

    async with httpx.AsyncClient(base_url=web) as http:
        await sign_in(http, "casey")
        page = await http.get("/team")
    assert page.status_code == 200, page.text
    clinical = row(page.text, "data-queue", "clinical")
    assert cell(clinical, "open") == "3"
    assert cell(clinical, "at-stake") == "650.00"
    assert cell(clinical, "past-sla") == "1"
    assert cell(clinical, "escalated") == "1"
    assert cell(clinical, "unassigned") == "2"
    oldest = late.opened_at.strftime("%Y-%m-%d")
    assert cell(clinical, "oldest").startswith(oldest)
    escalations = row(page.text, "data-queue", "escalations")
    assert cell(escalations, "open") == "1"
    assert cell(escalations, "at-stake") == "400.00"
    assert cell(escalations, "past-sla") == "1"
    assert cell(escalations, "escalated") == "1"
    # An empty queue still shows, at zero: that is where spare hands are.
    assert cell(row(page.text, "data-queue", "eligibility"), "open") == "0"

    riley = row(page.text, "data-user", "riley")
    assert cell(riley, "open") == "1"
    assert cell(riley, "at-stake") == "300.00"
    assert cell(riley, "worked-today") == "1"
    assert cell(row(page.text, "data-user", "sam"), "worked-today") == "0"
    assert "Traceback" not in page.text


async def test_escalations_list_reason_level_and_deadline_highest_first(
    harness: Harness, web: str, pin_clock
) -> None:  # type: ignore[no-untyped-def]
    harness.add_payer("slow-escalation", escalation={"level2_after_business_days": 30})
    await harness.submit("EX-1", payer="slow-escalation", charge="150.00")
    await harness.deny("EX-1", reason="50", amount="150.00", decision_days_ago=12)
    await harness.wait_item("EX-1", "denial", escalation_level=1)
    # Decided 175 days ago under a 180-day appeal limit: the deadline escalates it.
    await harness.submit("EX-2", submitted_days_ago=200)
    await harness.deny("EX-2", reason="11", decision_days_ago=175)
    near = await harness.wait_item("EX-2", "denial", escalation_level=2)
    await _denied(harness, "EX-3", "100.00")  # fresh: not escalated
    pin_clock(await harness.now())

    async with httpx.AsyncClient(base_url=web) as http:
        await sign_in(http, "casey")
        page = await http.get("/escalations")
    assert page.status_code == 200, page.text
    text = page.text
    assert "EX-3" not in text
    deadline_row = row(text, "data-item", near.id)
    assert "level 2" in cell(deadline_row, "escalation")
    assert "deadline" in cell(deadline_row, "escalation")
    assert near.deadline_at is not None
    assert near.deadline_at.isoformat() in cell(deadline_row, "deadline")
    assert 'href="/claims/EX-2"' in deadline_row
    assert cell(deadline_row, "queue").startswith("escalations")
    sla_row = row(text, "data-item", item(harness, "EX-1").id)
    assert "level 1" in cell(sla_row, "escalation") and "sla" in cell(sla_row, "escalation")
    assert cell(sla_row, "assignee") == "unassigned"
    assert text.index(near.id) < text.index(item(harness, "EX-1").id)
    assert "level 2, deadline: <strong>1</strong>" in text


async def test_bulk_reassign_moves_three_items_to_a_specialist(
    harness: Harness, web: str, pin_clock
) -> None:  # type: ignore[no-untyped-def]
    items = [await _denied(harness, f"BR-{n}", "100.00") for n in range(1, 4)]
    untouched = await _denied(harness, "BR-4", "100.00")
    pin_clock(await harness.now())
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "casey")
        page = await http.get("/team", params={"queue": "clinical"})
        for i in items:
            assert f'value="{i.id}@{i.version}"' in page.text
        moved = await http.post(
            "/team/reassign",
            data=form(*items, csrf_token=csrf, to_user="sam", queue="clinical"),
            headers=HTMX,
        )
        assert moved.status_code == 200, moved.text
        assert "3 of 3 moved to sam" in moved.text
        assert moved.text.count('class="moved"') == 3
        # The item table comes back out of band with the new versions and owner.
        assert 'id="team-items" hx-swap-oob="true"' in moved.text
        assert "<html" not in moved.text

        for i in items:
            after = item(harness, i.claim_id)  # type: ignore[arg-type]
            assert after.assignee == "sam"
            assert after.version == i.version + 1
            assert f'value="{after.id}@{after.version}"' in moved.text
        assert item(harness, "BR-4").assignee is None
        assert item(harness, "BR-4").version == untouched.version

        overview = await http.get("/team")
        assert cell(row(overview.text, "data-user", "sam"), "open") == "3"
        sams = await http.get("/team/items", params={"assignee": "sam"}, headers=HTMX)
        assert sams.status_code == 200 and "3 open items" in sams.text
        assert "BR-4" not in sams.text

    # What sam sees on his next load (once the queue page exists).
    async with httpx.AsyncClient(base_url=web) as http:
        await sign_in(http, "sam")
        queue = await http.get("/queue")
        if queue.status_code != 404:
            assert queue.status_code == 200, queue.text
            for i in items:
                assert i.claim_id in queue.text

    with Session(harness.engine) as session:
        audits = session.exec(
            select(AuditEvent).where(AuditEvent.action.in_(["reassign", "reassign_batch"]))  # type: ignore[attr-defined]
        ).all()
    per_item = [a for a in audits if a.action == "reassign"]
    assert sorted(a.claim_id for a in per_item) == ["BR-1", "BR-2", "BR-3"]
    assert all(a.actor == "casey" for a in per_item)
    (batch,) = [a for a in audits if a.action == "reassign_batch"]
    assert batch.detail["to_user"] == "sam" and len(batch.detail["moved"]) == 3


async def test_a_stale_version_is_a_conflict_for_that_item_only(
    harness: Harness, web: str, pin_clock
) -> None:  # type: ignore[no-untyped-def]
    items = [await _denied(harness, f"SV-{n}", "100.00") for n in range(1, 4)]
    pin_clock(await harness.now())
    # Riley takes the second item after the supervisor's page was loaded.
    await harness.act("SV-2", "start_work", by="riley", work_item_id=items[1].id)
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "casey")
        answer = await http.post(
            "/team/reassign",
            data=form(*items, csrf_token=csrf, to_user="jordan", to_queue="follow-up"),
            headers=HTMX,
        )
    assert answer.status_code == 200, answer.text
    assert "2 of 3 moved to jordan in queue follow-up; 1 not moved" in answer.text
    conflict = row(answer.text, "data-outcome", items[1].id)
    assert 'class="conflict"' in conflict
    assert "reload" in conflict and "riley" in conflict
    for n in (0, 2):
        after = item(harness, items[n].claim_id)  # type: ignore[arg-type]
        assert (after.assignee, after.queue) == ("jordan", "follow-up")
    kept = item(harness, "SV-2")
    assert (kept.assignee, kept.queue, kept.state) == ("riley", "clinical", "in_progress")


async def test_bad_targets_are_refused_and_nothing_is_sent(
    harness: Harness, web: str, pin_clock
) -> None:  # type: ignore[no-untyped-def]
    one = await _denied(harness, "BT-1", "100.00")
    pin_clock(await harness.now())
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "casey")
        cases = [
            ({"to_user": "nobody"}, "there is no user named &#39;nobody&#39;"),
            ({"to_user": "alex"}, "alex is not an active specialist"),
            ({"to_queue": "nowhere"}, "there is no queue named &#39;nowhere&#39;"),
            ({}, "Choose a person, a queue, or both"),
        ]
        for target, message in cases:
            answer = await http.post(
                "/team/reassign", data=form(one, csrf_token=csrf, **target), headers=HTMX
            )
            assert answer.status_code == 422, answer.text
            assert message in answer.text and "Nothing was reassigned" in answer.text
            # Refused input keeps the supervisor's checks: no table comes back to replace them.
            assert "hx-swap-oob" not in answer.text
        nothing = await http.post(
            "/team/reassign", data={"csrf_token": csrf, "to_user": "sam"}, headers=HTMX
        )
        assert nothing.status_code == 422 and "Select at least one item" in nothing.text
        garbled = await http.post(
            "/team/reassign",
            data={"csrf_token": csrf, "to_user": "sam", "item": "BT-1"},
        )
        assert garbled.status_code == 422 and "<html" in garbled.text
        assert "is not in the form &lt;item id&gt;@&lt;version&gt;" in garbled.text
        bad_filter = await http.get("/team/items", params={"queue": "nowhere"})
        assert bad_filter.status_code == 422 and "no queue named" in bad_filter.text
        assert "Traceback" not in bad_filter.text + garbled.text
    after = item(harness, "BT-1")
    assert (after.assignee, after.version) == (None, one.version)


async def test_specialists_are_refused_and_a_post_without_csrf_moves_nothing(
    harness: Harness, web: str, pin_clock
) -> None:  # type: ignore[no-untyped-def]
    one = await _denied(harness, "PR-1", "100.00")
    pin_clock(await harness.now())
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "sam")
        assert (await http.get("/team")).status_code == 403
        assert (await http.get("/escalations")).status_code == 403
        assert (await http.get("/team/items")).status_code == 403
        refused = await http.post("/team/reassign", data=form(one, csrf_token=csrf, to_user="sam"))
        assert refused.status_code == 403

    async with httpx.AsyncClient(base_url=web) as http:
        await sign_in(http, "casey")
        forged = await http.post("/team/reassign", data=form(one, to_user="sam"))
        assert forged.status_code == 403 and "Nothing was changed" in forged.text

    after = item(harness, "PR-1")
    assert (after.assignee, after.version) == (None, one.version)
    with Session(harness.engine) as session:
        denied = session.exec(
            select(AuditEvent.actor, AuditEvent.action).where(
                AuditEvent.action.in_(["forbidden", "csrf_rejected"])  # type: ignore[attr-defined]
            )
        ).all()
    assert ("sam", "forbidden") in denied and ("casey", "csrf_rejected") in denied


def item_ids(html: str) -> list[str]:
    return re.findall(r'<tr data-item="([^"]+)"', html)


async def test_items_show_payer_names_and_page_through_with_the_filters_kept(
    harness: Harness, web: str, pin_clock, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(team, "PAGE_SIZE", 2)
    items = [await _denied(harness, f"PG-{n}", f"{n}00.00") for n in range(1, 6)]
    await harness.submit("PG-X", charge="900.00")  # follow-up queue: filtered out
    pin_clock(await harness.now())
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "casey")
        first = await http.get("/team", params={"queue": "clinical"})
        assert first.status_code == 200, first.text
        # The payer's name, not its id (the id stays as the cell's title).
        payer = re.search(r'<td class="payer" title="commercial-uhc">([^<]*)</td>', first.text)
        assert payer and payer.group(1) == "Commercial (UnitedHealthcare-like)"
        assert "5 open items; showing 1&ndash;2." in first.text
        assert "page 1 of 3" in first.text
        # The pager keeps the filter, for the page and for its htmx partial.
        assert 'href="/team?queue=clinical&amp;p=2#team-items" rel="next"' in first.text
        assert 'hx-get="/team/items?page=team&amp;queue=clinical&amp;p=2"' in first.text

        pages = [item_ids(first.text)]
        second = await http.get("/team", params={"queue": "clinical", "p": "2"})
        assert "showing 3&ndash;4" in second.text and "page 2 of 3" in second.text
        assert 'rel="prev"' in second.text and 'name="p" value="2"' in second.text
        pages.append(item_ids(second.text))
        third = await http.get(
            "/team/items", params={"page": "team", "queue": "clinical", "p": "3"}, headers=HTMX
        )
        assert third.status_code == 200 and "<html" not in third.text
        assert 'rel="next"' not in third.text
        pages.append(item_ids(third.text))
        assert [len(p) for p in pages] == [2, 2, 1]
        # Every item once, highest priority first, and nothing from another queue.
        assert [i for p in pages for i in p] == [i.id for i in reversed(items)]
        assert "PG-X" not in first.text + second.text + third.text

        # Past the end is the last page; nonsense is the first.
        assert item_ids((await http.get("/team?queue=clinical&p=99")).text) == pages[2]
        assert item_ids((await http.get("/team?queue=clinical&p=zero")).text) == pages[0]

        # A reassign from page 2 brings page 2 back, with the same filter.
        moved = await http.post(
            "/team/reassign",
            data=form(items[2], csrf_token=csrf, to_user="sam", queue="clinical", p="2"),
            headers=HTMX,
        )
        assert moved.status_code == 200, moved.text
        assert "1 of 1 moved to sam" in moved.text
        assert "showing 3&ndash;4" in moved.text and 'name="p" value="2"' in moved.text

        # The escalations page pages too, and its links stay on it.
        monkeypatch.setattr(team, "PAGE_SIZE", 1)
        harness.add_payer("slow-escalation", escalation={"level2_after_business_days": 30})
        for n in (1, 2):
            await harness.submit(f"PE-{n}", payer="slow-escalation", charge="150.00")
            await harness.deny(f"PE-{n}", reason="50", amount="150.00", decision_days_ago=12)
            await harness.wait_item(f"PE-{n}", "denial", escalation_level=1)
        pin_clock(await harness.now())
        escalated = await http.get("/escalations")
        assert 'href="/escalations?p=2#team-items"' in escalated.text
        assert 'hx-get="/team/items?page=escalations&amp;p=2"' in escalated.text


async def test_the_reassign_bar_sits_above_the_rows_it_moves(
    harness: Harness, web: str, pin_clock
) -> None:  # type: ignore[no-untyped-def]
    await _denied(harness, "RB-1", "100.00")
    pin_clock(await harness.now())
    async with httpx.AsyncClient(base_url=web) as http:
        await sign_in(http, "casey")
        page = await http.get("/team")
    text = page.text
    bar = text.index('id="reassign-bar"')
    assert bar < text.index('id="team-item-table"')
    assert text.index('name="to_user"', bar) < text.index('id="team-item-table"')
    assert text.index('type="submit"', bar) < text.index('id="team-item-table"')
    # No inline handlers: the page's script is a static file.
    assert "onclick" not in text and 'src="/static/team.js"' in text
