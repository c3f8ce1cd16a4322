"""The fee schedule forms: one CSV file of a payer's rates, one rate typed in, and the
date a rate ends."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from fastapi import UploadFile

from denialflow.models.tables import FeeSchedule
from denialflow.posting.fees import FeeRow, check_date, check_fee_row
from denialflow.web.forms.common import FieldErrors

# A fee schedule is a few thousand rows; anything far bigger is the wrong file.
MAX_FEE_UPLOAD_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class FeeUpload:
    # Safe to show and to name a file with; empty when no file came.
    name: str
    data: bytes
    error: str = ""


async def read_fee_upload(file: UploadFile | None) -> FeeUpload:
    if file is None or not file.filename:
        return FeeUpload("", b"", "Choose a CSV file to import.")
    # Only the last path part: browsers on some systems send the whole client path.
    name = re.sub(r"[^A-Za-z0-9._ -]", "_", file.filename.replace("\\", "/").rsplit("/", 1)[-1])
    data = await file.read(MAX_FEE_UPLOAD_BYTES + 1)
    if len(data) > MAX_FEE_UPLOAD_BYTES:
        return FeeUpload(name, b"", f"{name}: larger than 5 MB; nothing was imported.")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return FeeUpload(
            name, b"", f"{name}: not UTF-8 text; save it as CSV (UTF-8) and upload it again."
        )
    return FeeUpload(name, data)


def check_one_rate(values: dict[str, str]) -> tuple[FeeRow | None, FieldErrors]:
    """One rate typed into the form: the same checks as a line of an uploaded file."""
    return check_fee_row(values)


def check_end_date(raw: str, rate: FeeSchedule) -> tuple[date | None, str]:
    """The last day a rate applies: on or after its first day."""
    if not raw.strip():
        return None, "End date: required (the last date of service the rate applies to)"
    end, problem = check_date(raw, "", "end date")
    if problem:
        return None, problem
    assert end is not None
    if end < rate.effective_from:
        return None, f"End date: {end} is before the rate starts, {rate.effective_from}"
    return end, ""
