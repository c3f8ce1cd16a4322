"""API claim intake refuses malformed fields with a 422 naming the field; nothing is
recorded."""

from __future__ import annotations

import httpx
import pytest

from tests.web.test_api import claim_body, claim_exists, create, token_for
from tests.workflows.conftest import Harness

BAD_FIELDS = [
    ("patient_name", "X" * 100_000, ["body", "patient_name"]),
    ("patient_name", "DOE\x00JANE", ["body", "patient_name"]),
    ("member_id", "", ["body", "member_id"]),
    ("member_id", 12345, ["body", "member_id"]),
    ("submitted_on", "9999-12-31", ["body", "submitted_on"]),
    ("diagnoses", ["J" * 500], ["body", "diagnoses", 0]),
]


@pytest.mark.parametrize(("field", "value", "loc"), BAD_FIELDS)
async def test_a_bad_field_is_a_422_naming_it_and_nothing_is_recorded(
    harness: Harness, web: str, field: str, value: object, loc: list
) -> None:
    casey = token_for(harness, "casey")
    async with httpx.AsyncClient(base_url=web) as http:
        answer = await create(
            http, harness, await claim_body(harness, "BAD-1", **{field: value}), casey
        )
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["loc"] == loc
    assert not claim_exists(harness, "BAD-1")
