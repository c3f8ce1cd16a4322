"""Which of our claims an unmatched payment (or 277CA answer) most likely belongs to.

Pure: it takes what the payer wrote and the claims worth considering, and gives each
claim a score made of named parts, so the page can show a person *why* a claim ranks
where it does (the same patient control number, a member id one character off, a
date of service a week away...). Nothing here reads the database or the clock; the
caller picks the claims to consider (posting.unmatched_work.candidate_claims).

Points per criterion, at most 160 in all:

- patient control number: 40 the same; 35 the same but for case or punctuation; 30 one
  character off or two swapped; 25 one cut short; 15 two characters off
- payer claim number (ICN): 30 the one on the claim; -10 a different one
- member id: 25 the same; 10 one character off
- patient name: 20 the same; 15 first and last swapped, or the same last name and
  first initial; 8 the same last name
- date of service: 20 within the payment's dates; 5 within a week; -10 further away
- charge: 15 the same
- payer: 10 the same; -15 another payer
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

STRONG = 90  # at or above: very likely this claim
POSSIBLE = 45  # at or above: worth a look
NEAR_DAYS = 7
DEFAULT_LIMIT = 10


@dataclass(frozen=True)
class PayerWrote:
    """What the payer's file says about the claim it paid (or acknowledged)."""

    patient_control_number: str
    payer_claim_control_number: str = ""
    patient_name: str = ""
    subscriber_name: str = ""
    member_id: str = ""
    service_from: date | None = None
    service_to: date | None = None
    charge: Decimal | None = None
    payer_name: str = ""
    payer_identifier: str = ""


@dataclass(frozen=True)
class ClaimOnFile:
    """One of our claims, as far as the ranking needs it."""

    claim_id: str
    patient_name: str
    member_id: str
    service_date: date
    charge: Decimal
    payer_id: str
    status: str = ""
    payer_name: str = ""
    payer_x12_id: str = ""
    payer_claim_control_number: str = ""


@dataclass(frozen=True)
class Reason:
    points: int
    text: str


@dataclass(frozen=True)
class Candidate:
    claim: ClaimOnFile
    score: int
    reasons: tuple[Reason, ...] = field(default_factory=tuple)

    @property
    def strength(self) -> str:
        if self.score >= STRONG:
            return "strong"
        if self.score >= POSSIBLE:
            return "possible"
        return "weak"


# --- comparing the pieces ------------------------------------------------------------


def _plain(value: str) -> str:
    """Upper case letters and digits only: 'abc-0012 ' and 'ABC0012' are the same."""
    return re.sub(r"[^A-Z0-9]", "", value.upper())


def edit_distance(a: str, b: str) -> int:
    """Insertions, deletions, substitutions and swaps of two neighbours (optimal string
    alignment): the typos people make keying a number."""
    if a == b:
        return 0
    rows = [list(range(len(b) + 1))]
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            row[j] = min(row[j - 1] + 1, rows[i - 1][j] + 1, rows[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], rows[i - 2][j - 2] + 1)
        rows.append(row)
    return rows[-1][-1]


def name_parts(name: str) -> tuple[str, tuple[str, ...]]:
    """(last name, given names) of 'LAST, FIRST M' (X12's way) or 'First M Last'."""
    if "," in name:
        last, _, given = name.partition(",")
        return _plain(last), tuple(p for p in (_plain(w) for w in given.split()) if p)
    words = [p for p in (_plain(w) for w in name.split()) if p]
    if not words:
        return "", ()
    return words[-1], tuple(words[:-1])


def _money(value: Decimal) -> str:
    return f"${value:,.2f}"


def _pcn(wrote: str, ours: str) -> Reason:
    if not wrote:
        return Reason(0, "the payer gave no patient control number")
    if wrote == ours:
        return Reason(40, f"same patient control number {ours}")
    a, b = _plain(wrote), _plain(ours)
    if a and a == b:
        return Reason(35, f"patient control number {ours} differs only in case or punctuation")
    distance = edit_distance(a, b)
    if distance == 1:
        return Reason(30, f"patient control number {ours} is one character off (a typo or a swap)")
    shorter, longer = sorted((a, b), key=len)
    if len(shorter) >= 4 and (longer.startswith(shorter) or longer.endswith(shorter)):
        return Reason(25, f"patient control number {ours} and {wrote}: one is the other cut short")
    if distance == 2 and min(len(a), len(b)) >= 5:
        return Reason(15, f"patient control number {ours} is two characters off")
    return Reason(0, f"patient control number {ours} is not like {wrote}")


