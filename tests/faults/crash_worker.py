"""A real worker process whose database writer dies once at the worst moment: right
after its transaction commits and before Temporal hears the step finished.

Run as a script by the fault tests: `python tests/faults/crash_worker.py MARKER`. The
marker file makes it crash once; a worker started after that runs normally. The
switch lives here, not in the product: this worker registers its own activity under
the projection's name.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from temporalio import activity  # noqa: E402

from denialflow.activities.projection import ProjectionActivities  # noqa: E402
from denialflow.models.db import get_engine  # noqa: E402
from denialflow.settings import get_settings  # noqa: E402
from denialflow.worker import run_worker  # noqa: E402
from denialflow.workflows import claim_contract as contract  # noqa: E402

CRASH_EXIT = 17


class CrashAfterCommit(ProjectionActivities):
    def __init__(self, engine, marker: Path, after: int) -> None:  # noqa: ANN001
        super().__init__(engine)
        self.marker = marker
        self.after = after
        self.written = 0

    @activity.defn(name=contract.ACTIVITY_PROJECT_CLAIM)
    def project_claim(self, projection: contract.Projection) -> None:
        ProjectionActivities.project_claim(self, projection)
        self.written += 1
        if self.written >= self.after and not self.marker.exists():
            self.marker.write_text("crashed once\n")
            os._exit(CRASH_EXIT)


def main() -> None:
    marker = Path(sys.argv[1])
    after = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    settings = get_settings()
    engine = get_engine(settings.effective_database_url)
    asyncio.run(run_worker(settings, engine, projection=CrashAfterCommit(engine, marker, after)))


if __name__ == "__main__":
    main()
