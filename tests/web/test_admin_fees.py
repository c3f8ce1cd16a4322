"""Fee schedules on the admin pages over real HTTP: bad rows refused whole with the file,
line and column named; every change previewed (old rate -> new rate, new codes, dates)
and applied only when confirmed, and only as shown; rates ended or deleted; all audited."""

from __future__ import annotations

import html
import re
from datetime import date
from decimal import Decimal

import httpx
from sqlalchemy import func
from sqlmodel import Session, select

from denialflow.models.tables import AuditEvent, FeeChangePreview, FeeSchedule
from denialflow.posting.fees import FeeLookup
from tests.web.conftest import sign_in
from tests.web.test_admin import form_values
from tests.workflows.conftest import Harness

PAYER = "commercial-aetna"
URL = f"/admin/payers/{PAYER}/fees"
HEADER = "procedure_code,modifier,allowed,effective_from,effective_to\n"
HTMX = {"HX-Request": "true"}


def text(response: httpx.Response) -> str:
    """The page as a person reads it: no tags, entities decoded, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.text)).split())


def section(response: httpx.Response, table_id: str) -> str:
    """The text of one table on the page."""
    part = response.text.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", part)).split())


def rates(harness: Harness) -> dict[str, tuple[Decimal, date | None]]:
    with Session(harness.engine) as session:
        rows = session.exec(select(FeeSchedule).where(FeeSchedule.payer_id == PAYER))
        return {
            f"{r.procedure_code}{r.modifier}@{r.effective_from}": (r.allowed, r.effective_to)
            for r in rows
        }


def rate_id(harness: Harness, code: str, start: str) -> int:
    with Session(harness.engine) as session:
        row = session.exec(
            select(FeeSchedule).where(
                FeeSchedule.payer_id == PAYER,
                FeeSchedule.procedure_code == code,
                FeeSchedule.effective_from == date.fromisoformat(start),
            )
        ).one()
        assert row.id is not None
        return row.id


def previews(harness: Harness) -> int:
    with Session(harness.engine) as session:
        return session.exec(select(func.count()).select_from(FeeChangePreview)).one()


def audits(harness: Harness, action: str) -> list[AuditEvent]:
    with Session(harness.engine) as session:
        query = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        return list(session.exec(query))


async def upload(http: httpx.AsyncClient, csrf: str, name: str, body: str) -> httpx.Response:
    return await http.post(
        URL, files={"file": (name, (HEADER + body).encode())}, data={"csrf_token": csrf}
    )


def confirm_form(page: httpx.Response) -> tuple[str, dict[str, str]]:
    action = page.text.split('id="fee-confirm"', 1)[1].split('action="', 1)[1].split('"', 1)[0]
    return action, form_values(page.text, "fee-confirm")


async def confirm(http: httpx.AsyncClient, page: httpx.Response) -> httpx.Response:
    action, form = confirm_form(page)
    return await http.post(action, data=form)


async def test_bad_rows_are_refused_whole_naming_file_line_and_column(
    harness: Harness, web: str
) -> None:
    body = (
        "99213,,80.00,2026-01-01,\n"  # line 2: good
        "ABCDE,,10.00,2026-01-01,\n"  # line 3
        "9921,,10.00,2026-01-01,\n"  # line 4
        "W1234,,10.00,2026-01-01,\n"  # line 5: HCPCS letters stop at V
        "1234X,,10.00,2026-01-01,\n"  # line 6: only F, T or U after four digits
        "99214,,250000.00,2026-01-01,\n"  # line 7: above any real fee
        "99215,,12.345,2026-01-01,\n"  # line 8
        "99203,2*,50.00,2026-01-01,\n"  # line 9
        "99204,,50.00,2206-01-01,\n"  # line 10
        "J1100,,5.25,2026-01-01,\n"  # line 11: good (HCPCS Level II)
    )
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "alex")
        bad = await upload(http, csrf, "aetna-bad.csv", body)
    assert bad.status_code == 422
    page = text(bad)
    assert "Nothing was imported from aetna-bad.csv" in page
    assert "aetna-bad.csv: 8 rows have problems" in page
    for expected in [
        "aetna-bad.csv: line 3: procedure_code 'ABCDE' is not a CPT or HCPCS code",
        "aetna-bad.csv: line 4: procedure_code '9921' is not a CPT or HCPCS code",
        "aetna-bad.csv: line 5: procedure_code 'W1234' is not a CPT or HCPCS code",
        "aetna-bad.csv: line 6: procedure_code '1234X' is not a CPT or HCPCS code",
        "aetna-bad.csv: line 7: allowed 250000.00 is above 100,000.00",
        "aetna-bad.csv: line 8: allowed 12.345 has fractions of a cent",
        "aetna-bad.csv: line 9: modifier '2*' is not two letters or digits",
        "aetna-bad.csv: line 10: effective_from: 2206-01-01 is outside",
    ]:
        assert expected in page, expected
    assert "line 2:" not in page and "line 11:" not in page
    # Not one row of it, and no preview waiting to be confirmed.
    assert rates(harness) == {} and previews(harness) == 0


async def test_an_upload_is_previewed_and_applied_only_when_confirmed(
    harness: Harness, web: str
) -> None:
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "alex")
        first = await upload(
            http, csrf, "aetna-2026.csv", "99213,,80.00,2026-01-01,\n99214,,120.00,2026-01-01,\n"
        )
        assert first.status_code == 200
        assert "0 rate changes" in text(first) and "2 new codes" in text(first)
        assert rates(harness) == {}
        applied = await confirm(http, first)
        assert "2 added, 0 changed, 0 unchanged" in text(applied)

        second = await upload(
            http,
            csrf,
            "aetna-2026-07.csv",
            "99213,,80.00,2026-01-01,\n"  # unchanged
            "99213,,90.00,2026-07-01,\n"  # a new rate from July
            "99214,,125.00,2026-01-01,2026-12-31\n"  # corrected, and now ends
            "J1100,,5.25,2026-07-01,\n"  # a new code
            "0042T,,310.00,2026-07-01,\n",  # a new code (CPT Category III)
        )
        assert second.status_code == 200
        preview = text(second)
        assert "2 rate changes" in preview and "2 new codes" in preview
        assert "1 unchanged" in preview and "not applied yet" in preview
        changes = section(second, "preview-changes")
        assert "99213" in changes and "2026-07-01" in changes and "80.00" in changes
        assert "90.00" in changes and "80.00 keeps applying before" in changes
        assert "99214" in changes and "120.00" in changes and "125.00" in changes
        assert "open → 2026-12-31" in changes
        new = section(second, "preview-new")
        assert "J1100" in new and "5.25" in new and "0042T" in new and "310.00" in new
        # Shown, not applied.
        assert rates(harness) == {
            "99213@2026-01-01": (Decimal("80.00"), None),
            "99214@2026-01-01": (Decimal("120.00"), None),
        }

        applied = await confirm(http, second)
        assert applied.status_code == 200
        assert "3 added, 1 changed, 1 unchanged" in text(applied)
        assert "99214 from 2026-01-01: 120.00 -> 125.00" in text(applied)

        # The same preview cannot be applied twice.
        again = await confirm(http, second)
        assert again.status_code == 409 and "already applied" in text(again)

    assert rates(harness) == {
        "99213@2026-01-01": (Decimal("80.00"), None),
        "99213@2026-07-01": (Decimal("90.00"), None),
        "99214@2026-01-01": (Decimal("125.00"), date(2026, 12, 31)),
        "J1100@2026-07-01": (Decimal("5.25"), None),
        "0042T@2026-07-01": (Decimal("310.00"), None),
    }
    assert previews(harness) == 0
    with Session(harness.engine) as session:
        fees = FeeLookup(session, PAYER)
    assert fees.rate("99213", [], date(2026, 6, 30)) == Decimal("80.00")
    assert fees.rate("99213", [], date(2026, 7, 1)) == Decimal("90.00")
    assert fees.rate("99214", [], date(2027, 1, 1)) is None

    _first, second_import = audits(harness, "fee_schedule_imported")
    assert second_import.actor == "alex"
    detail = second_import.detail
    assert (detail["file"], detail["added"], detail["changed"], detail["unchanged"]) == (
        "aetna-2026-07.csv",
        3,
        1,
        1,
    )
    assert detail["before"] == {"99214@2026-01-01": "120.00"}
    assert detail["replaced"] == {"99213@2026-07-01": "80.00"}
    assert detail["after"]["99214@2026-01-01"] == "125.00 until 2026-12-31"
    assert detail["after"]["99213@2026-07-01"] == "90.00"


async def test_a_preview_is_not_applied_once_the_rates_changed_under_it(
    harness: Harness, web: str
) -> None:
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "alex")
        await confirm(http, await upload(http, csrf, "base.csv", "99213,,80.00,2026-01-01,\n"))
        slow = await upload(http, csrf, "slow.csv", "99213,,85.00,2026-01-01,\n")
        # Meanwhile the same rate is changed by typing it in, and confirmed.
        typed = await http.post(
            f"{URL}/rate",
            data={
                "csrf_token": csrf,
                "procedure_code": "99213",
                "allowed": "82.50",
                "effective_from": "2026-01-01",
            },
        )
        assert "not applied yet" in text(typed)
        await confirm(http, typed)
        assert rates(harness)["99213@2026-01-01"] == (Decimal("82.50"), None)

        stale = await confirm(http, slow)
        assert stale.status_code == 409
        assert "The rates changed since you saw this preview" in text(stale)
        assert rates(harness)["99213@2026-01-01"] == (Decimal("82.50"), None)
        # What it would do now is shown (82.50 -> 85.00) and can be confirmed.
        changes = section(stale, "preview-changes")
        assert "82.50" in changes and "85.00" in changes
        applied = await confirm(http, stale)
        assert applied.status_code == 200
    assert rates(harness)["99213@2026-01-01"] == (Decimal("85.00"), None)
    (typed_audit,) = audits(harness, "fee_rate_changed")
    assert typed_audit.detail["before"] == {"99213@2026-01-01": "80.00"}
    assert typed_audit.detail["after"] == {"99213@2026-01-01": "82.50"}


async def test_one_rate_typed_in_is_checked_previewed_or_cancelled(
    harness: Harness, web: str
) -> None:
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "alex")
        bad = await http.post(
            f"{URL}/rate",
            data={
                "csrf_token": csrf,
                "procedure_code": "99",
                "modifier": "X",
                "allowed": "1000000",
                "effective_from": "01/07/2026",
            },
        )
        assert bad.status_code == 422
        page = text(bad)
        assert "Procedure_code '99' is not a CPT or HCPCS code" in page
        assert "Modifier 'X' is not two characters" in page
        assert "Allowed 1000000 is above 100,000.00" in page
        assert "Effective_from: '01/07/2026' is not a date" in page
        assert bad.text.count('aria-invalid="true"') >= 4
        assert form_values(bad.text, "fee-rate")["procedure_code"] == "99"

        # Under htmx, the panel alone comes back, with a 200 so it is swapped in.
        swapped = await http.post(
            f"{URL}/rate",
            data={
                "csrf_token": csrf,
                "procedure_code": "g0439",
                "allowed": "$1,175.00",
                "effective_from": "2026-03-01",
            },
            headers=HTMX,
        )
        assert swapped.status_code == 200
        assert swapped.text.lstrip().startswith('<div id="fees-panel">')
        assert "G0439" in swapped.text and "1175.00" in swapped.text
        assert previews(harness) == 1

        action, form = confirm_form(swapped)
        cancel = action.replace("/confirm", "/cancel")
        cancelled = await http.post(cancel, data={"csrf_token": csrf})
        assert "Preview cancelled; no rate changed" in text(cancelled)
        gone = await http.post(action, data=form)
        assert gone.status_code == 409
    assert rates(harness) == {} and previews(harness) == 0
    assert audits(harness, "fee_rate_changed") == []


async def test_a_rate_is_ended_or_deleted_and_both_are_audited(harness: Harness, web: str) -> None:
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "alex")
        await confirm(
            http,
            await upload(
                http, csrf, "aetna.csv", "99213,,80.00,2026-01-01,\n99214,25,120.00,2026-01-01,\n"
            ),
        )
        ended_id = rate_id(harness, "99213", "2026-01-01")
        early = await http.post(
            f"{URL}/rates/{ended_id}/end", data={"csrf_token": csrf, "effective_to": "2025-12-31"}
        )
        assert early.status_code == 422
        assert "End date: 2025-12-31 is before the rate starts, 2026-01-01" in text(early)
        assert rates(harness)["99213@2026-01-01"] == (Decimal("80.00"), None)

        ended = await http.post(
            f"{URL}/rates/{ended_id}/end", data={"csrf_token": csrf, "effective_to": "2026-06-30"}
        )
        assert ended.status_code == 200
        assert "99213@2026-01-01 ends on 2026-06-30" in text(ended)

        deleted_id = rate_id(harness, "99214", "2026-01-01")
        deleted = await http.post(f"{URL}/rates/{deleted_id}/delete", data={"csrf_token": csrf})
        assert deleted.status_code == 200 and "Rate 99214-25@2026-01-01 (120.00) deleted" in text(
            deleted
        )
        missing = await http.post(f"{URL}/rates/{deleted_id}/delete", data={"csrf_token": csrf})
        assert missing.status_code == 404

    assert rates(harness) == {"99213@2026-01-01": (Decimal("80.00"), date(2026, 6, 30))}
    with Session(harness.engine) as session:
        fees = FeeLookup(session, PAYER)
    assert fees.rate("99213", [], date(2026, 6, 30)) == Decimal("80.00")
    assert fees.rate("99213", [], date(2026, 7, 1)) is None
    (end_audit,) = audits(harness, "fee_rate_ended")
    assert end_audit.detail["before"] == {"effective_to": None}
    assert end_audit.detail["after"] == {"effective_to": "2026-06-30"}
    (delete_audit,) = audits(harness, "fee_rate_deleted")
    assert delete_audit.actor == "alex"
    assert delete_audit.detail["rate"] == "99214-25@2026-01-01"
    assert delete_audit.detail["before"]["allowed"] == "120.00"


async def test_only_admins_preview_or_change_rates(harness: Harness, web: str) -> None:
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "alex")
        preview = await upload(http, csrf, "aetna.csv", "99213,,80.00,2026-01-01,\n")
        action, _form = confirm_form(preview)
        digest = _form["digest"]
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "casey")
        refused = await http.post(action, data={"csrf_token": csrf, "digest": digest})
        assert refused.status_code == 403
        refused = await http.post(
            f"{URL}/rate",
            data={
                "csrf_token": csrf,
                "procedure_code": "99213",
                "allowed": "1.00",
                "effective_from": "2026-01-01",
            },
        )
        assert refused.status_code == 403
    assert rates(harness) == {}
