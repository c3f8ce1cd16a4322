"""`denialflow simulate SCENARIO.yaml`: real claims and events through the real claim
workflows on Temporal's time-skipping test server, printed as a timeline.

A supervisor checks a payer rule before trusting it; a test crosses a year in
seconds. The scenario may lie in the past (replaying last year's claims under a new
rule is the point): the workflows get a fixed clock offset, so weekends, holidays
and deadlines follow the scenario's calendar.

Output: one JSON object per line, in time order:

    {"at": "2025-04-02T00:00:00Z", "claim": "C1", "event": "work_item_opened",
     "item": "C1:1", "kind": "follow_up", "queue": "follow-up", "due": "2025-04-09T00:00:00Z"}

`at` is UTC in the scenario's time, to the minute; `claim`, `event`, then the
event's own fields (empty ones left out). Ties are broken by claim id, then by the
order the claim's workflow recorded them. An action or remittance the workflow
refuses is not fatal: it prints as `action_refused` (or `remit_refused`) with the
workflow's message, and the run goes on.

Exit status: 0 when the scenario ran, 2 for a mistake in the scenario (one line on
stderr naming the line and field), 1 when the run itself failed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from typing import Any, TextIO

__all__ = ["simulate", "simulate_main"]


def simulate(path: str) -> list[dict[str, Any]]:
    """Run a scenario file and return its timeline; raises ScenarioError or SimulationError."""
    from denialflow.simulation import load_scenario, run_scenario

    scenario = load_scenario(path)
    return asyncio.run(run_scenario(scenario))


def simulate_main(path: str, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    # Migrating the private database logs every step at INFO; the timeline is the output.
    # (Set before alembic is first imported: it logs its plugins then.)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    from denialflow.simulation import ScenarioError, SimulationError

    try:
        timeline = simulate(path)
    except ScenarioError as problem:
        print(str(problem), file=err)
        return 2
    except SimulationError as problem:
        print(f"{path}: the simulation stopped: {problem}", file=err)
        return 1
    try:
        for line in timeline:
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
        out.flush()
    except BrokenPipeError:
        # `denialflow simulate x.yaml | head`: the reader has all it wanted.
        if out is sys.stdout:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0
