"""Files in and out: `denialflow ingest FILE...` and the inbound clearinghouse folder.

The inbound folder is watched by the worker: each file is claimed by an atomic rename
into processing/ (so two workers never take the same file), then moved to processed/
or to failed/ with a report beside it saying what was wrong.
"""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import UTC, datetime
from pathlib import Path

from denialflow.posting.ingest import IngestContext, IngestReport, ingest_bytes

log = logging.getLogger(__name__)


async def ingest_path(path: Path, ctx: IngestContext) -> IngestReport:
    try:
        data = path.read_bytes()
    except OSError as err:
        return IngestReport(file=path.name, status="rejected", errors=[f"{path}: {err.strerror}"])
    return await ingest_bytes(data, path.name, ctx)


def _unique(target: Path) -> Path:
    if not target.exists():
        return target
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    return target.with_name(f"{target.stem}.{stamp}{target.suffix}")


async def process_inbound(inbound: Path, ctx: IngestContext) -> list[IngestReport]:
    """Take in every file waiting in `inbound`; returns their reports."""
    for sub in ("processing", "processed", "failed"):
        (inbound / sub).mkdir(parents=True, exist_ok=True)
    reports = []
    for path in sorted(p for p in inbound.iterdir() if p.is_file() and not p.name.startswith(".")):
        claimed = inbound / "processing" / path.name
        try:
            os.rename(path, claimed)
        except FileNotFoundError:
            continue  # another worker took it
        report = await ingest_path(claimed, ctx)
        reports.append(report)
        if report.ok:
            os.replace(claimed, _unique(inbound / "processed" / path.name))
        else:
            target = _unique(inbound / "failed" / path.name)
            os.replace(claimed, target)
            target.with_name(target.name + ".report.txt").write_text(report.describe() + "\n")
        # File names and counts only: the report text of a failed file may quote PHI.
        log.info("inbound %s: %s", path.name, report.status)
    return reports


async def watch_inbound(inbound: Path, ctx: IngestContext, every_seconds: float) -> None:
    while True:
        try:
            await process_inbound(inbound, ctx)
        except Exception as err:  # noqa: BLE001 - a bad moment must not stop the watcher
            # The type only: messages and tracebacks of posting errors can quote PHI.
            log.error("inbound folder pass failed (%s); retrying", type(err).__name__)
        await asyncio.sleep(every_seconds)
