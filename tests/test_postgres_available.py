"""CI must really test against PostgreSQL.

The PostgreSQL variants of the database tests skip when TEST_DATABASE_URL is unset, which is
right on a laptop and wrong in CI: a broken `make test` would turn half the suite into quiet
skips. This test fails in CI unless the server that `make test` starts answers.
"""

from __future__ import annotations

import os

import pytest
from sqlalchemy import create_engine, text

from denialflow.models.db import normalize_url

URL = os.environ.get("TEST_DATABASE_URL", "")


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def test_postgres_server_answers() -> None:
    if not URL:
        if _in_ci():
            pytest.fail("CI is set but TEST_DATABASE_URL is not: run the suite with `make test`")
        pytest.skip("TEST_DATABASE_URL not set (make test starts a PostgreSQL server)")
    engine = create_engine(normalize_url(URL), pool_pre_ping=True)
    try:
        with engine.connect() as conn:
            version = conn.execute(text("select version()")).scalar_one()
    finally:
        engine.dispose()
    assert "PostgreSQL" in version
