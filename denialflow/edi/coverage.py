"""Was a member covered on a given day for a given kind of care, by a 271's facts?

One pure function over a `MemberEligibility`; the answer is active, inactive
or unknown, always with the reason in words, because a specialist acts on
"unknown" differently depending on why (ask again later, fix the member id,
call the payer).
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel

from denialflow.edi.eligibility_codes import (
    ACTIVE_KINDS,
    INACTIVE_KINDS,
    SERVICE_TYPES,
    meaning,
)
from denialflow.edi.x271 import Benefit, DateFact, MemberEligibility

CoverageStatus = Literal["active", "inactive", "unknown"]
GENERAL = "30"  # health plan coverage in general: what a plain 270 asks about

# DTP qualifiers that open or close a window, on the member or on one benefit.
_BEGINS = ("346", "348", "356")
_ENDS = ("347", "349", "357")
_RANGES = ("291", "292", "307")  # RD8 ranges; as D8 they say "as of this day"
NOT_COVERED = "I"  # EB01: the service is not covered


class CoverageAnswer(BaseModel):
    status: CoverageStatus
    reason: str
    segment_number: int = 0  # the EB (or AAA/DTP) that decided, 0 when none did


def _window(dates: list[DateFact]) -> tuple[dt.date | None, dt.date | None, dt.date | None]:
    """(latest begin, earliest end, as-of day) of a list of DTPs."""
    begins = [d.start for d in dates if d.qualifier in _BEGINS and d.start]
    ends = [d.start for d in dates if d.qualifier in _ENDS and d.start]
    as_of = None
    for d in dates:
        if d.qualifier not in _RANGES or d.start is None:
            continue
        if d.end is not None and d.end != d.start:
            begins.append(d.start)
            ends.append(d.end)
        else:
            as_of = d.start
    return (max(begins) if begins else None, min(ends) if ends else None, as_of)


def _applies_on(benefit: Benefit, day: dt.date) -> bool:
    begin, end, _ = _window(benefit.dates)
    return not ((begin and day < begin) or (end and day > end))


def _service(code: str) -> str:
    return f"{code} ({meaning(SERVICE_TYPES, code)})"


def _describe(benefit: Benefit) -> str:
    plan = f", plan {benefit.plan}" if benefit.plan else ""
    return f"{benefit.kind.meaning}{plan} (EB at segment {benefit.segment_number})"


def coverage_on(
    member: MemberEligibility,
    day: dt.date,
    service_type: str = GENERAL,
    *,
    as_of: dt.date | None = None,
) -> CoverageAnswer:
    """Coverage of `member` on `day` for `service_type` (EB03/EQ01 code).

    `as_of` is the day the payer answered for when the 271 does not say (the
    270's DTP*291, else the 271's BHT04): without a plan end date, a 271 says
    nothing about later days, and without a begin date nothing about earlier
    ones. A fact for the service type itself wins over the general (30) one,
    since plans often cover the plan but exclude, say, chiropractic.
    """
    if member.rejections:
        first = member.rejections[0]
        return CoverageAnswer(
            status="unknown",
            reason=f"the payer did not answer: {first.reason_meaning} (AAA03 {first.reason})",
            segment_number=first.segment_number,
        )
    begin, end, member_as_of = _window(member.dates)
    as_of = member_as_of or as_of
    if begin and day < begin:
        return CoverageAnswer(
            status="inactive", reason=f"{day} is before coverage began on {begin}"
        )
    if end and day > end:
        return CoverageAnswer(status="inactive", reason=f"{day} is after coverage ended on {end}")

    status_facts = [
        b for b in member.benefits if b.kind.code in ACTIVE_KINDS | INACTIVE_KINDS | {NOT_COVERED}
    ]
    current = [b for b in status_facts if _applies_on(b, day)]
    specific = [b for b in current if b.covers(service_type)]
    if not specific:
        specific = [
            b
            for b in current
            if b.kind.code != NOT_COVERED and (not b.service_types or b.covers(GENERAL))
        ]
    if not specific:
        out_of_dates = len(status_facts) - len(current)
        why = f"no coverage fact for {_service(service_type)} or for the plan in general"
        if out_of_dates:
            why += f" on {day} ({out_of_dates} apply only on other dates)"
        return CoverageAnswer(status="unknown", reason=f"the response has {why}")

    active = [b for b in specific if b.kind.code in ACTIVE_KINDS]
    inactive = [b for b in specific if b.kind.code not in ACTIVE_KINDS]
    if active and inactive:
        return CoverageAnswer(
            status="unknown",
            reason=(
                f"the response contradicts itself for {_service(service_type)}: "
                f"{_describe(active[0])} but {_describe(inactive[0])}"
            ),
            segment_number=inactive[0].segment_number,
        )
    decided = (active or inactive)[0]
    if as_of is not None and end is None and day > as_of:
        return CoverageAnswer(
            status="unknown",
            reason=f"the payer answered as of {as_of} with no end date; {day} is later",
            segment_number=decided.segment_number,
        )
    if as_of is not None and begin is None and day < as_of:
        return CoverageAnswer(
            status="unknown",
            reason=f"the payer answered as of {as_of} with no begin date; {day} is earlier",
            segment_number=decided.segment_number,
        )
    status: CoverageStatus = "active" if active else "inactive"
    subject = _service(service_type) if decided.covers(service_type) else "the plan in general"
    reason = f"{_describe(decided)} for {subject}"
    if begin is None and end is None and as_of is None:
        reason += "; the response gives no dates"
    return CoverageAnswer(status=status, reason=reason, segment_number=decided.segment_number)
