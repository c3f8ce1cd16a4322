"""`python -m bench [NAME] [options]`: run one benchmark.

Without NAME, or with `engine`, the engine benchmark (bench/engine.py). Any other
NAME runs the `main(argv)` of the module bench/NAME.py (e.g. `python -m bench web`),
so each benchmark keeps its own options: `python -m bench NAME --help`.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
NOT_BENCHMARKS = {"__init__", "__main__", "procs", "report_data", "worker", "workflows"}


def benchmarks() -> list[str]:
    return sorted(p.stem for p in HERE.glob("*.py") if p.stem not in NOT_BENCHMARKS)


def main(argv: list[str]) -> int:
    name, rest = "engine", argv
    if argv and not argv[0].startswith("-"):
        name, rest = argv[0], argv[1:]
        if name not in benchmarks():
            print(f"unknown benchmark {name!r}; have: {', '.join(benchmarks())}", file=sys.stderr)
            return 2
    module = importlib.import_module(f"bench.{name}")
    return module.main(rest) or 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
