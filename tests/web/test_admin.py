"""The admin's pages over real HTTP: payers and rules, fee schedules, queues, users."""

from __future__ import annotations

import html
import json
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from denialflow.demo import install_demo_users
from denialflow.devserver import free_port
from denialflow.models.db import session_scope
from denialflow.models.tables import AuditEvent, FeeSchedule, Payer, QueueMembership, User
from denialflow.settings import Settings
from denialflow.store.accounts import user_for_api_token
from denialflow.web.app import create_app
from tests.web.conftest import sign_in
from tests.workflows.conftest import Harness


class _FormReader(HTMLParser):
    """The values a browser would submit from one form: inputs, selected options, textareas."""

    def __init__(self, form_id: str) -> None:
        super().__init__()
        self.form_id = form_id
        self.inside = False
        self.values: dict[str, str] = {}
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.inside = a.get("id") == self.form_id
        if not self.inside:
            return
        if tag == "input" and a.get("name") and a.get("type") not in ("file", "submit"):
            self.values[a["name"]] = a.get("value", "")
        elif tag == "select":
            self._select = a.get("name")
        elif tag == "option" and self._select and "selected" in a:
            self.values[self._select] = a.get("value", "")
        elif tag == "textarea":
            self._textarea = a.get("name")
            self.values[self._textarea or ""] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.values[self._textarea] += data


def form_values(page: str, form_id: str) -> dict[str, str]:
    reader = _FormReader(form_id)
    reader.feed(page)
    assert reader.values, f"no form {form_id!r} on the page"
    return reader.values


def text(response: httpx.Response) -> str:
    """The page as a person reads it (entities decoded)."""
    return html.unescape(response.text)


def audits(engine: Engine, action: str) -> list[AuditEvent]:
    with Session(engine) as session:
        return list(
            session.exec(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
            )
        )


async def try_sign_in(http: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    """A sign-in attempt that may fail; a success is a redirect to the user's home."""
    form = await http.get("/login")
    token = form.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    return await http.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}
    )


def payer(engine: Engine, payer_id: str) -> Payer:
    with Session(engine) as session:
        row = session.get(Payer, payer_id)
        assert row is not None
        return row


def user(engine: Engine, username: str) -> User:
    with Session(engine) as session:
        row = session.get(User, username)
        assert row is not None
        return row


ADMIN_PAGES = [
    "/admin",
    "/admin/payers",
    "/admin/payers/medicare",
    "/admin/payers/medicare/fees",
    "/admin/queues",
    "/admin/users",
    "/audit",
    "/audit.csv",
]


async def test_only_admins_use_admin_pages_and_refusals_are_audited(
    harness: Harness, web: str
) -> None:
    for username in ("sam", "casey"):
        async with httpx.AsyncClient(base_url=web) as http:
            csrf = await sign_in(http, username)
            for path in ADMIN_PAGES:
                response = await http.get(path)
                assert response.status_code == 403, (username, path)
                assert "for admins" in response.text
            refused = await http.post(
                "/admin/users",
                data={
                    "csrf_token": csrf,
                    "username": "mallory",
                    "full_name": "Mallory",
                    "role": "admin",
                    "password": "let-me-in-please",
                },
            )
            assert refused.status_code == 403
        denied = [e for e in audits(harness.engine, "forbidden") if e.actor == username]
        assert {e.detail["path"] for e in denied} >= {*ADMIN_PAGES, "/admin/users"}
    with Session(harness.engine) as session:
        assert session.get(User, "mallory") is None

    async with httpx.AsyncClient(base_url=web) as http:
        await sign_in(http, "alex")
        for path in ADMIN_PAGES:
            response = await http.get(path)
            assert response.status_code == 200, path
            assert "Traceback" not in response.text


