"""The admin's write-off reasons and limits over real HTTP: checked at the edge (nothing
saved on a bad value, the message on its field), audited with before and after, and read
back through denialflow.store.write_offs as the claim page reads them."""

from __future__ import annotations

import html
from decimal import Decimal

import httpx
from sqlmodel import Session, select

from denialflow.domain.types import Role
from denialflow.models.tables import AuditEvent, WriteOffReason
from denialflow.store.write_offs import write_off_limit, write_off_reason, write_off_reasons
from tests.web.conftest import sign_in
from tests.workflows.conftest import Harness

URL = "/admin/write-offs"
HTMX = {"HX-Request": "true"}
SHIPPED = [
    "small_balance",
    "timely_filing",
    "non_covered",
    "contractual",
    "bad_debt",
    "administrative",
    "charity",
    "financial_assistance",
]


def text(response: httpx.Response) -> str:
    return html.unescape(response.text)


def codes(harness: Harness) -> list[str]:
    with Session(harness.engine) as session:
        return [r.code for r in write_off_reasons(session)]


def limits(harness: Harness) -> dict[Role, Decimal | None]:
    with Session(harness.engine) as session:
        return {role: write_off_limit(session, role) for role in Role}


def audits(harness: Harness, action: str) -> list[AuditEvent]:
    with Session(harness.engine) as session:
        query = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        return list(session.exec(query))


async def test_only_admins_see_or_change_write_off_settings(harness: Harness, web: str) -> None:
    for username in ("sam", "casey"):
        async with httpx.AsyncClient(base_url=web) as http:
            csrf = await sign_in(http, username)
            assert (await http.get(URL)).status_code == 403
            refused = await http.post(
                f"{URL}/limits",
                data={"csrf_token": csrf, "limit_specialist": "99999", "limit_supervisor": "99999"},
            )
            assert refused.status_code == 403
            retire = await http.post(
                f"{URL}/reasons/bad_debt/active", data={"csrf_token": csrf, "active": "no"}
            )
            assert retire.status_code == 403
    forbidden = {(e.actor, e.detail["path"]) for e in audits(harness, "forbidden")}
    assert ("sam", f"{URL}/limits") in forbidden and ("casey", URL) in forbidden
    assert limits(harness)[Role.SPECIALIST] == Decimal("100.00")
    assert "bad_debt" in codes(harness)


async def test_reasons_are_added_renamed_retired_and_reordered(harness: Harness, web: str) -> None:
    assert codes(harness) == SHIPPED
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "alex")
        page = await http.get(URL)
        assert page.status_code == 200
        assert "Charity / financial assistance" in text(page)

        # Bad codes and labels come back on their fields; nothing is added.
        bad = await http.post(
            f"{URL}/reasons", data={"csrf_token": csrf, "code": "Bad Code!", "label": ""}
        )
        assert bad.status_code == 422
        assert "Code: 'bad code!' must be 2 to 40 lowercase letters" in text(bad)
        assert "Label: required" in text(bad)
        assert 'aria-invalid="true"' in bad.text
        taken = await http.post(
            f"{URL}/reasons", data={"csrf_token": csrf, "code": "bad_debt", "label": "Again"}
        )
        assert "a reason 'bad_debt' already exists" in text(taken)
        lookalike = await http.post(
            f"{URL}/reasons", data={"csrf_token": csrf, "code": "debt2", "label": "BAD DEBT"}
        )
        assert lookalike.status_code == 422
        assert "'BAD DEBT' is already the label of bad_debt" in text(lookalike)
        assert codes(harness) == SHIPPED

        added = await http.post(
            f"{URL}/reasons",
            data={"csrf_token": csrf, "code": "provider_error", "label": "Provider error"},
        )
        assert added.status_code == 200 and "Reason provider_error added" in text(added)
        assert codes(harness) == [*SHIPPED, "provider_error"]

        empty = await http.post(f"{URL}/reasons/bad_debt", data={"csrf_token": csrf, "label": " "})
        assert empty.status_code == 422 and "Label: required" in text(empty)
        renamed = await http.post(
            f"{URL}/reasons/bad_debt", data={"csrf_token": csrf, "label": "Uncollectable"}
        )
        assert renamed.status_code == 200 and "bad_debt renamed to 'Uncollectable'" in text(renamed)

        retired = await http.post(
            f"{URL}/reasons/charity/active", data={"csrf_token": csrf, "active": "no"}
        )
        assert retired.status_code == 200 and "charity retired" in text(retired)

        # Past financial_assistance, the retired charity, then administrative.
        for _ in range(3):
            up = await http.post(
                f"{URL}/reasons/provider_error/move", data={"csrf_token": csrf, "direction": "up"}
            )
            assert up.status_code == 200 and "provider_error moved up" in text(up)
        first = await http.post(
            f"{URL}/reasons/small_balance/move", data={"csrf_token": csrf, "direction": "up"}
        )
        assert "small_balance is already first" in text(first)
        wrong = await http.post(
            f"{URL}/reasons/small_balance/move", data={"csrf_token": csrf, "direction": "sideways"}
        )
        assert wrong.status_code == 422
        missing = await http.post(
            f"{URL}/reasons/no_such/active", data={"csrf_token": csrf, "active": "no"}
        )
        assert missing.status_code == 404

    with Session(harness.engine) as session:
        assert write_off_reason(session, "charity") is None  # retired: not offered...
        row = session.get(WriteOffReason, "charity")
        assert row is not None and not row.active  # ...but kept for past write-offs
        view = write_off_reason(session, "bad_debt")
        assert view is not None and view.label == "Uncollectable"
    order = [*SHIPPED[:5], "provider_error", "administrative", "financial_assistance"]
    assert codes(harness) == order

    (add,) = audits(harness, "write_off_reason_added")
    assert add.actor == "alex" and add.detail["before"] is None
    assert add.detail["after"]["label"] == "Provider error"
    changes = [e.detail for e in audits(harness, "write_off_reason_changed")]
    assert {
        "code": "bad_debt",
        "before": {"label": "Bad debt"},
        "after": {"label": "Uncollectable"},
    } in changes
    assert {"code": "charity", "before": {"active": True}, "after": {"active": False}} in changes
    _past_fa, first_move, second_move = audits(harness, "write_off_reasons_reordered")
    assert first_move.detail["before"][-4:-1] == ["administrative", "charity", "provider_error"]
    assert first_move.detail["after"][-4:-1] == ["administrative", "provider_error", "charity"]
    assert second_move.detail["after"][-4:-1] == ["provider_error", "administrative", "charity"]


