"""A bad file uploaded through the web app, over real HTTP, is answered 422 with a page
naming file, segment and element, never a 500, and posts nothing. An internal error (a
real database fault) is a 500 page with the report, never a traceback."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal as D
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlmodel import Session, select

from denialflow.edi.samples import build_835, paid_claim
from denialflow.models.tables import IngestedFile, Payment
from tests.web.conftest import sign_in
from tests.workflows.conftest import Harness

DATA = Path(__file__).parent.parent / "data" / "x12"


async def _upload(http: httpx.AsyncClient, csrf: str, name: str, data: bytes) -> httpx.Response:
    return await http.post("/files", files={"file": (name, data)}, data={"csrf_token": csrf})


async def test_bad_numbers_get_a_422_naming_file_segment_and_element(
    harness: Harness, web: str
) -> None:
    await harness.submit("WB-1", charge="100.00", submitted_days_ago=10, service_days_ago=12)
    today = await harness.today()
    era = build_835(
        [paid_claim("WB-1", D("100"), D("70"), today - timedelta(days=12))],
        paid_on=today,
        trace_number="WEB-BAD",
    )
    sample_837 = (DATA / "837P_uhin_minimal_icd10.edi").read_text()
    cases = {
        "amount27.835": (
            era.replace("CLP*WB-1*1*100*", "CLP*WB-1*1*" + "1" * 27 + "*"),
            "amount27.835: segment 14 (CLP): CLP03 has 27 digits",
        ),
        "count5000.835": (
            era.replace("SE*", "SE*" + "9" * 5000 + "*"),
            "(SE): SE01 has 5000 digits",
        ),
        "over.835": (
            era.replace("CLP*WB-1*1*100*", "CLP*WB-1*1*100000000*"),
            "over.835: segment 14 (CLP): CLP03 100000000 is over 99,999,999.99",
        ),
        "claim.837": (
            sample_837.replace("SV1*HC:90834*2*", "SV1*HC:90834*NaN*"),
            "claim.837: segment 24 (SV1): SV102 &#39;NaN&#39; is not a number",
        ),
    }
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "casey")
        for name, (body, message) in cases.items():
            page = await _upload(http, csrf, name, body.encode())
            assert page.status_code == 422, (name, page.status_code)
            assert "REJECTED, nothing posted" in page.text
            assert message in page.text, (name, page.text[-2000:])
            assert "9" * 100 not in page.text and "Traceback" not in page.text
    with Session(harness.engine) as session:
        assert session.exec(select(Payment)).all() == []
        assert session.exec(select(IngestedFile)).all() == []


async def test_mutated_samples_are_never_a_500(harness: Harness, web: str) -> None:
    samples = sorted(p for p in DATA.iterdir() if p.name != "MANIFEST.txt")
    samples = [p.read_bytes() for p in samples if p.stat().st_size < 20_000]
    rng = random.Random(7)
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "casey")
        statuses = set()
        for n in range(25):
            data = bytearray(rng.choice(samples))
            for _ in range(rng.randrange(1, 4)):
                at = rng.randrange(len(data))
                edit = rng.choice([b"9" * 40, b"~", b"*", b"\xff", b"", b"1E+99", b"\x00"])
                data[at : at + rng.randrange(0, 3)] = edit
            page = await _upload(http, csrf, f"mutant{n}.x12", bytes(data))
            statuses.add(page.status_code)
            assert page.status_code in (200, 422), (n, page.status_code)
            assert "Traceback" not in page.text
        page = await _upload(
            http, csrf, "noise.bin", bytes(rng.randrange(256) for _ in range(4000))
        )
        assert page.status_code == 422 and "REJECTED, nothing posted" in page.text
    assert 422 in statuses


async def test_an_internal_error_is_a_page_not_a_traceback(harness: Harness, web: str) -> None:
    await harness.submit("WI-1", charge="100.00", submitted_days_ago=10, service_days_ago=12)
    today = await harness.today()
    era = build_835(
        [paid_claim("WI-1", D("100"), D("70"), today - timedelta(days=12))],
        paid_on=today,
        trace_number="WEB-INT",
    )
    with harness.engine.begin() as db:
        db.execute(
            text(
                "CREATE TRIGGER refuse_intake BEFORE INSERT ON audit_event "
                "WHEN NEW.action = 'file_ingested' "
                "BEGIN SELECT RAISE(ABORT, 'simulated disk failure'); END"
            )
        )
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "casey")
        page = await _upload(http, csrf, "era.835", era.encode())
        assert page.status_code == 500
        assert "era.835: FAILED: internal error" in page.text
        assert "an internal error happened (IntegrityError); nothing was posted" in page.text
        for leak in ("Traceback", "simulated disk failure", "INSERT", "WI-1"):
            assert leak not in page.text, leak
        with harness.engine.begin() as db:
            db.execute(text("DROP TRIGGER refuse_intake"))
        page = await _upload(http, csrf, "era.835", era.encode())
        assert page.status_code == 200 and "1 claim payment posted ($70.00)" in page.text
    await harness.wait_status("WI-1", "paid")
