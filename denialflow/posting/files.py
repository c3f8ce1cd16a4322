"""Files in and out: `denialflow ingest FILE...` and the inbound clearinghouse folder.

The inbound folder is watched by the worker: each file is claimed by an atomic rename
into processing/ (so two workers never take the same file), then moved to processed/
or to failed/ with a report beside it saying what was wrong, whatever went wrong: a file
never stays in processing/ (a pass cut short by shutdown puts it back in inbound/).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import Session, select

from denialflow.models.tables import IngestedFile
from denialflow.posting.ingest import IngestContext, IngestReport, ingest_bytes, safe_traceback

log = logging.getLogger(__name__)


async def ingest_path(path: Path, ctx: IngestContext) -> IngestReport:
    try:
        data = path.read_bytes()
    except OSError as err:
        return IngestReport(file=path.name, status="rejected", errors=[f"{path}: {err.strerror}"])
    return await take_in(data, path.name, ctx)


async def take_in(data: bytes, name: str, ctx: IngestContext) -> IngestReport:
    """`ingest_bytes`, with an unexpected failure (a bug, the database or Temporal
    going away) turned into a "failed" report instead of raised."""
    try:
        return await ingest_bytes(data, name, ctx)
    except Exception as err:  # noqa: BLE001 - every file must end with a report
        return internal_error_report(data, name, ctx, err)


def internal_error_report(
    data: bytes, name: str, ctx: IngestContext, err: Exception
) -> IngestReport:
    """A report for a file whose intake raised: logged by type and frames only (the
    message may quote the file, and so PHI), and saying whether anything was recorded.
    A file is written in one transaction, so either nothing was or the whole plan was
    and only telling workflows was cut short; taking the file in again finishes that."""
    log.error("%s: internal error while taking the file in: %s", name, safe_traceback(err))
    kind = type(err).__name__
    try:
        with Session(ctx.engine) as session:
            sha = hashlib.sha256(data).hexdigest()
            recorded = session.exec(
                select(IngestedFile.id).where(IngestedFile.sha256 == sha)
            ).first()
    except Exception:  # noqa: BLE001 - the database may be what failed
        what = (
            "could not check whether anything was recorded; taking the file in again "
            "is safe (nothing is posted twice)"
        )
    else:
        if recorded is None:
            what = "nothing was posted; the file can be taken in again once this is fixed"
        else:
            what = (
                "the file was recorded but not every claim was told; taking it in again "
                "finishes it without posting anything twice"
            )
    return IngestReport(
        file=name,
        status="failed",
        errors=[f"{name}: an internal error happened ({kind}); {what}. Details are in the log."],
    )


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
        try:
            report = await ingest_path(claimed, ctx)
        except BaseException:
            # Cancelled (shutdown) mid-file: back to inbound/ for the next pass, which
            # resumes it; left in processing/ it would never be looked at again.
            os.replace(claimed, path)
            raise
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