async def test_editing_appeal_deadlines_tells_open_claims_and_audits_before_and_after(
    harness: Harness, web: str
) -> None:
    await harness.submit("ADM-1", payer="commercial-uhc")
    async with httpx.AsyncClient(base_url=web) as http:
        await sign_in(http, "alex")
        page = await http.get("/admin/payers/commercial-uhc")
        form = form_values(page.text, "payer-form")
        assert form["appeal_deadline_days"] == "180, 60"
        assert form["timely_filing_days"] == "90"

        saved = await http.post(
            "/admin/payers/commercial-uhc",
            data={**form, "appeal_deadline_days": "90, 45, 30", "x12_payer_id": "12345"},
        )
        assert saved.status_code == 200
        assert "Rules saved; 1 open claim was told." in text(saved)
        assert "Payer details saved." in text(saved)
        assert form_values(saved.text, "payer-form")["appeal_deadline_days"] == "90, 45, 30"

        stored = payer(harness.engine, "commercial-uhc")
        assert stored.rules["appeal_deadline_days"] == [90, 45, 30]
        assert stored.rules["timely_filing_days"] == 90  # untouched fields stay as they were
        assert stored.x12_payer_id == "12345"
        (rules_change,) = audits(harness.engine, "payer_rules_changed")
        assert rules_change.actor == "alex"
        assert rules_change.detail["before"]["appeal_deadline_days"] == [180, 60]
        assert rules_change.detail["after"]["appeal_deadline_days"] == [90, 45, 30]
        (details_change,) = audits(harness.engine, "payer_changed")
        # The shipped example id, replaced by the practice's clearinghouse's.
        assert details_change.detail["before"] == {"x12_payer_id": "87726"}
        assert details_change.detail["after"] == {"x12_payer_id": "12345"}

        # The admin's audit page shows the same change.
        log = await http.get("/audit", params={"action": "payer_rules_changed"})
        assert "[90, 45, 30]" in text(log) or "90,45,30" in text(log).replace(" ", "")

        # A second tab still showing the old page cannot overwrite the newer save.
        stale = await http.post(
            "/admin/payers/commercial-uhc", data={**form, "appeal_deadline_days": "365"}
        )
        assert stale.status_code == 409
        assert "Someone else saved this payer" in text(stale)
        assert payer(harness.engine, "commercial-uhc").rules["appeal_deadline_days"] == [90, 45, 30]


async def test_invalid_rules_name_the_field_and_change_nothing(harness: Harness, web: str) -> None:
    before = payer(harness.engine, "medicare")
    async with httpx.AsyncClient(base_url=web) as http:
        await sign_in(http, "alex")
        form = form_values((await http.get("/admin/payers/medicare")).text, "payer-form")
        bad = await http.post(
            "/admin/payers/medicare",
            data={
                **form,
                "name": "Medicare renamed",
                "timely_filing_days": "twelve months",
                "appeal_deadline_days": "120, 180, soon",
                "sla_denial": "0",
                "underpayment_tolerance": "1.005",
                "claim_filing_indicator": "XX",
            },
        )
        assert bad.status_code == 422
        page = text(bad)
        assert "Nothing was saved" in page
        assert "Timely filing limit: 'twelve months' is not a whole number of days" in page
        assert "Appeal deadlines: level 3 is 'soon'" in page
        assert "SLA for denial: 0 is outside 1 to 90" in page
        assert "Underpayment tolerance: 1.005 has fractions of a cent" in page
        assert "Claim filing indicator: 'XX' is not an 837 SBR09 code" in page
        assert 'aria-invalid="true"' in bad.text
        # What was typed stays in the form to be corrected.
        assert form_values(bad.text, "payer-form")["timely_filing_days"] == "twelve months"
        assert "Traceback" not in bad.text

        # Under HTMX the same answer replaces just the form, where the user is looking.
        swapped = await http.post(
            "/admin/payers/medicare",
            data={**form, "appeal_deadline_days": ""},
            headers={"HX-Request": "true"},
        )
        assert swapped.text.lstrip().startswith('<form id="payer-form"')
        assert "Appeal deadlines: give the days for at least one level" in text(swapped)

    after = payer(harness.engine, "medicare")
    assert after.rules == before.rules and after.name == before.name
    assert audits(harness.engine, "payer_rules_changed") == []
    assert audits(harness.engine, "payer_changed") == []


