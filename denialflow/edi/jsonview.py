"""The JSON contract of `parse_command`: plain dicts, decimals as strings, ISO dates.

Kept apart from the models so the models can grow without changing the contract.
"""

from __future__ import annotations

from typing import Any

from denialflow.edi.coverage import GENERAL, coverage_on
from denialflow.edi.reader import Parsed, UnknownTransaction
from denialflow.edi.x270 import EligibilityRequest, MemberInquiry
from denialflow.edi.x271 import (
    Benefit,
    Code,
    DateFact,
    EligibilityResponse,
    MemberEligibility,
    Rejection,
)
from denialflow.edi.x277 import ClaimStatusInfo, ServiceStatus, StatusCode, StatusReport
from denialflow.edi.x835 import Adjustment, ClaimPayment, Remittance, ServicePayment
from denialflow.edi.x837 import ClaimBatch
from denialflow.edi.x837_cob import (
    Adjudication,
    ClaimCoordination,
    CobAdjustment,
    Coverage,
    LineAdjudication,
)
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
        return claim_batch_json(parsed)
    if isinstance(parsed, EligibilityRequest):
        return eligibility_request_json(parsed)
    if isinstance(parsed, EligibilityResponse):
        return eligibility_response_json(parsed)
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


def _cob_adjustments(items: list[CobAdjustment]) -> list[JSON]:
    return [
        {
            "group": a.group,
            "reason": a.reason,
            "amount": str(a.amount),
            "quantity": _text(a.quantity),
        }
        for a in items
    ]


def _line_adjudication(line: LineAdjudication) -> JSON:
    return {
        "line": line.line,
        "payer_id": line.payer_id,
        "procedure": {
            "qualifier": line.procedure_qualifier,
            "code": line.procedure_code,
            "modifiers": list(line.modifiers),
        },
        "paid": str(line.paid),
        "units": _text(line.units),
        "adjustments": _cob_adjustments(line.adjustments),
        "adjudicated_on": _iso(line.adjudicated_on),
        "remaining_patient_liability": _text(line.remaining_patient_liability),
    }


def _adjudication(a: Adjudication | None) -> JSON | None:
    if a is None:
        return None
    return {
        "paid": _text(a.paid),
        "remaining_patient_liability": _text(a.remaining_patient_liability),
        "noncovered": _text(a.noncovered),
        "adjustments": _cob_adjustments(a.adjustments),
        "adjudicated_on": _iso(a.adjudicated_on),
        "payer_claim_control_number": a.payer_claim_control_number,
        "benefits_assigned": a.benefits_assigned,
        "release_of_information": a.release_of_information,
        "lines": [_line_adjudication(line) for line in a.lines],
    }


def _coverage(c: Coverage) -> JSON:
    return {
        "responsibility": c.responsibility,
        "this_claim": c.this_claim,
        "payer": {"name": c.payer_name, "id": c.payer_id},
        "subscriber": {
            "name": c.subscriber_name,
            "member_id": c.member_id,
            "relationship": c.relationship,
        },
        "group_number": c.group_number,
        "group_name": c.group_name,
        "insurance_type": c.insurance_type,
        "filing_indicator": c.filing_indicator,
        # None for the payer this claim goes to: it has not decided yet.
        "adjudication": _adjudication(c.adjudication),
    }


def _claim_in(claim: JSON, coordination: ClaimCoordination | None) -> JSON:
    if coordination is not None:
        claim["coverages"] = [_coverage(c) for c in coordination.coverages()]
        claim["unmatched_line_adjudications"] = [
            _line_adjudication(line) for line in coordination.unmatched_lines
        ]
    return claim


def claim_batch_json(b: ClaimBatch) -> JSON:
    # A batch built without coordination (older callers) still shows its claims.
    coordination: list[ClaimCoordination | None] = list(b.coordination)
    coordination += [None] * (len(b.claims) - len(coordination))
    return {
        "type": b.type,
        "control_number": b.control_number,
        "claims": [
            _claim_in(c.model_dump(mode="json"), cob)
            for c, cob in zip(b.claims, coordination, strict=False)
        ],
        "warnings": b.warnings,
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


def _code(code: Code | None) -> JSON | None:
    return None if code is None else {"code": code.code, "meaning": code.meaning}


def _dates(items: list[DateFact]) -> list[JSON]:
    return [
        {"qualifier": d.qualifier, "meaning": d.meaning, "start": _iso(d.start), "end": _iso(d.end)}
        for d in items
    ]


def _rejections(items: list[Rejection]) -> list[JSON]:
    return [
        {
            "level": r.level,
            "reason": r.reason,
            "reason_meaning": r.reason_meaning,
            "follow_up": r.follow_up,
            "follow_up_meaning": r.follow_up_meaning,
        }
        for r in items
    ]


def _who(m: MemberInquiry | MemberEligibility) -> JSON:
    """Who a 270 asks about or a 271 answers for: the same fields in both."""
    return {
        "level": m.level,
        "payer": {"name": m.payer_name, "id": m.payer_id},
        "receiver": {"name": m.receiver_name, "id": m.receiver_id},
        "trace_number": m.trace_number,
        "name": m.name,
        "member_id": m.member_id,
        "subscriber_name": m.subscriber_name,
        "birth_date": _iso(m.birth_date),
        "gender": m.gender,
    }


def _inquiry(m: MemberInquiry) -> JSON:
    return {
        **_who(m),
        "dates": _dates(m.dates),
        "service_types": [_code(c) for c in m.service_types],
    }


def eligibility_request_json(r: EligibilityRequest) -> JSON:
    return {
        "type": "270",
        "control_number": r.control_number,
        "reference": r.reference,
        "inquiries": [_inquiry(m) for m in r.inquiries],
        "warnings": list(r.warnings),
    }


def _benefit(b: Benefit) -> JSON:
    return {
        "kind": _code(b.kind),
        "coverage_level": _code(b.coverage_level),
        "service_types": [_code(c) for c in b.service_types],
        "insurance_type": _code(b.insurance_type),
        "plan": b.plan,
        "period": _code(b.period),
        "amount": _text(b.amount),
        "percent": _text(b.percent),
        "quantity_kind": _code(b.quantity_kind),
        "quantity": _text(b.quantity),
        "authorization_required": b.authorization_required,
        "in_network": b.in_network,
        "procedure": b.procedure,
        "dates": _dates(b.dates),
        "messages": list(b.messages),
        "rejections": _rejections(b.rejections),
        "related": [e.model_dump(mode="json") for e in b.related],
    }


def _member(m: MemberEligibility, answered_on: Any) -> JSON:
    coverage = None
    if answered_on is not None:
        # The question a specialist asks first: covered on the day the payer answered?
        answer = coverage_on(m, answered_on, GENERAL, as_of=answered_on)
        coverage = {
            "day": _iso(answered_on),
            "service_type": GENERAL,
            "status": answer.status,
            "reason": answer.reason,
        }
    return {
        **_who(m),
        "plans": m.plan_names,
        "plan_begin": _iso(m.plan_begin),
        "plan_end": _iso(m.plan_end),
        "references": dict(m.references),
        "dates": _dates(m.dates),
        "rejections": _rejections(m.rejections),
        "coverage": coverage,
        "benefits": [_benefit(b) for b in m.benefits],
    }


def eligibility_response_json(r: EligibilityResponse) -> JSON:
    return {
        "type": "271",
        "control_number": r.control_number,
        "reference": r.reference,
        "created_on": _iso(r.created_on),
        "rejections": _rejections(r.rejections),
        "members": [_member(m, r.created_on) for m in r.members],
        "warnings": list(r.warnings),
    }
