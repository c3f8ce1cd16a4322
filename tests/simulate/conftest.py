"""Helpers for the simulator's tests: run a scenario file, pick events out of its timeline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from denialflow.simulation import load_scenario, run_scenario

HERE = Path(__file__).parent
SCENARIOS = HERE / "scenarios"
ERRORS = SCENARIOS / "errors"
EXAMPLES = HERE.parent.parent / "examples" / "scenarios"

Timeline = list[dict[str, Any]]


async def simulate_file(path: Path) -> Timeline:
    """The timeline `denialflow simulate` prints for the file, as dicts.

    In-process on the test session's event loop (simulate_main would start its own
    with asyncio.run); the CLI itself is exercised by a subprocess test."""
    return await run_scenario(load_scenario(str(path)))


def pick(timeline: Timeline, event: str | None = None, **fields: Any) -> Timeline:
    return [
        line
        for line in timeline
        if (event is None or line["event"] == event)
        and all(line.get(k) == v for k, v in fields.items())
    ]


def one(timeline: Timeline, event: str, **fields: Any) -> dict[str, Any]:
    found = pick(timeline, event, **fields)
    assert len(found) == 1, f"expected one {event} {fields}, got {found}"
    return found[0]
