"""999 (005010X231A1) implementation acknowledgement: was each transaction set accepted?"""

from __future__ import annotations

from pydantic import BaseModel, Field

from denialflow.edi.segments import Seg, walk
from denialflow.edi.tokenizer import Transaction

# IK501/AK901: A accepted, E accepted with errors; M, P, R, W, X reject.
ACCEPTING_CODES = frozenset({"A", "E"})


class ElementError(BaseModel):
    position: str  # IK401-1
    component_position: str = ""  # IK401-2
    repetition: str = ""  # IK401-3
    reference_number: str = ""  # IK402, the data element dictionary number
    code: str  # IK403, implementation element syntax error code
    bad_value: str = ""  # IK404


class SegmentError(BaseModel):
    segment_id: str  # IK301
    position: str  # IK302, position within the acknowledged transaction set
    loop_id: str = ""  # IK303
    code: str = ""  # IK304, implementation segment syntax error code
    element_errors: list[ElementError] = Field(default_factory=list)


class TransactionSetAck(BaseModel):
    set_id: str  # AK201
    control_number: str  # AK202
    version: str = ""  # AK203
    status: str = ""  # IK501
    error_codes: list[str] = Field(default_factory=list)  # IK502..IK506
    segment_errors: list[SegmentError] = Field(default_factory=list)

    @property
    def accepted(self) -> bool:
        return self.status in ACCEPTING_CODES


class Ack999(BaseModel):
    control_number: str
    functional_id: str = ""  # AK101, e.g. HC for 837
    group_control_number: str = ""  # AK102
    group_version: str = ""  # AK103
    status: str = ""  # AK901
    included: int = 0  # AK902
    received: int = 0  # AK903
    accepted_count: int = 0  # AK904
    error_codes: list[str] = Field(default_factory=list)  # AK905..AK909
    transaction_sets: list[TransactionSetAck] = Field(default_factory=list)

    @property
    def accepted(self) -> bool:
        return self.status in ACCEPTING_CODES


def parse_999(tx: Transaction) -> Ack999:
    ack = Ack999(control_number=tx.control_number)
    current: TransactionSetAck | None = None
    for seg in walk(tx):
        sid = seg.id
        if sid == "AK1":
            ack.functional_id, ack.group_control_number, ack.group_version = seg[1], seg[2], seg[3]
        elif sid == "AK2":
            current = TransactionSetAck(set_id=seg[1], control_number=seg[2], version=seg[3])
            ack.transaction_sets.append(current)
        elif sid == "IK3":
            _set(current, seg).segment_errors.append(
                SegmentError(segment_id=seg[1], position=seg[2], loop_id=seg[3], code=seg[4])
            )
        elif sid == "IK4":
            errors = _set(current, seg).segment_errors
            if not errors:
                raise seg.error("IK4 without a preceding IK3")
            parts = seg.parts(1) + ["", "", ""]
            errors[-1].element_errors.append(
                ElementError(
                    position=parts[0],
                    component_position=parts[1],
                    repetition=parts[2],
                    reference_number=seg[2],
                    code=seg[3],
                    bad_value=seg[4],
                )
            )
        elif sid == "IK5":
            target = _set(current, seg)
            target.status = seg[1]
            target.error_codes = [seg[i] for i in range(2, 7) if seg[i]]
        elif sid == "AK9":
            ack.status = seg[1]
            ack.included, ack.received, ack.accepted_count = (_count(seg, i) for i in (2, 3, 4))
            ack.error_codes = [seg[i] for i in range(5, 10) if seg[i]]
    return ack


def _set(current: TransactionSetAck | None, seg: Seg) -> TransactionSetAck:
    if current is None:
        raise seg.error(f"{seg.id} before any AK2")
    return current


def _count(seg: Seg, i: int) -> int:
    number = seg.integer(i)
    return number if number is not None else 0
