"""Posting tests run real files through real workflows on the time-skipping server."""

from __future__ import annotations

import pytest

from denialflow.posting.ingest import IngestContext
from denialflow.settings import Settings
from tests.workflows.conftest import Harness, harness  # noqa: F401  (fixture)


@pytest.fixture
def ctx(harness: Harness, tmp_path) -> IngestContext:  # noqa: F811  # type: ignore[no-untyped-def]
    # The same var/ as the harness's worker, so both write one outbound folder.
    settings = Settings(
        DENIALFLOW_TASK_QUEUE=harness.task_queue, DENIALFLOW_VAR_DIR=str(tmp_path / "var")
    )
    return IngestContext(harness.client, harness.engine, settings)