async def test_rules_are_not_saved_while_temporal_is_unreachable(
    engine: Engine, tmp_path: Path
) -> None:
    with session_scope(engine) as session:
        install_demo_users(session)
    settings = Settings(
        DATABASE_URL=str(engine.url),
        TEMPORAL_ADDRESS=f"127.0.0.1:{free_port()}",  # nothing listens there
        DENIALFLOW_VAR_DIR=str(tmp_path / "var"),
    )
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://admin.test") as http:
        await sign_in(http, "alex")
        form = form_values((await http.get("/admin/payers/medicaid-tx")).text, "payer-form")
        refused = await http.post(
            "/admin/payers/medicaid-tx", data={**form, "timely_filing_days": "120"}
        )
        assert refused.status_code == 503
        assert "Temporal is not reachable" in text(refused)
        assert "nothing was saved" in text(refused)
    assert payer(engine, "medicaid-tx").rules["timely_filing_days"] == 95
    assert audits(engine, "payer_rules_changed") == []


async def test_adding_a_payer(harness: Harness, web: str) -> None:
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "alex")
        new = {
            "csrf_token": csrf,
            "id": "commercial-bcbs",
            "name": "Blue Cross (example)",
            "kind": "commercial",
            "x12_payer_id": "BCBS1",
            "claim_filing_indicator": "BL",
            "copy_rules_from": "commercial-aetna",
        }
        added = await http.post("/admin/payers", data=new)
        assert added.status_code == 200
        assert "Payer commercial-bcbs added" in text(added)
        assert "Blue Cross (example)" in text(added)
        again = await http.post("/admin/payers", data={**new, "id": "Bad Id!"})
        assert again.status_code == 422
        assert "Id: 'bad id!' must be 2 to 40 lowercase letters" in text(again)
        duplicate = await http.post("/admin/payers", data=new)
        assert duplicate.status_code == 422
        assert "a payer 'commercial-bcbs' already exists" in text(duplicate)
    stored = payer(harness.engine, "commercial-bcbs")
    assert stored.claim_filing_indicator == "BL"
    assert stored.rules == payer(harness.engine, "commercial-aetna").rules
    (audit,) = audits(harness.engine, "payer_added")
    assert audit.actor == "alex" and audit.detail["before"] is None
    assert audit.detail["after"]["x12_payer_id"] == "BCBS1"


FEES_V1 = """procedure_code,modifier,allowed,effective_from,effective_to
99213,,80.00,2026-01-01,
99214,25,120.50,2026-01-01,
"""
FEES_V2 = """procedure_code,modifier,allowed,effective_from,effective_to
99213,,85.00,2026-01-01,
99214,25,120.50,2026-01-01,
93000,,31.25,2026-07-01,
"""
FEES_BAD = """procedure_code,modifier,allowed,effective_from,effective_to
71046,,44.00,2026-01-01,
99215,,abc,2026-01-01,
"""


async def confirm(http: httpx.AsyncClient, preview: httpx.Response) -> httpx.Response:
    """Press the preview's Confirm button: nothing of an upload is applied before."""
    assert "not applied yet" in text(preview)
    action = preview.text.split('id="fee-confirm"', 1)[1].split('action="', 1)[1].split('"', 1)[0]
    return await http.post(action, data=form_values(preview.text, "fee-confirm"))


def rates(engine: Engine) -> dict[str, Decimal]:
    with Session(engine) as session:
        rows = session.exec(select(FeeSchedule).where(FeeSchedule.payer_id == "commercial-uhc"))
        return {f"{r.procedure_code}{r.modifier}": r.allowed for r in rows}


