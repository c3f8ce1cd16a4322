"""`denialflow check`: read the database and Temporal, report where they disagree, and
with `repair` put right what can be put right from the database.

Reads stream in pages (keyset on the claim id), so memory stays flat however many
claims are open; Temporal is asked about at most `concurrency` workflows at once. The
rules that turn facts into findings are in reconcile.rules; this module only gathers
the facts and carries out repairs. Nothing here logs: the findings go to `out`, and
they hold ids, statuses and amounts only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, delete, select
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from denialflow.domain.rules.calendar import as_utc
from denialflow.domain.types import ZERO, DenialCategory, WorkItemState
from denialflow.models.db import session_scope
from denialflow.models.tables import (
    Claim,
    IngestedFile,
    Remittance,
    RemittanceAdjustment,
    UndeliveredRulesChange,
    WorkItem,
)
from denialflow.reconcile.rules import (
    OPEN_STATUSES,
    ClaimMoney,
    DbClaim,
    DbItem,
    FileMoney,
    Finding,
    Kind,
    Repair,
    Tally,
    Undelivered,
    WorkflowView,
    compare_claim,
    compare_file,
    compare_money,
    confirmed,
    file_prefix,
    undelivered_rules,
)
from denialflow.settings import Settings
from denialflow.store import fact_check, summaries
from denialflow.store.claims import open_claim_state, payer_rules
from denialflow.workflows.claim_client import (
    describe_claim_workflow,
    start_claim_workflow,
    tell_rules_changed,
)

# A run of this many unanswered state queries, with none answered, means no worker.
_SILENT_LIMIT = 8
_UNREACHABLE = (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED)


class Unreachable(Exception):
    """Temporal or the database cannot be reached; the message says which, for a person."""


@dataclass
class CheckOptions:
    repair: bool = False
    # Also find the report facts again from the timelines (store/fact_check.py): 14 s at
    # 200,000 claims, holding the database's write locks meanwhile, so asked for by name.
    facts: bool = False
    # Workflows described and queried at once.
    concurrency: int = 16
    page_size: int = 500
    query_timeout: timedelta = timedelta(seconds=5)
    # Before a claim is reported it is looked at again this much later: a workflow
    # between its step and its projection looks wrong for a moment.
    confirm_delay: float = 1.0
    # An 835 posted more recently than this may still be on its way to its workflows.
    file_grace: timedelta = timedelta(minutes=5)


async def run_check(
    client: Client,
    engine: Engine,
    settings: Settings,
    options: CheckOptions,
    out: Callable[[str], None] = print,
) -> Tally:
    """Every check, each finding written to `out` as found (and repaired, if asked);
    returns the counts. Raises Unreachable when Temporal or the database is."""
    run = _Run(client, engine, settings, options, out)
    try:
        _probe(engine)
        await run.claims()
        run.money()
        run.files()
        await run.rules()
        if options.facts:
            run.facts()
        run.summaries()
    except SQLAlchemyError as err:
        raise Unreachable(f"cannot read the database: {_db_reason(err)}") from None
    except RPCError as err:
        if err.status in _UNREACHABLE:
            raise Unreachable(
                f"Temporal at {settings.temporal_address} stopped answering ({err.status.name})"
            ) from None
        raise
    return run.tally


def _probe(engine: Engine) -> None:
    # Our own table last added: a database not yet migrated fails here, not half-way.
    with Session(engine) as session:
        session.exec(select(func.count()).select_from(UndeliveredRulesChange)).one()


def _db_reason(err: SQLAlchemyError) -> str:
    # The statement and its parameters (claim ids, amounts) stay out of the message.
    orig = getattr(err, "orig", None)
    text = str(orig if orig is not None else type(err).__name__).splitlines()[0]
    return f"{text}; is DATABASE_URL right and the schema migrated (denialflow migrate)?"


class _Run:
    def __init__(
        self,
        client: Client,
        engine: Engine,
        settings: Settings,
        options: CheckOptions,
        out: Callable[[str], None],
    ) -> None:
        self.client = client
        self.engine = engine
        self.settings = settings
        self.o = options
        self.out = out
        self.tally = Tally()
        self.semaphore = asyncio.Semaphore(options.concurrency)
        self.answered = 0
        self.silent = 0

    # --- open claims against their workflows ---------------------------------

    async def claims(self) -> None:
        after = ""
        while True:
            page = self._open_claims(after=after)
            if not page:
                return
            after = page[-1].claim_id
            self.tally.checked_claims += len(page)
            first = await self._compare(page)
            if not first:
                continue
            await asyncio.sleep(self.o.confirm_delay)
            again = await self._compare(self._open_claims(ids=sorted({f.subject for f in first})))
            for finding in confirmed(first, again):
                await self._report(finding)
            if self.silent and not self.answered:
                raise Unreachable(self._no_worker())

    def _open_claims(self, after: str = "", ids: Sequence[str] = ()) -> list[DbClaim]:
        with Session(self.engine) as session:
            q = select(Claim.id, Claim.status).where(
                col(Claim.status).in_([s.value for s in OPEN_STATUSES])
            )
            if ids:
                q = q.where(col(Claim.id).in_(ids))
            else:
                q = q.where(Claim.id > after).limit(self.o.page_size)
            rows = session.exec(q.order_by(col(Claim.id))).all()
            items: dict[str, list[DbItem]] = {}
            if rows:
                for item_id, claim_id, kind, state in session.exec(
                    select(WorkItem.id, WorkItem.claim_id, WorkItem.kind, WorkItem.state).where(
                        col(WorkItem.claim_id).in_([r[0] for r in rows]),
                        WorkItem.state != WorkItemState.CLOSED.value,
                    )
                ):
                    items.setdefault(claim_id, []).append(DbItem(item_id, kind, state))
        return [DbClaim(cid, status, tuple(items.get(cid, ()))) for cid, status in rows]

    async def _compare(self, claims: list[DbClaim]) -> list[Finding]:
        views = await asyncio.gather(*(self._view(c.claim_id) for c in claims))
        return [f for c, v in zip(claims, views, strict=True) for f in compare_claim(c, v)]

    async def _view(self, claim_id: str) -> WorkflowView:
        async with self.semaphore:
            end, state = await describe_claim_workflow(self.client, claim_id, self.o.query_timeout)
        if end != "running":
            return WorkflowView(end)
        if state is None:
            self.silent += 1
            if self.silent >= _SILENT_LIMIT and not self.answered:
                raise Unreachable(self._no_worker())
            return WorkflowView(end)
        self.answered += 1
        return WorkflowView(end, state.status.value, frozenset(i.id for i in state.open_items()))

    def _no_worker(self) -> str:
        return (
            "claim workflows are running but none answered a query: is a worker running "
            f"on task queue {self.settings.task_queue}?"
        )

    # --- money ---------------------------------------------------------------

    def money(self) -> None:
        """Every claim's paid and contractual columns against its remittance rows."""
        after = ""
        while True:
            with Session(self.engine) as session:
                page = session.exec(
                    select(Claim.id, Claim.paid, Claim.contractual)
                    .where(Claim.id > after)
                    .order_by(col(Claim.id))
                    .limit(self.o.page_size)
                ).all()
                if not page:
                    return
                after = page[-1][0]
                paid, contractual = _remitted(session, [r[0] for r in page])
            for claim_id, claim_paid, claim_contractual in page:
                for finding in compare_money(
                    ClaimMoney(
                        claim_id,
                        claim_paid,
                        claim_contractual,
                        paid.get(claim_id, ZERO),
                        contractual.get(claim_id, ZERO),
                    )
                ):
                    self._emit(finding)
                    self.tally.unrepaired += 1

    # --- 835 files -------------------------------------------------------------

    def files(self) -> None:
        """Each posted 835 file's claim payments against the remittance rows from it."""
        by_prefix: dict[str, FileMoney] = {}
        found: dict[str, tuple[int, Decimal]] = {}
        with Session(self.engine) as session:
            rows = session.exec(
                select(IngestedFile).where(IngestedFile.status == "posted")
            ).yield_per(self.o.page_size)
            for f in rows:
                s = f.summary
                if "835" not in f.kinds or "paid" not in s or f.id is None:
                    continue
                by_prefix[f"{f.sender}:{f.control_number}"] = FileMoney(
                    file_id=f.id,
                    name=f.file_name,
                    posted_at=f.posted_at,
                    expected_count=int(s.get("remittances_posted", 0)) + int(s.get("unmatched", 0)),
                    expected_paid=Decimal(s["paid"]) + Decimal(s.get("unmatched_paid", "0")),
                )
            if not by_prefix:
                return
            for key, amount in session.exec(select(Remittance.key, Remittance.paid)).yield_per(
                2000
            ):
                prefix = file_prefix(key)
                if prefix in by_prefix:
                    n, total = found.get(prefix, (0, ZERO))
                    found[prefix] = (n + 1, total + amount)
        now = datetime.now(UTC)
        for prefix, expected in by_prefix.items():
            n, total = found.get(prefix, (0, ZERO))
            self.tally.checked_files += 1
            actual = replace(expected, found_count=n, found_paid=total)
            for finding in compare_file(actual, now, self.o.file_grace):
                self._emit(finding)
                self.tally.unrepaired += 1

    # --- the report facts and summaries ---------------------------------------

    def facts(self) -> None:
        """The facts kept on the rows for the reports against the same facts found again
        from the rows' timelines. Finding them takes one transaction, which holds SQLite's
        write lock (PostgreSQL's, on every row with a fact); a repair keeps what was found
        and rebuilds the summaries in it, else it is rolled back."""
        with self.engine.connect() as connection:
            transaction = connection.begin()
            try:
                found = fact_check.rederive(connection, self.settings.tz)
                if found and self.o.repair:
                    summaries.rebuild(connection)
                    transaction.commit()
            finally:
                if transaction.is_active:
                    transaction.rollback()
        values = sum(d.rows for d in found)
        self._rebuilt(
            [
                Finding(
                    Kind.FACT_DIFFERS,
                    "report facts",
                    str(d),
                    Repair.REDERIVE_FACTS,
                    detail=f"{d.table}.{d.column}",
                )
                for d in found
            ],
            f"  repaired the report facts: found again from the rows' timelines "
            f"({values} value{'s' if values != 1 else ''} differed) and the summaries rebuilt",
        )

    def summaries(self) -> None:
        """The summaries the reports read against the sums over their rows; a repair
        rebuilds them all from the rows in one transaction."""
        with self.engine.connect() as connection:
            found = list(summaries.check(connection))

        def rebuild() -> None:
            with self.engine.begin() as connection:
                summaries.rebuild(connection)

        self._rebuilt(
            [
                Finding(
                    Kind.SUMMARY_DIFFERS,
                    "report summaries",
                    str(d),
                    Repair.REBUILD_SUMMARIES,
                    detail=f"{d.key}:{d.column}",
                )
                for d in found
            ],
            f"  repaired the report summaries: rebuilt from their rows "
            f"({len(found)} cells differed)",
            rebuild,
        )

    def _rebuilt(
        self, findings: list[Finding], repaired: str, rebuild: Callable[[], None] | None = None
    ) -> None:
        """Report what a rebuild from the rows puts right: when the run repairs, `rebuild`
        (if not done already) and say `repaired`; else they are left for a person."""
        for finding in findings:
            self._emit(finding)
        if not findings:
            return
        if not self.o.repair:
            self.tally.unrepaired += len(findings)
            return
        if rebuild is not None:
            rebuild()
        self.out(repaired)
        self.tally.repaired += len(findings)

    # --- payer-rule changes that did not arrive --------------------------------

    async def rules(self) -> None:
        is_open = col(Claim.status).in_([s.value for s in OPEN_STATUSES])
        if self.o.repair:
            # A claim finished since has no deadlines left to recompute.
            with session_scope(self.engine) as session:
                session.exec(  # type: ignore[call-overload]
                    delete(UndeliveredRulesChange).where(
                        col(UndeliveredRulesChange.claim_id).not_in(select(Claim.id).where(is_open))
                    )
                )
        after = ""
        while True:
            with Session(self.engine) as session:
                page = [
                    Undelivered(r.claim_id, r.payer_id, as_utc(r.recorded_at), r.reason)
                    for r in session.exec(
                        select(UndeliveredRulesChange)
                        .join(Claim, col(Claim.id) == UndeliveredRulesChange.claim_id)
                        .where(is_open, UndeliveredRulesChange.claim_id > after)
                        .order_by(col(UndeliveredRulesChange.claim_id))
                        .limit(self.o.page_size)
                    )
                ]
            if not page:
                return
            after = page[-1].claim_id
            for finding in undelivered_rules(page):
                self._emit(finding)
            if not self.o.repair:
                self.tally.unrepaired += len(page)
                continue
            # One lookup of each payer's current rules per page.
            for payer_id in sorted({r.payer_id for r in page}):
                await self._resend([r.claim_id for r in page if r.payer_id == payer_id], payer_id)

    async def _resend(self, claim_ids: list[str], payer_id: str) -> None:
        with Session(self.engine) as session:
            rules = payer_rules(session, payer_id)
        delivery = await tell_rules_changed(self.client, claim_ids, rules)
        if delivery.unreachable:
            raise Unreachable(
                f"Temporal at {self.settings.temporal_address} stopped answering while payer "
                f"{payer_id}'s rules were sent again"
            )
        # A claim whose workflow is gone is told nothing; if it is open, the claims
        # check reported it, and a restart starts it with the current rules.
        done = [c for c in claim_ids if c not in delivery.undelivered]
        with session_scope(self.engine) as session:
            session.exec(  # type: ignore[call-overload]
                delete(UndeliveredRulesChange).where(col(UndeliveredRulesChange.claim_id).in_(done))
            )
        for claim_id in claim_ids:
            if claim_id in delivery.undelivered:
                self.out(f"  not repaired {claim_id}: {delivery.undelivered[claim_id]}")
                self.tally.unrepaired += 1
            else:
                self.out(f"  repaired {claim_id}: sent payer {payer_id}'s current rules again")
                self.tally.repaired += 1

    # --- reporting and repairs -------------------------------------------------

    def _emit(self, finding: Finding) -> None:
        self.tally.add(finding)
        self.out(finding.line())

    async def _report(self, finding: Finding) -> None:
        self._emit(finding)
        if not self.o.repair or finding.repair != Repair.RESTART:
            self.tally.unrepaired += 1
            return
        repaired, said = await self._restart(finding.subject)
        self.out(f"  {'repaired' if repaired else 'not repaired'} {finding.subject}: {said}")
        if repaired:
            self.tally.repaired += 1
        else:
            self.tally.unrepaired += 1

    async def _restart(self, claim_id: str) -> tuple[bool, str]:
        """Start the claim's workflow again from its rows; safe to repeat."""
        end, _ = await describe_claim_workflow(self.client, claim_id, self.o.query_timeout)
        if end == "running":
            return True, "its workflow is running again; nothing to do"
        with Session(self.engine) as session:
            try:
                state, rules = open_claim_state(session, claim_id)
            except LookupError as err:
                return False, str(err)
        if state.status not in OPEN_STATUSES:
            return False, f"the claim is {state.status.value} now; nothing to restart"
        await start_claim_workflow(
            self.client,
            state.facts,
            rules,
            self.settings.task_queue,
            activity_timeout_seconds=self.settings.activity_timeout_seconds,
            state=state,
        )
        # It starts with the payer's current rules, so an earlier change it missed is in.
        with session_scope(self.engine) as session:
            session.exec(  # type: ignore[call-overload]
                delete(UndeliveredRulesChange).where(
                    col(UndeliveredRulesChange.claim_id) == claim_id
                )
            )
        items = len(state.open_items())
        return True, (
            "started its workflow again from the database "
            f"({state.status.value.replace('_', ' ')}, "
            f"{items} open work item{'s' if items != 1 else ''})"
        )


