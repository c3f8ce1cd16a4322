"""The 276 status inquiry for a silent payer, written once per follow-up item."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from denialflow.domain.types import ClaimIn
from denialflow.edi.outbound import Party
from denialflow.edi.x276_writer import StatusRequestBatch, inquiry_for, inquiry_problems, write_276
from denialflow.models.tables import Payer
from denialflow.outbound.x12_files import billing_provider, claim_out, interchange_settings
from denialflow.settings import Settings


class CannotWrite276(ValueError):
    """The claim lacks what a 276 needs; the message says what, for the timeline."""


def status_inquiry_path(settings: Settings, item_id: str) -> Path:
    """Where the 276 for a follow-up item goes: named after the item, so asking again
    finds it written and sends nothing twice."""
    return settings.outbound / f"276-{item_id.replace(':', '-')}.x12"


def write_status_inquiry(
    settings: Settings,
    item_id: str,
    claim: ClaimIn,
    payer: Payer,
    payer_claim_control_number: str | None,
) -> Path:
    """Write the 276 for a follow-up item; raises CannotWrite276 saying what is missing."""
    path = status_inquiry_path(settings, item_id)
    folder = path.parent
    safe_item = item_id.replace(":", "-")
    try:
        inquiry = inquiry_for(
            claim_out(claim, payer),
            billing_provider(settings),
            trace_number=safe_item[-50:],
            payer_claim_control_number=payer_claim_control_number or None,
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