async def test_fee_schedule_upload_shows_changes_and_a_bad_file_imports_nothing(
    harness: Harness, web: str
) -> None:
    url = "/admin/payers/commercial-uhc/fees"
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "alex")
        first = await http.post(
            url, files={"file": ("uhc-2026.csv", FEES_V1.encode())}, data={"csrf_token": csrf}
        )
        assert first.status_code == 200
        assert rates(harness.engine) == {}  # a preview only
        first = await confirm(http, first)
        assert "2 added, 0 changed, 0 unchanged" in text(first)

        second = await http.post(
            url, files={"file": ("uhc-2026b.csv", FEES_V2.encode())}, data={"csrf_token": csrf}
        )
        assert second.status_code == 200
        second = await confirm(http, second)
        page = text(second)
        assert "1 added, 1 changed, 1 unchanged" in page
        assert "99213 from 2026-01-01: 80.00 -> 85.00" in page
        assert "120.50" in page and "31.25" in page  # the current rates listed

        bad = await http.post(
            url, files={"file": ("bad.csv", FEES_BAD.encode())}, data={"csrf_token": csrf}
        )
        assert bad.status_code == 422
        assert "bad.csv: line 3: allowed 'abc' is not an amount" in text(bad)
        assert "Nothing was imported" in text(bad)

        listing = await http.get(url, params={"code": "992"})
        assert "99213" in listing.text and "93000" not in listing.text

    # Line 2 of the bad file was fine, but nothing of a bad file is kept.
    assert rates(harness.engine) == {
        "99213": Decimal("85.00"),
        "9921425": Decimal("120.50"),
        "93000": Decimal("31.25"),
    }
    imports = audits(harness.engine, "fee_schedule_imported")
    assert [(e.detail["added"], e.detail["changed"], e.detail["unchanged"]) for e in imports] == [
        (2, 0, 0),
        (1, 1, 1),
    ]
    assert imports[1].detail["before"] == {"99213@2026-01-01": "80.00"}
    assert imports[1].detail["after"]["99213@2026-01-01"] == "85.00"
    assert all(e.actor == "alex" for e in imports)


async def test_queues_and_membership(harness: Harness, web: str) -> None:
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "alex")
        added = await http.post(
            "/admin/queues",
            data={
                "csrf_token": csrf,
                "name": "west",
                "title": "West region",
                "supervisor": "casey",
            },
        )
        assert added.status_code == 200 and "Queue west added." in text(added)
        bad = await http.post("/admin/queues", data={"csrf_token": csrf, "name": "x", "title": ""})
        assert bad.status_code == 422
        assert "Title: required" in text(bad) and "Name: 'x' must be 2 to 60" in text(bad)

        joined = await http.post(
            "/admin/queues/west/members",
            data={"csrf_token": csrf, "username": "riley"},
            headers={"HX-Request": "true"},
        )
        # Under HTMX only the queue's own block comes back.
        assert joined.status_code == 200 and joined.text.lstrip().startswith("<section")
        assert "riley added to west." in text(joined)
        left = await http.post("/admin/queues/west/members/riley/remove", data={"csrf_token": csrf})
        assert left.status_code == 200 and "riley removed from west." in text(left)
        nobody = await http.post(
            "/admin/queues/west/members", data={"csrf_token": csrf, "username": "ghost"}
        )
        assert nobody.status_code == 422 and "'ghost' is not one" in text(nobody)

    with Session(harness.engine) as session:
        assert session.get(QueueMembership, ("west", "riley")) is None
    (joined_audit,) = audits(harness.engine, "queue_member_added")
    assert joined_audit.detail["before"] == [] and joined_audit.detail["after"] == ["riley"]
    (left_audit,) = audits(harness.engine, "queue_member_removed")
    assert left_audit.detail["before"] == ["riley"] and left_audit.detail["after"] == []


