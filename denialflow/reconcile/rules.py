"""What `denialflow check` calls a finding: pure comparisons of what the database says
with what a claim's workflow says. No I/O here; reconcile.check gathers the facts.

Every message names the claim (or file) and says what is wrong in plain words. Ids,
statuses and amounts only: never a patient's name, member id or anything else the
payer wrote.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from denialflow.domain.claim_machine import TERMINAL, WORKFLOW_KINDS
from denialflow.domain.types import ClaimStatus

# Claims a workflow must be watching: recorded and sent, not yet finished. A held claim
# (failed scrubbing) was never sent and has no workflow until a person fixes it.
OPEN_STATUSES = frozenset(ClaimStatus) - TERMINAL - {ClaimStatus.HELD}

# How a workflow may have ended, as Temporal names it, lower case.
RESTARTABLE_ENDS = frozenset({"canceled", "terminated", "timed_out"})


class Kind(StrEnum):
    NO_WORKFLOW = "no_workflow"
    WORKFLOW_CLOSED = "workflow_closed"
    WORKFLOW_SILENT = "workflow_silent"
    STATUS_DIFFERS = "status_differs"
    STALE_ITEM = "stale_item"
    MISSING_ITEM = "missing_item"
    CLAIM_MONEY = "claim_money"
    FILE_MONEY = "file_money"
    RULES_UNDELIVERED = "rules_undelivered"
    SUMMARY_DIFFERS = "summary_differs"
    FACT_DIFFERS = "fact_differs"


class Repair(StrEnum):
    NONE = "none"
    RESTART = "restart"  # start the claim's workflow again from its rows
    RESEND_RULES = "resend_rules"  # signal the payer's current rules again
    REBUILD_SUMMARIES = "rebuild_summaries"  # the report summaries, from their rows
    # The report facts found again from the rows' timelines, then the summaries rebuilt.
    REDERIVE_FACTS = "rederive_facts"


@dataclass(frozen=True)
class Finding:
    kind: Kind
    subject: str  # the claim id, or "file <id>"
    message: str
    repair: Repair = Repair.NONE
    # Distinguishes findings of one kind about one subject (a work item's id).
    detail: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.kind.value, self.subject, self.detail)

    def line(self) -> str:
        return f"{self.subject}: {self.message}"


@dataclass(frozen=True)
class DbItem:
    id: str
    kind: str
    state: str


@dataclass(frozen=True)
class DbClaim:
    """An open claim as its row and open work items say."""

    claim_id: str
    status: str
    items: tuple[DbItem, ...] = ()


@dataclass(frozen=True)
class WorkflowView:
    """A claim's workflow as Temporal says: `end` is None when no workflow has that id,
    else "running" or how it closed; `status` and `open_items` come from the state query
    of a running workflow, None when it did not answer."""

    end: str | None
    status: str | None = None
    open_items: frozenset[str] | None = None


def compare_claim(db: DbClaim, wf: WorkflowView) -> list[Finding]:
    """An open claim against its workflow."""
    cid = db.claim_id
    if wf.end is None:
        return [
            Finding(
                Kind.NO_WORKFLOW,
                cid,
                f"the database says {_words(db.status)} but the claim has no workflow: "
                "nothing watches its deadlines",
                Repair.RESTART,
            )
        ]
    if wf.end != "running":
        return [_closed(db, wf.end)]
    if wf.status is None or wf.open_items is None:
        return [
            Finding(
                Kind.WORKFLOW_SILENT,
                cid,
                "its workflow is running but did not answer the state query in time "
                "(is a worker running?)",
            )
        ]
    found: list[Finding] = []
    if wf.status != db.status:
        found.append(
            Finding(
                Kind.STATUS_DIFFERS,
                cid,
                f"the database says {_words(db.status)}, its workflow says {_words(wf.status)}",
            )
        )
    ours = {i.id: i for i in db.items if i.kind in _WORKFLOW_KIND_VALUES}
    for item_id in sorted(set(ours) - wf.open_items):
        item = ours[item_id]
        found.append(
            Finding(
                Kind.STALE_ITEM,
                cid,
                f"open {_words(item.kind)} work item {item_id} is no longer wanted by its "
                "workflow: the queue shows work that is done",
                detail=item_id,
            )
        )
    for item_id in sorted(wf.open_items - set(ours)):
        found.append(
            Finding(
                Kind.MISSING_ITEM,
                cid,
                f"its workflow has open work item {item_id} that no queue shows",
                detail=item_id,
            )
        )
    return found


def _closed(db: DbClaim, end: str) -> Finding:
    said = f"the database says {_words(db.status)} but its workflow {_ENDS.get(end, end)}"
    if end in RESTARTABLE_ENDS:
        return Finding(
            Kind.WORKFLOW_CLOSED,
            db.claim_id,
            f"{said}: nothing watches its deadlines",
            Repair.RESTART,
            detail=end,
        )
    why = (
        "look at its history in the Temporal UI before starting it again"
        if end == "failed"
        else "the database missed its last step; look at its history in the Temporal UI"
    )
    return Finding(Kind.WORKFLOW_CLOSED, db.claim_id, f"{said}: {why}", detail=end)


_ENDS = {
    "completed": "completed",
    "failed": "failed",
    "canceled": "was cancelled",
    "terminated": "was terminated",
    "timed_out": "timed out",
    "continued_as_new": "continued as new and has no run",
}
_WORKFLOW_KIND_VALUES = frozenset(k.value for k in WORKFLOW_KINDS)


@dataclass(frozen=True)
class ClaimMoney:
    """A claim's money columns (written by its workflow) and the sums of its
    remittance rows (written by the same projection, or by a match in progress)."""

    claim_id: str
    paid: Decimal
    contractual: Decimal
    remitted_paid: Decimal
    remitted_contractual: Decimal


def compare_money(m: ClaimMoney) -> list[Finding]:
    found = []
    for what, posted, remitted in (
        ("paid", m.paid, m.remitted_paid),
        ("contractual adjustment", m.contractual, m.remitted_contractual),
    ):
        if posted != remitted:
            found.append(
                Finding(
                    Kind.CLAIM_MONEY,
                    m.claim_id,
                    f"{what} posted to the claim is {posted} but its remittances add up "
                    f"to {remitted}",
                    detail=what,
                )
            )
    return found


@dataclass(frozen=True)
class FileMoney:
    """An 835 file: what ingesting it said it posted (its summary) and what the
    remittance rows from it hold now."""

    file_id: int
    name: str
    posted_at: datetime | None
    expected_count: int
    expected_paid: Decimal
    found_count: int = 0
    found_paid: Decimal = Decimal("0.00")


def compare_file(f: FileMoney, now: datetime, grace: timedelta) -> list[Finding]:
    """A claim payment signalled to a workflow that never applied it (the workflow was
    terminated first, say) leaves the file short. Workflows apply what posting signals a
    moment later, so a file posted within `grace` is not judged yet."""
    if f.posted_at is None or now - f.posted_at < grace:
        return []
    if f.found_count == f.expected_count and f.found_paid == f.expected_paid:
        return []
    return [
        Finding(
            Kind.FILE_MONEY,
            f"file {f.file_id}",
            f"{f.name} posted {f.expected_count} claim payments ({f.expected_paid}) but the "
            f"database holds {f.found_count} ({f.found_paid}): a payment was lost on the way "
            "to its claim; find it from the file and post it again",
        )
    ]


def file_prefix(remittance_key: str) -> str | None:
    """The interchange (sender:control) a remittance posted from an 835 came from: its
    key is sender:control:transaction:n. None for keys of another shape."""
    parts = remittance_key.rsplit(":", 2)
    return parts[0] if len(parts) == 3 and parts[0] else None


@dataclass(frozen=True)
class Undelivered:
    claim_id: str
    payer_id: str
    recorded_at: datetime
    reason: str


def undelivered_rules(rows: Iterable[Undelivered]) -> list[Finding]:
    return [
        Finding(
            Kind.RULES_UNDELIVERED,
            r.claim_id,
            f"did not get payer {r.payer_id}'s rule change of {r.recorded_at:%Y-%m-%d %H:%M} "
            f"UTC ({r.reason or 'not delivered'}): its deadlines follow the old rules",
            Repair.RESEND_RULES,
        )
        for r in rows
    ]


def confirmed(first: Iterable[Finding], again: Iterable[Finding]) -> list[Finding]:
    """The findings seen on both looks: a claim caught between a workflow's step and its
    projection (or a start just after intake committed) looks wrong for a moment."""
    seen = {f.key for f in first}
    return [f for f in again if f.key in seen]


@dataclass
class Tally:
    checked_claims: int = 0
    checked_files: int = 0
    by_kind: dict[Kind, int] = field(default_factory=dict)
    repaired: int = 0
    unrepaired: int = 0

    def add(self, finding: Finding) -> None:
        self.by_kind[finding.kind] = self.by_kind.get(finding.kind, 0) + 1

    @property
    def findings(self) -> int:
        return sum(self.by_kind.values())

    def summary(self) -> str:
        head = f"checked {self.checked_claims} open claims and {self.checked_files} 835 files: "
        if not self.findings:
            return head + "no findings"
        parts = ", ".join(f"{n} {_SUMMARY[k]}" for k, n in self.by_kind.items())
        return head + f"{self.findings} finding{'s' if self.findings != 1 else ''} ({parts})"


_SUMMARY = {
    Kind.NO_WORKFLOW: "without a workflow",
    Kind.WORKFLOW_CLOSED: "with a closed workflow",
    Kind.WORKFLOW_SILENT: "whose workflow did not answer",
    Kind.STATUS_DIFFERS: "with a different status",
    Kind.STALE_ITEM: "stale work items",
    Kind.MISSING_ITEM: "work items missing from the queues",
    Kind.CLAIM_MONEY: "money mismatches on claims",
    Kind.FILE_MONEY: "835 files not fully posted",
    Kind.RULES_UNDELIVERED: "undelivered payer-rule changes",
    Kind.SUMMARY_DIFFERS: "report summary cells that differ from their rows",
    Kind.FACT_DIFFERS: "report facts that differ from their timelines",
}


def _words(value: str) -> str:
    return value.replace("_", " ")


__all__ = [
    "OPEN_STATUSES",
    "ClaimMoney",
    "DbClaim",
    "DbItem",
    "FileMoney",
    "Finding",
    "Kind",
    "Repair",
    "Tally",
    "Undelivered",
    "WorkflowView",
    "compare_claim",
    "compare_file",
    "compare_money",
    "confirmed",
    "file_prefix",
    "undelivered_rules",
]
