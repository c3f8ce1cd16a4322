"""Route each transaction set to the parser for its type."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from denialflow.edi.tokenizer import Transaction, X12Document, read_x12
from denialflow.edi.x270 import EligibilityRequest, parse_270
from denialflow.edi.x271 import EligibilityResponse, parse_271
from denialflow.edi.x277 import StatusReport, parse_277
from denialflow.edi.x835 import Remittance, parse_835
from denialflow.edi.x837 import ClaimBatch, parse_837, variant
from denialflow.edi.x999 import Ack999, parse_999


class UnknownTransaction(BaseModel):
    """A transaction set this layer does not read (e.g. 276, 837D), or a 270/271
    when the caller did not ask for eligibility."""

    type: str
    control_number: str


Parsed = (
    Remittance
    | StatusReport
    | Ack999
    | ClaimBatch
    | EligibilityRequest
    | EligibilityResponse
    | UnknownTransaction
)


def parse_transaction(tx: Transaction, *, eligibility: bool = False) -> Parsed:
    """The transaction set, read. 270/271 are read only with eligibility=True:
    posting has no use for them yet, and it refuses an UnknownTransaction by
    name, which is the right answer for an eligibility file dropped into the
    inbound folder until something takes them in."""
    if eligibility and tx.set_id == "270":
        return parse_270(tx)
    if eligibility and tx.set_id == "271":
        return parse_271(tx)
    if tx.set_id == "835":
        return parse_835(tx)
    if tx.set_id == "277":
        return parse_277(tx)
    if tx.set_id == "999":
        return parse_999(tx)
    if tx.set_id == "837" and variant(tx) in ("P", "I"):
        return parse_837(tx)
    return UnknownTransaction(type=tx.set_id, control_number=tx.control_number)


def parse_document(doc: X12Document, *, eligibility: bool = False) -> list[Parsed]:
    return [parse_transaction(tx, eligibility=eligibility) for tx in doc.transactions]


def parse_file(path: str | Path, *, strict: bool = True, eligibility: bool = False) -> list[Parsed]:
    """Every transaction set of a file, parsed. Raises X12Error on malformed input."""
    return parse_document(read_x12(path, strict=strict), eligibility=eligibility)