async def test_a_created_user_signs_in_and_deactivation_stops_them(
    harness: Harness, web: str
) -> None:
    password = "first-day-password"
    async with httpx.AsyncClient(base_url=web) as admin:
        csrf = await sign_in(admin, "alex")
        created = await admin.post(
            "/admin/users",
            data={
                "csrf_token": csrf,
                "username": "Pat",
                "full_name": "Pat Lee",
                "role": "specialist",
                "password": password,
            },
        )
        assert created.status_code == 200
        assert "User pat created as specialist" in text(created)
        assert password not in created.text
        taken = await admin.post(
            "/admin/users",
            data={
                "csrf_token": csrf,
                "username": "pat",
                "full_name": "Pat Again",
                "role": "boss",
                "password": "short",
            },
        )
        assert taken.status_code == 422
        page = text(taken)
        assert "Username: 'pat' is taken" in page
        assert "Role: 'boss' is not one of specialist, supervisor, admin" in page
        assert "Initial password: at least 8 characters" in page

        async with httpx.AsyncClient(base_url=web) as pat:
            await sign_in(pat, "pat", password)
            assert (await pat.get("/status")).status_code == 403  # a specialist, as created

            promoted = await admin.post(
                "/admin/users/pat/role", data={"csrf_token": csrf, "role": "supervisor"}
            )
            assert promoted.status_code == 200 and "pat is now supervisor." in text(promoted)
            assert (await pat.get("/status")).status_code == 200

            off = await admin.post(
                "/admin/users/pat/deactivate",
                data={"csrf_token": csrf},
                headers={"HX-Request": "true"},
            )
            assert off.status_code == 200
            assert off.text.lstrip().startswith("<tbody") and "pat deactivated" in text(off)
            # Signed out at once, and cannot sign in again.
            kicked = await pat.get("/status")
            assert kicked.status_code == 303 and kicked.headers["location"].startswith("/login")
            refused = await try_sign_in(pat, "pat", password)
            assert refused.status_code != 303
            assert "Wrong username or password." in refused.text

        yourself = await admin.post("/admin/users/alex/deactivate", data={"csrf_token": csrf})
        assert yourself.status_code == 422 and "You cannot deactivate yourself" in text(yourself)
        back = await admin.post("/admin/users/pat/activate", data={"csrf_token": csrf})
        assert back.status_code == 200 and "pat can sign in again." in text(back)
    async with httpx.AsyncClient(base_url=web) as pat:
        await sign_in(pat, "pat", password)

    (created_audit,) = audits(harness.engine, "user_created")
    assert created_audit.actor == "alex" and created_audit.detail["before"] is None
    assert created_audit.detail["after"]["role"] == "specialist"
    (role_audit,) = audits(harness.engine, "user_role_changed")
    assert role_audit.detail == {
        "user": "pat",
        "before": {"role": "specialist"},
        "after": {"role": "supervisor"},
    }
    (off_audit,) = audits(harness.engine, "user_deactivated")
    assert off_audit.detail["before"] == {"active": True}
    assert off_audit.detail["after"] == {"active": False}
    with Session(harness.engine) as session:
        everything = json.dumps([e.detail for e in session.exec(select(AuditEvent))])
    assert (
        password not in everything and user(harness.engine, "pat").password_hash not in everything
    )