def _remitted(
    session: Session, claim_ids: list[str]
) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
    """Paid and contractual amounts of the claims' remittances, as their workflows add
    them up: a predetermination (status 25) moves no money; a payment being matched by a
    person counts for the claim it is being matched to (its workflow has it already)."""
    owner = func.coalesce(Remittance.claim_id, Remittance.matching_claim_id)
    counted = (Remittance.status_code != "25") & (
        col(Remittance.claim_id).in_(claim_ids)
        | (col(Remittance.claim_id).is_(None) & col(Remittance.matching_claim_id).in_(claim_ids))
    )
    paid = dict(
        session.exec(select(owner, func.sum(Remittance.paid)).where(counted).group_by(owner)).all()
    )
    contractual = dict(
        session.exec(
            select(owner, func.sum(RemittanceAdjustment.amount))
            .join(RemittanceAdjustment, RemittanceAdjustment.remittance_id == Remittance.id)
            .where(
                counted,
                RemittanceAdjustment.category == DenialCategory.CONTRACTUAL.value,
                RemittanceAdjustment.group != "PR",
            )
            .group_by(owner)
        ).all()
    )
    return _money(paid), _money(contractual)


def _money(sums: dict) -> dict[str, Decimal]:
    # SQLite sums Numeric columns as floats; both databases give back cents here.
    return {k: Decimal(str(v)).quantize(Decimal("0.01")) for k, v in sums.items() if k}


def exit_status(tally: Tally) -> int:
    """0 when nothing was found or everything found was repaired, else 1."""
    return 1 if tally.unrepaired else 0


def summary_lines(tally: Tally, repair: bool) -> Iterable[str]:
    yield tally.summary()
    if repair and tally.findings:
        yield f"{tally.repaired} repaired, {tally.unrepaired} left for a person"
