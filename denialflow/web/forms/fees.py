"""The fee schedule upload: one CSV file of a payer's rates."""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi import UploadFile

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
    return FeeUpload(name, data)
