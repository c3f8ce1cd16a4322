"""The JSON contract of `parse_command`: plain dicts, decimals as strings, ISO dates.

Kept apart from the models so the models can grow without changing the contract.
"""

from __future__ import annotations

from typing import Any

from denialflow.edi.reader import Parsed, UnknownTransaction
from denialflow.edi.x277 import ClaimStatusInfo, ServiceStatus, StatusCode, StatusReport
from denialflow.edi.x835 import Adjustment, ClaimPayment, Remittance, ServicePayment
from denialflow.edi.x837 import ClaimBatch
from denialflow.edi.x999 import Ack999

JSON = dict[str, Any]


def transaction_json(parsed: Parsed) -> JSON:
    if isinstance(parsed, Remittance):
        return remittance_json(parsed)
    if isinstance(parsed, StatusReport):
        return status_report_json(parsed)
    if isinstance(parsed, Ack999):
        return ack_json(parsed)
    if isinstance(parsed, ClaimBatch):
        return {
            "type": parsed.type,
            "control_number": parsed.control_number,
            "claims": [c.model_dump(mode="json") for c in parsed.claims],
            "warnings": parsed.warnings,
        }
    if isinstance(parsed, UnknownTransaction):
        return parsed.model_dump(mode="json")
    raise TypeError(f"no JSON view for {type(parsed).__name__}")


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _iso(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def _adjustments(items: list[Adjustment]) -> list[JSON]:
    return [{"group": a.group, "reason": a.reason, "amount": str(a.amount)} for a in items]


def _service(line: ServicePayment) -> JSON:
    return {
        "procedure": line.procedure.model_dump(mode="json"),
        "charge": str(line.charge),
        "paid": str(line.paid),
        "units": str(line.units),
        "allowed": _text(line.allowed),
        "adjustments": _adjustments(line.adjustments),
        "remarks": list(line.remarks),
    }


def _claim(claim: ClaimPayment) -> JSON:
    return {
        "patient_control_number": claim.patient_control_number,
        "status_code": claim.status_code,
        "charge": str(claim.charge),
        "paid": str(claim.paid),
        "patient_responsibility": str(claim.patient_responsibility),
        "payer_claim_control_number": claim.payer_claim_control_number,
        "adjustments": _adjustments(claim.adjustments),
        "remarks": list(claim.remarks),
        "services": [_service(s) for s in claim.services],
    }


def remittance_json(r: Remittance) -> JSON:
    p = r.payment
    return {
        "type": "835",
        "control_number": r.control_number,
        "payer": {"name": r.payer.name, "id": r.payer.id},
        "payee": {"name": r.payee.name, "npi": r.payee.npi},
        "payment": {
            "amount": str(p.amount),
            "credit_debit": p.credit_debit,
            "method": p.method,
            "date": _iso(p.date),
            "trace_number": p.trace_number,
        },
        "claims": [_claim(c) for c in r.claims],
        "provider_adjustments": [
            {"reason": a.reason, "reference": a.reference, "amount": str(a.amount)}
            for a in r.provider_adjustments
        ],
        "balanced": r.balanced,
        "problems": list(r.problems),
        "warnings": list(r.warnings),
    }


def _statuses(items: list[StatusCode]) -> list[JSON]:
    return [s.model_dump(mode="json") for s in items]


def _status_service(s: ServiceStatus) -> JSON:
    return {
        "procedure": s.procedure.model_dump(mode="json") if s.procedure else None,
        "charge": _text(s.charge),
        "paid": _text(s.paid),
        "statuses": _statuses(s.statuses),
    }


def _status_claim(c: ClaimStatusInfo) -> JSON:
    return {
        "patient_control_number": c.patient_control_number,
        "payer_claim_control_number": c.payer_claim_control_number,
        "trace_number": c.trace_number,
        "statuses": _statuses(c.statuses),
        "rejected": c.rejected,
        "status_date": _iso(c.status_date),
        "charge": _text(c.charge),
        "paid": _text(c.paid),
        "services": [_status_service(s) for s in c.services],
    }


def status_report_json(r: StatusReport) -> JSON:
    return {
        "type": r.type,
        "control_number": r.control_number,
        "claims": [_status_claim(c) for c in r.claims],
        "other_statuses": [
            {"level": s.level, "statuses": _statuses(s.statuses)} for s in r.other_statuses
        ],
        "warnings": list(r.warnings),
    }


def ack_json(a: Ack999) -> JSON:
    return {
        "type": "999",
        "control_number": a.control_number,
        "acknowledged_group": a.group_control_number,
        "status": a.status,
        "accepted": a.accepted,
        "transaction_sets": [
            {
                "set_id": t.set_id,
                "control_number": t.control_number,
                "status": t.status,
                "accepted": t.accepted,
                "error_codes": list(t.error_codes),
                "segment_errors": [e.model_dump(mode="json") for e in t.segment_errors],
            }
            for t in a.transaction_sets
        ],
    }