async def test_unlock_after_five_wrong_passwords_and_password_reset(
    harness: Harness, web: str
) -> None:
    async with httpx.AsyncClient(base_url=web) as riley:
        for _ in range(5):
            wrong = await try_sign_in(riley, "riley", "nope")
            assert wrong.status_code != 303 and "Wrong username or password." in wrong.text
        locked = await try_sign_in(riley, "riley", "demo")  # the right password, too late
        assert locked.status_code != 303 and "locked until" in locked.text

    async with httpx.AsyncClient(base_url=web) as admin:
        csrf = await sign_in(admin, "alex")
        listing = await admin.get("/admin/users")
        assert "locked until" in listing.text
        unlocked = await admin.post(
            "/admin/users/riley/unlock", data={"csrf_token": csrf}, headers={"HX-Request": "true"}
        )
        assert unlocked.status_code == 200 and "riley can sign in now." in text(unlocked)
        assert "locked until" not in unlocked.text

        async with httpx.AsyncClient(base_url=web) as riley:
            await sign_in(riley, "riley")

            short = await admin.post(
                "/admin/users/riley/password", data={"csrf_token": csrf, "password": "x"}
            )
            assert short.status_code == 422 and "New password: 8 to 200 characters" in text(short)
            reset = await admin.post(
                "/admin/users/riley/password",
                data={"csrf_token": csrf, "password": "a-brand-new-one"},
            )
            assert reset.status_code == 200 and "Password reset for riley" in text(reset)
            # The session opened with the old password is over.
            assert (await riley.get("/status")).status_code == 303
        async with httpx.AsyncClient(base_url=web) as riley:
            await sign_in(riley, "riley", "a-brand-new-one")

    (unlock_audit,) = audits(harness.engine, "user_unlocked")
    assert unlock_audit.actor == "alex"
    assert unlock_audit.detail["before"]["locked_until"] is not None
    assert unlock_audit.detail["after"]["locked_until"] is None
    (reset_audit,) = audits(harness.engine, "user_password_reset")
    assert "a-brand-new-one" not in json.dumps(reset_audit.detail)
    assert "password_hash" not in json.dumps(reset_audit.detail)


async def test_an_issued_api_token_is_shown_once_and_works_as_bearer(
    harness: Harness, web: str
) -> None:
    async with httpx.AsyncClient(base_url=web) as admin:
        csrf = await sign_in(admin, "alex")
        issued = await admin.post(
            "/admin/users/jordan/tokens",
            data={"csrf_token": csrf, "name": "clearinghouse sync"},
            headers={"HX-Request": "true"},
        )
        assert issued.status_code == 200
        assert issued.headers["cache-control"] == "no-store"
        token = issued.text.split('class="token" readonly value="', 1)[1].split('"', 1)[0]
        assert token.startswith("dft_")
        later = await admin.get("/admin/users")
        assert token not in later.text and "clearinghouse sync" in later.text

    with Session(harness.engine) as session:
        owner = user_for_api_token(session, token)
        assert owner is not None and owner.username == "jordan"

    async with httpx.AsyncClient(base_url=web) as bot:
        bearer = {"Authorization": f"Bearer {token}"}
        # Signed in by the token alone, with jordan's role (a specialist: not allowed here).
        assert (await bot.get("/status", headers=bearer)).status_code == 403
        assert (await bot.get("/status")).status_code == 303
        schema = (await bot.get("/openapi.json")).json()
        plain_api_gets = [
            path
            for path, ops in schema["paths"].items()
            if path.startswith("/api/") and "{" not in path and "get" in ops
        ]
        if plain_api_gets:  # once the JSON API exists, the token signs its caller in
            answer = await bot.get(plain_api_gets[0], headers=bearer)
            assert answer.status_code != 401, answer.text
            assert (await bot.get(plain_api_gets[0])).status_code == 401

    async with httpx.AsyncClient(base_url=web) as admin:
        csrf = await sign_in(admin, "alex")
        page = await admin.get("/admin/users")
        token_id = page.text.split('name="token_id" value="', 1)[1].split('"', 1)[0]
        revoked = await admin.post(
            "/admin/users/jordan/tokens/revoke", data={"csrf_token": csrf, "token_id": token_id}
        )
        assert revoked.status_code == 200 and "revoked" in text(revoked)
    with Session(harness.engine) as session:
        assert user_for_api_token(session, token) is None

    (issued_audit,) = audits(harness.engine, "user_api_token_issued")
    assert issued_audit.actor == "alex"
    assert issued_audit.detail["before"] == {"active_tokens": 0}
    assert issued_audit.detail["after"] == {"active_tokens": 1}
    with Session(harness.engine) as session:
        assert token not in json.dumps([e.detail for e in session.exec(select(AuditEvent))])