async def test_the_last_offered_reason_cannot_be_retired(harness: Harness, web: str) -> None:
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "alex")
        for code in SHIPPED[1:]:
            response = await http.post(
                f"{URL}/reasons/{code}/active", data={"csrf_token": csrf, "active": "no"}
            )
            assert response.status_code == 200, code
        last = await http.post(
            f"{URL}/reasons/small_balance/active", data={"csrf_token": csrf, "active": "no"}
        )
        assert last.status_code == 409
        assert "small_balance is the last reason offered" in text(last)
        again = await http.post(
            f"{URL}/reasons/charity/active", data={"csrf_token": csrf, "active": "yes"}
        )
        assert "charity offered again" in text(again)
    assert codes(harness) == ["small_balance", "charity"]


async def test_limits_are_checked_at_the_edge_and_audited(harness: Harness, web: str) -> None:
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "alex")
        form = {"csrf_token": csrf, "limit_specialist": "100.00", "limit_supervisor": "5000.00"}
        for field, value, message in [
            ("limit_specialist", "1e9", "Specialist limit: 1,000,000,000.00 is above the most"),
            ("limit_specialist", "-5", "Specialist limit: -5 is negative"),
            ("limit_supervisor", "12.345", "Supervisor limit: 12.345 has fractions of a cent"),
            ("limit_supervisor", "lots", "Supervisor limit: 'lots' is not an amount"),
            ("limit_supervisor", "NaN", "Supervisor limit: 'NaN' is not an amount"),
            ("limit_supervisor", "", "Supervisor limit: required"),
            ("limit_supervisor", "50.00", "Specialist limit: 100.00 is above the supervisor limit"),
        ]:
            bad = await http.post(f"{URL}/limits", data={**form, field: value})
            assert bad.status_code == 422, value
            assert message in text(bad), (value, text(bad))
            assert "Nothing was saved" in text(bad)
        assert audits(harness, "write_off_limit_changed") == []

        # Under htmx the answer is the panel alone, refused or not, with a 200 to swap.
        swapped = await http.post(
            f"{URL}/limits", data={**form, "limit_specialist": "x"}, headers=HTMX
        )
        assert swapped.status_code == 200
        assert swapped.text.lstrip().startswith('<div id="write-offs-panel">')

        saved = await http.post(
            f"{URL}/limits",
            data={**form, "limit_specialist": "$25", "limit_supervisor": "2,500.00"},
        )
        assert saved.status_code == 200
        assert "Limits saved: specialist $25.00, supervisor $2,500.00" in text(saved)
        assert 'value="25.00"' in saved.text
        same = await http.post(
            f"{URL}/limits", data={**form, "limit_specialist": "25", "limit_supervisor": "2500"}
        )
        assert "The limits are unchanged" in text(same)

    assert limits(harness) == {
        Role.SPECIALIST: Decimal("25.00"),
        Role.SUPERVISOR: Decimal("2500.00"),
        Role.ADMIN: None,
    }
    (change,) = audits(harness, "write_off_limit_changed")
    assert change.actor == "alex"
    assert change.detail == {
        "before": {"specialist": "100.00", "supervisor": "5000.00"},
        "after": {"specialist": "25.00", "supervisor": "2500.00"},
    }
