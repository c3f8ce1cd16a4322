"""The 276 status inquiry for a silent payer, written once per follow-up item."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session

from denialflow.edi.outbound import Party
from denialflow.edi.x276_writer import StatusRequestBatch, inquiry_for, inquiry_problems, write_276
from denialflow.outbound.x12_files import billing_provider, claim_out, interchange_settings
from denialflow.settings import Settings
from denialflow.store.claims import claim_from_db


class CannotWrite276(ValueError):
    """The claim lacks what a 276 needs; the message says what, for the timeline."""


def write_status_inquiry(engine: Engine, settings: Settings, claim_id: str, item_id: str) -> Path:
    """Write the 276 for a follow-up item. The file is named after the item, so asking
    again finds it written and sends nothing twice. Returns the file's path."""
    folder = settings.outbound
    safe_item = item_id.replace(":", "-")
    path = folder / f"276-{safe_item}.x12"
    if path.exists():
        return path
    with Session(engine) as session:
        claim_in, payer, claim = claim_from_db(session, claim_id)
    try:
        inquiry = inquiry_for(
            claim_out(claim_in, payer),
            billing_provider(settings),
            trace_number=safe_item[-50:],
            payer_claim_control_number=claim.payer_claim_control_number or None,
        )
    except ValueError as err:
        raise CannotWrite276(str(err)) from None
    problems = inquiry_problems(inquiry)
    if problems:
        raise CannotWrite276("; ".join(problems))
    control = int(datetime.now(UTC).timestamp()) % 999_999_999 + 1
    text = write_276(
        StatusRequestBatch(
            interchange=interchange_settings(settings, control),
            information_receiver=Party(name=settings.practice_name[:60], id=settings.submitter_id),
            inquiries=[inquiry],
        )
    )
    folder.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return path
