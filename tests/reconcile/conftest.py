"""The claim-workflow harness of tests/workflows, for checks over real workflows."""

from tests.workflows.conftest import Harness, harness  # noqa: F401