def _icn(wrote: str, ours: str) -> Reason:
    if not wrote:
        return Reason(0, "the payer gave no claim number of its own")
    if not ours:
        return Reason(0, "the claim has no payer claim number yet to compare")
    if wrote == ours:
        return Reason(30, f"payer claim number {ours} is the one on the claim")
    return Reason(-10, f"the claim has another payer claim number ({ours})")


def _member(wrote: str, ours: str) -> Reason:
    if not wrote:
        return Reason(0, "the payer gave no member id")
    a, b = _plain(wrote), _plain(ours)
    if not b:
        return Reason(0, "the claim has no member id")
    if a == b:
        return Reason(25, "same member id")
    if edit_distance(a, b) == 1:
        return Reason(10, "member id one character off")
    return Reason(0, "member id differs")


def _name(patient: str, subscriber: str, ours: str) -> Reason:
    wrote = patient or subscriber
    if not wrote:
        return Reason(0, "the payer gave no patient name")
    last, given = name_parts(ours)
    if not last:
        return Reason(0, "the claim has no patient name")
    best = Reason(0, "patient name differs")
    for theirs, whose in ((patient, "patient"), (subscriber, "subscriber")):
        if not theirs:
            continue
        their_last, their_given = name_parts(theirs)
        if their_last == last and their_given[:1] == given[:1] and given:
            found = Reason(20, f"same {whose} name")
        elif given and their_given and their_last == given[0] and their_given[0] == last:
            found = Reason(15, f"same {whose} name, first and last swapped")
        elif their_last == last and given and their_given and their_given[0][:1] == given[0][:1]:
            found = Reason(15, f"same last name and first initial as the {whose}")
        elif their_last == last:
            found = Reason(8, f"same last name as the {whose}")
        else:
            continue
        if found.points > best.points:
            best = found
    return best


def _service(start: date | None, end: date | None, ours: date) -> Reason:
    if start is None:
        return Reason(0, "the payer gave no dates of service")
    end = end or start
    span = start.isoformat() if end == start else f"{start.isoformat()} to {end.isoformat()}"
    if start <= ours <= end:
        where = "the payment's" if start == end else f"within {span}"
        return Reason(20, f"date of service {ours.isoformat()} is {where}")
    days = (start - ours).days if ours < start else (ours - end).days
    if days <= NEAR_DAYS:
        return Reason(5, f"date of service {ours.isoformat()} is {days} days from {span}")
    return Reason(-10, f"date of service {ours.isoformat()} is {days} days from {span}")


def _charge(wrote: Decimal | None, ours: Decimal) -> Reason:
    if wrote is None:
        return Reason(0, "the payer gave no charge")
    if wrote == ours:
        return Reason(15, f"same charge {_money(ours)}")
    return Reason(0, f"charge differs: {_money(ours)} on the claim, {_money(wrote)} on the file")


def _payer(wrote: PayerWrote, claim: ClaimOnFile) -> Reason:
    ids = {_plain(i) for i in (claim.payer_x12_id, claim.payer_id) if i}
    theirs = _plain(wrote.payer_identifier)
    same_name = bool(wrote.payer_name) and _plain(wrote.payer_name) == _plain(claim.payer_name)
    label = claim.payer_name or claim.payer_id
    if (theirs and theirs in ids) or same_name:
        return Reason(10, f"same payer ({label})")
    if theirs and claim.payer_x12_id:
        return Reason(-15, f"another payer: the claim is {label}'s")
    return Reason(0, f"payer not comparable: set {label}'s X12 payer id to tell")


def score(wrote: PayerWrote, claim: ClaimOnFile) -> Candidate:
    """How well `claim` fits what the payer wrote, with a reason for every part."""
    reasons = (
        _pcn(wrote.patient_control_number, claim.claim_id),
        _icn(wrote.payer_claim_control_number, claim.payer_claim_control_number),
        _member(wrote.member_id, claim.member_id),
        _name(wrote.patient_name, wrote.subscriber_name, claim.patient_name),
        _service(wrote.service_from, wrote.service_to, claim.service_date),
        _charge(wrote.charge, claim.charge),
        _payer(wrote, claim),
    )
    return Candidate(claim, sum(r.points for r in reasons), reasons)


def rank(
    wrote: PayerWrote, claims: Iterable[ClaimOnFile], limit: int = DEFAULT_LIMIT
) -> list[Candidate]:
    """The best `limit` claims that score above zero, best first (ties by claim id)."""
    seen: set[str] = set()
    scored = []
    for claim in claims:
        if claim.claim_id in seen:
            continue
        seen.add(claim.claim_id)
        candidate = score(wrote, claim)
        if candidate.score > 0:
            scored.append(candidate)
    scored.sort(key=lambda c: (-c.score, c.claim.claim_id))
    return scored[:limit]
