"""A claim's timeline as a story: one entry per thing that happened, in words.

Three tables record what happened to a claim, and one happening is often in all three:
the workflow's events (ClaimEvent), its notes (a payer call is a Note of kind "call") and
the audit log (the workflow audits every person's action, under a key made of its
workflow id, run id and event sequence). This module folds them into one entry per
action:

- the events of one workflow step (one `at`, in sequence order) make one entry per
  headline event; what the step changed besides (an item opened or closed, the new
  status) is told in the headline's details;
- a person's action is one entry: its headline is the event the action emits (the
  `PRIMARY` table), the audit row gives who and what they entered, and a logged call's
  Note gives representative, reference, outcome, next follow-up and note;
- views of the claim ("claim_viewed") are the audit log's (/audit), not the story's;
  so are the audit rows that repeat a note or the claim's creation.

Labels are words ("Denied (status 4)", "Payment posted $120.00"), one function per event
name the claim machine emits (`EVENT_LABELS`); an unknown name still reads as words.
Times are shown in the practice's time zone with its abbreviation (`when`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import Request
from sqlmodel import Session, select

from denialflow.models.tables import AuditEvent, ClaimEvent, Note
from denialflow.web.deps import get_settings_dep

Data = dict[str, Any]
Details = list[tuple[str, str]]


@dataclass
class TimelineEntry:
    at: datetime  # aware
    who: str
    what: str
    details: Details
    source: str  # "workflow", "payer", "call", "note" or "audit": how the page styles it
    # Set on the entry of an appeal being filed, for the page's appeal panel.
    appeal_level: int | None = None
    # The workflow event names folded into this entry (for tests and for reading).
    events: list[str] = field(default_factory=list)

    def when(self, tz: tzinfo) -> str:
        return local_time(self.at, tz)


@dataclass(frozen=True)
class AppealFiled:
    level: int
    at: datetime
    by: str


def aware(moment: datetime) -> datetime:
    """SQLite gives back naive UTC; PostgreSQL aware."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def local_time(moment: datetime | None, tz: tzinfo) -> str:
    """`moment` on the practice's clock, with the zone's abbreviation: 2025-03-04 09:15 CST."""
    if moment is None:
        return "—"
    return aware(moment).astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")


def practice_tz(request: Request) -> tzinfo:
    """The practice's time zone (DENIALFLOW_TIMEZONE), from the app's settings."""
    return get_settings_dep(request).tz


# --- words -------------------------------------------------------------------------

KIND_WORDS: dict[str, str] = {
    "follow_up": "follow-up",
    "appeal_follow_up": "appeal follow-up",
    "patient_balance": "patient balance",
    "claim_edit": "claim edit",
    "unmatched_remittance": "unmatched remittance",
    "unmatched_acknowledgement": "unmatched acknowledgement",
    "write_off_approval": "write-off approval",
}

OUTCOME_WORDS: dict[str, str] = {
    "payer_answered": "the payer answered",
    "appeal_filed": "appeal filed",
    "corrected_claim": "corrected claim sent",
    "written_off": "written off",
    "resolved": "resolved",
    "paid": "paid",
    "payer_paid": "the payer paid",
    "to_patient": "moved to the patient",
    "approved": "approved",
    "denied": "denied",
    "voided": "claim voided",
    "superseded": "superseded by a newer payment",
    "reversed": "payment reversed",
    "rejected_by_payer": "the payer rejected the claim",
    "accepted": "the payer accepted the claim",
}

STATUS_WORDS: dict[str, str] = {
    "held": "Held before submission: not sent (see its open work)",
    "submitted": "Submitted",
    "accepted": "Accepted by the payer",
    "rejected": "Rejected by the payer",
    "paid": "Paid in full",
    "partially_paid": "Partly paid",
    "denied": "Denied",
    "appealed": "Appeal filed",
    "patient_balance": "Patient balance",
    "closed": "Closed",
    "voided": "Voided",
}

REASON_WORDS: dict[str, str] = {"sla": "SLA", "deadline": "deadline"}


def words(value: object) -> str:
    return str(value or "").replace("_", " ")


def kind_words(kind: object) -> str:
    return KIND_WORDS.get(str(kind), words(kind))


def cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def money(value: object) -> str:
    """$1,234.50 (a negative amount as -$12.00); the raw text when it is not a number."""
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    sign = "-" if amount < 0 else ""
    return f"{sign}${abs(amount):,.2f}"


def _amount(data: Data, key: str) -> Decimal:
    try:
        return Decimal(str(data.get(key) or "0"))
    except InvalidOperation:
        return Decimal(0)


def deadline_words(name: object) -> str:
    """appeal_level_2 -> appeal level 2, timely_filing -> timely filing."""
    return words(name)


# --- labels: one per event name the claim machine emits ------------------------------


@dataclass(frozen=True)
class Label:
    """How one event reads: `what` makes the headline from its data; `uses` are the data
    keys the headline already says, so the details do not repeat them."""

    what: Callable[[Data], str]
    uses: tuple[str, ...] = ()


def _status(data: Data) -> str:
    status = str(data.get("status") or "")
    text = STATUS_WORDS.get(status, cap(words(status)) or "Status changed")
    if data.get("coverage") and status in ("submitted", "accepted"):
        # The claim moved on to its next coverage.
        where = f"the {data['coverage']} payer {data.get('payer') or ''}".strip()
        if data.get("forwarded"):
            return f"With {where} (forwarded by the payer before it)"
        return f"Submitted to {where}"
    if status == "submitted":
        if data.get("frequency_code") == "7":
            return "Resubmitted as a corrected claim (frequency 7)"
        if data.get("frequency_code") == "1" or data.get("reason"):
            return f"Resubmitted ({data.get('reason') or 'as an original'})"
    elif status == "accepted" and data.get("reason"):
        return (
            "Back with the payer (payment reversed)"
            if data.get("reason") == "reversal"
            else f"Back with the payer ({data['reason']})"
        )
    elif status == "rejected":
        code = ":".join(str(data[k]) for k in ("category", "code") if data.get(k))
        return f"{text} ({code})" if code else text
    elif status == "denied" and data.get("category"):
        return f"{text} ({words(data['category'])})"
    elif status == "appealed" and data.get("level"):
        return f"Appeal filed (level {data['level']})"
    elif status == "patient_balance":
        if data.get("transferred"):
            return f"Transferred to the patient {money(data['transferred'])}"
        if data.get("written_off"):
            return "Payer's part written off: the rest is the patient's"
    elif status == "closed" and data.get("written_off"):
        return f"Closed: written off {money(data['written_off'])}"
    return text


def _remittance(data: Data) -> str:
    code = str(data.get("status_code") or "")
    paid = _amount(data, "paid")
    if data.get("voided"):
        return f"Payer's answer on the voided claim: {money(paid)}"
    if code == "22":
        return f"Payment reversed {money(abs(paid))}"
    if code == "25":
        return "Predetermination: priced, nothing paid"
    if code == "4":
        return "Denied (status 4)"
    if paid > 0:
        return f"Payment posted {money(paid)}"
    return f"Remittance posted: nothing paid (status {code or '?'})"


def _escalated(data: Data) -> str:
    reason = REASON_WORDS.get(str(data.get("reason") or ""), words(data.get("reason")))
    level = data.get("level") or "?"
    return f"Escalated to level {level}" + (f" ({reason})" if reason else "")


def _reassigned(data: Data) -> str:
    to_user, to_queue = data.get("to_user"), data.get("to_queue")
    if to_user and to_queue:
        return f"Reassigned to {to_user} in the {to_queue} queue"
    if to_user:
        return f"Reassigned to {to_user}"
    return f"Moved to the {to_queue} queue"


def _file(prefix: str, data: Data) -> str:
    return f"{prefix} (837P file {data['file']})" if data.get("file") else prefix


def _write_off_requested(data: Data) -> str:
    text = f"Write-off requested {money(data.get('amount'))}"
    return f"{text} (above the {money(data['limit'])} limit)" if data.get("limit") else text


def _written_off(data: Data) -> str:
    whose = "Patient's share written off" if data.get("patient") else "Written off"
    return f"{whose} {money(data.get('amount'))}"


def _closed(data: Data) -> str:
    kind = cap(kind_words(data.get("kind")))
    outcome = str(data.get("outcome") or "")
    if outcome == "resolved":
        return f"{kind} resolved"
    return f"{kind} closed" + (
        f" ({OUTCOME_WORDS.get(outcome, words(outcome))})" if outcome else ""
    )


def _missed(data: Data) -> str:
    text = f"Missed the {deadline_words(data.get('name')) or 'a'} deadline"
    return f"{text} ({data['deadline']})" if data.get("deadline") else text


def _ignored(data: Data) -> str:
    said = "acceptance" if data.get("accepted") else "rejection"
    status = words(data.get("status"))
    return f"Late {said} ignored" + (f" (the claim is already {status})" if status else "")


def _decided(data: Data) -> str:
    won = data.get("decision") == "overturned"
    text = f"Appeal level {data.get('level') or '?'} {'won: denial overturned' if won else 'lost'}"
    return text + (" (on the payer's 835)" if data.get("source") == "835" else "")


def _patient_paid(data: Data) -> str:
    owes = data.get("patient_owes")
    left = "owes nothing more" if owes in (None, "0.00", "0") else f"still owes {money(owes)}"
    return f"Patient paid {money(data.get('amount'))} ({left})"


EVENT_LABELS: dict[str, Label] = {
    "claim_status": Label(
        _status,
        (
            "status",
            "frequency_code",
            "reason",
            "category",
            "code",
            "level",
            "transferred",
            "written_off",
            "payer",
            "coverage",
            "forwarded",
        ),
    ),
    "remittance_posted": Label(_remittance, ("status_code", "paid", "voided")),
    "work_item_opened": Label(lambda d: f"{cap(kind_words(d.get('kind')))} opened", ("kind",)),
    "work_item_closed": Label(_closed, ("kind", "outcome")),
    "work_item_started": Label(
        lambda d: f"Work started on the {kind_words(d.get('kind'))}", ("kind",)
    ),
    "work_item_taken_over": Label(
        lambda d: f"Taken over from {d.get('from_user') or 'someone'}", ("from_user",)
    ),
    "work_item_resumed": Label(
        lambda d: f"{cap(kind_words(d.get('kind')))} back in the queue (its follow-up date came)",
        ("kind",),
    ),
    "work_item_escalated": Label(_escalated, ("level", "reason", "kind")),
    "work_item_reassigned": Label(_reassigned, ("to_user", "to_queue")),
    "call_logged": Label(lambda d: "Payer call"),
    "corrected_claim_sent": Label(lambda d: _file("Corrected claim sent", d), ("file",)),
    "claim_voided": Label(lambda d: _file("Void sent", d), ("file",)),
    "write_off_requested": Label(_write_off_requested, ("amount", "limit")),
    "write_off_approved": Label(
        lambda d: f"Write-off approved {money(d.get('amount'))}", ("amount",)
    ),
    "write_off_denied": Label(lambda d: f"Write-off denied {money(d.get('amount'))}", ("amount",)),
    "written_off": Label(_written_off, ("amount", "patient")),
    "write_off_reversed": Label(
        lambda d: f"Write-off of {money(d.get('amount'))} taken back (money came in)", ("amount",)
    ),
    "patient_payment_posted": Label(_patient_paid, ("amount", "patient_owes")),
    "patient_share_billed": Label(
        lambda d: f"Patient's share billed {money(d.get('amount'))}", ("amount",)
    ),
    "claim_reopened": Label(
        lambda d: f"Reopened (was {words(d.get('previous')) or 'closed'}): money came in",
        ("previous",),
    ),
    "acknowledgement_ignored": Label(_ignored, ("accepted", "status")),
    "status_inquiry_sent": Label(
        lambda d: "Status inquiry sent" + (f" (276 file {d['file']})" if d.get("file") else ""),
        ("file",),
    ),
    "status_inquiry_failed": Label(lambda d: "Status inquiry not sent"),
    "payer_rules_changed": Label(lambda d: "Payer rules changed: deadlines recomputed"),
    "deadline_missed": Label(_missed, ("name", "deadline")),
    "sent_to_next_payer": Label(
        lambda d: _file(f"Billed to the {d.get('coverage')} payer {d.get('payer')}", d),
        ("coverage", "payer", "file"),
    ),
    "waiting_for_next_payer": Label(
        lambda d: (
            f"Forwarded by {d.get('forwarded_by')} to the {d.get('coverage')} payer "
            f"{d.get('payer')}: waiting for its answer"
        ),
        ("coverage", "payer", "forwarded_by"),
    ),
    "next_payer_answered": Label(
        lambda d: f"The {d.get('coverage')} payer {d.get('payer')} answered first",
        ("coverage", "payer"),
    ),
    "next_payer_not_set_up": Label(
        lambda d: f"The {d.get('coverage')} payer {d.get('payer')} is not set up: not billed",
        ("coverage", "payer"),
    ),
    "next_payer_claim_failed": Label(
        lambda d: f"The claim to the {d.get('coverage')} payer {d.get('payer')} was not written",
        ("coverage", "payer"),
    ),
    "appeal_decided": Label(_decided, ("level", "decision", "source")),
}

# Data keys no entry shows: ids for machines (the item, the remittance's key) and who,
# which the entry says on its own.
HIDDEN_KEYS = frozenset({"by", "item", "key", "revision_id"})
DETAIL_WORDS: dict[str, str] = {
    "reasons": "adjustments",
    "patient_responsibility": "patient owes",
    "reason_code": "adjustment reason",
    "reference_number": "reference",
    "follow_up_date": "next follow-up",
    "requested_by": "requested by",
    "charge_before": "charge before",
    "due": "due",
    "queue": "queue",
}


def _value(key: str, value: object) -> str:
    if isinstance(value, list):
        return ", ".join(map(str, value))
    if key in ("amount", "paid", "patient_responsibility", "charge", "charge_before", "limit"):
        return money(value)
    if key == "due" and isinstance(value, str):
        return value[:10]
    if isinstance(value, bool):
        return "yes" if value else "no"
    return words(value) if key in ("category", "outcome", "reason_code") else str(value)


def pairs(data: Data, skip: Iterable[str] = ()) -> Details:
    """The data an entry has not said yet, as (what, value) in words."""
    skipped = HIDDEN_KEYS | set(skip)
    out: Details = []
    for k, v in data.items():
        if k in skipped or v in (None, "", [], "0", "0.00") or v is False:
            continue
        out.append((DETAIL_WORDS.get(k, words(k)), _value(k, v)))
    return out


def label(event: str, data: Data) -> str:
    """The headline of one event, in words; an event not in the table reads as its name."""
    known = EVENT_LABELS.get(event)
    if known is None:
        return cap(words(event)) or "Something happened"
    return known.what(data)


def event_details(event: str, data: Data) -> Details:
    known = EVENT_LABELS.get(event)
    return pairs(data, known.uses if known else ())


# What a person's action emits as its headline: the audit row of the action is folded
# into the last event of these names before it in the same step.
PRIMARY: dict[str, frozenset[str]] = {
    "start_work": frozenset({"work_item_started"}),
    "take_over": frozenset({"work_item_taken_over"}),
    "call_logged": frozenset({"call_logged"}),
    "appeal_filed": frozenset({"claim_status"}),
    "appeal_decided": frozenset({"appeal_decided"}),
    "corrected_claim": frozenset({"corrected_claim_sent"}),
    "void_claim": frozenset({"claim_voided"}),
    "write_off": frozenset({"written_off", "write_off_requested"}),
    "approve_write_off": frozenset({"write_off_approved"}),
    "deny_write_off": frozenset({"write_off_denied"}),
    "transfer_to_patient": frozenset({"claim_status", "patient_share_billed"}),
    "reassign": frozenset({"work_item_reassigned"}),
    "resolve": frozenset({"work_item_closed"}),
}
# Events that tell what another event changed: shown in its details, not on their own
# (unless nothing else happened in the step).
CONSEQUENCES = frozenset({"claim_status", "work_item_opened", "work_item_closed"})
# Headlines that are the payer's doing.
PAYER_EVENTS = frozenset({"remittance_posted", "acknowledgement_ignored", "claim_reopened"})

# Audit rows with a claim that are not the workflow's, in words; the rest read as words.
AUDIT_LABELS: dict[str, str] = {
    "action_refused": "Action refused",
    "forbidden": "Refused: not allowed",
    "csrf_rejected": "Refused: the form had expired",
    "claim_created": "Claim recorded",
    "claim_intake_rolled_back": "Claim intake rolled back",
    "unmatched_matched": "Remittance matched to this claim",
    "attachment_added": "Document attached",
    "eligibility_inquiry_sent": "Eligibility inquiry sent (270)",
    "eligibility_response_received": "Eligibility answer received (271)",
}
# Audit rows never on the timeline: the audit log keeps them.
NOT_ON_TIMELINE = frozenset(
    {"claim_viewed", "attachment_viewed", "appeal_packet_viewed", "appeal_packet_previewed"}
)
ACTION_WORDS: dict[str, str] = {
    "start_work": "start work",
    "take_over": "take over",
    "call_logged": "log a payer call",
    "appeal_filed": "file an appeal",
    "appeal_decided": "record the payer's decision on an appeal",
    "corrected_claim": "send a corrected claim",
    "void_claim": "void the claim",
    "write_off": "write off",
    "approve_write_off": "approve a write-off",
    "deny_write_off": "deny a write-off",
    "transfer_to_patient": "transfer to the patient",
    "reassign": "reassign",
    "resolve": "resolve",
}
_WORKFLOW_KEY = re.compile(r"^(?P<workflow>.+):(?P<run>[^:]+):(?P<seq>\d+)$")


def _consequence(event: str, data: Data) -> tuple[str, str]:
    """How a consequence reads inside another entry's details."""
    if event == "work_item_opened":
        where = f" in the {data['queue']} queue" if data.get("queue") else ""
        return ("opened", f"{kind_words(data.get('kind'))}{where}")
    if event == "work_item_closed":
        outcome = OUTCOME_WORDS.get(str(data.get("outcome")), words(data.get("outcome")))
        return ("closed", kind_words(data.get("kind")) + (f" ({outcome})" if outcome else ""))
    return ("now", label(event, data).lower())


def _audit_pairs(audit: AuditEvent, data: Data, already: Details) -> Details:
    """What the person entered that the action's event does not say (a resolution note,
    a write-off's note)."""
    said = {k for k, _v in already}
    skip = {*data, "conflict", "via", "method", "path", "file", "level"}
    shown = pairs({k: v for k, v in (audit.detail or {}).items() if k not in skip})
    return [("note" if k == "reason" else k, v) for k, v in shown if k not in said]


def _refused(audit: AuditEvent) -> TimelineEntry:
    detail = audit.detail or {}
    what = AUDIT_LABELS.get(audit.action, cap(words(audit.action)))
    if audit.action == "action_refused" and detail.get("kind"):
        tried = ACTION_WORDS.get(str(detail["kind"]), words(detail["kind"]))
        what = f"Refused: {tried}" + (
            " (someone changed it first)" if detail.get("conflict") else ""
        )
        shown: Details = []
    elif audit.action in ("forbidden", "csrf_rejected"):
        shown = [("page", str(detail["path"]))] if detail.get("path") else []
    else:
        shown = pairs(detail)
    return TimelineEntry(aware(audit.at), audit.actor, what, shown, "audit")


def _call_details(note: Note) -> Details:
    found = [
        ("representative", note.representative),
        ("reference", note.reference_number),
        ("outcome", note.outcome),
        ("next follow-up", note.next_follow_up.isoformat() if note.next_follow_up else ""),
        ("note", note.body),
    ]
    return [(k, v) for k, v in found if v]


@dataclass
class _Step:
    """The rows of one workflow step, in sequence order."""

    rows: list[tuple[int, object]] = field(default_factory=list)


def _steps(
    events: list[ClaimEvent], notes: list[Note], audits: list[tuple[int, AuditEvent]]
) -> list[_Step]:
    """Split one workflow's rows into steps: rows at one moment of the workflow's clock,
    an action's audit closing its step (what follows it is the timers' doing)."""
    stream: list[tuple[int, int, object]] = (
        [(e.seq, 0, e) for e in events]
        + [(n.event_seq or 0, 1, n) for n in notes]
        + [(seq, 2, a) for seq, a in audits]
    )
    stream.sort(key=lambda r: (r[0], r[1]))
    steps: list[_Step] = []
    current: _Step | None = None
    moment: datetime | None = None
    after_audit = False
    for seq, _order, row in stream:
        if isinstance(row, AuditEvent):
            if current is None:
                current = _Step()
                steps.append(current)
            current.rows.append((seq, row))
            after_audit = True
            continue
        at = aware(row.at if isinstance(row, ClaimEvent) else row.created_at)  # type: ignore[attr-defined]
        if current is None or after_audit or at != moment:
            current = _Step()
            steps.append(current)
        current.rows.append((seq, row))
        moment, after_audit = at, False
    return steps


def _headline_entry(e: ClaimEvent, audit: AuditEvent | None) -> TimelineEntry:
    data = e.data or {}
    payer = e.event in PAYER_EVENTS or (
        e.event == "claim_status"
        and data.get("status") in ("accepted", "rejected")
        and not data.get("by")
        and not data.get("reason")
    )
    if audit is not None:
        who = audit.actor
    else:
        who = str(data.get("by") or ("payer" if payer else "system"))
    entry = TimelineEntry(
        aware(e.at),
        who,
        label(e.event, data),
        event_details(e.event, data),
        "payer" if payer else "workflow",
    )
    entry.events.append(e.event)
    if e.event == "claim_status" and data.get("status") == "appealed":
        entry.appeal_level = int(data.get("level") or 0) or None
    if audit is not None:
        entry.details += _audit_pairs(audit, data, entry.details)
    return entry


def _step_entries(step: _Step) -> list[TimelineEntry]:
    """The entries of one step: one per headline event, what else the step changed in
    their details, a logged call's note and an action's audit folded into theirs."""
    events = [(seq, r) for seq, r in step.rows if isinstance(r, ClaimEvent)]
    notes = [r for _seq, r in step.rows if isinstance(r, Note)]
    audits = [(seq, r) for seq, r in step.rows if isinstance(r, AuditEvent)]
    headlines = {seq for seq, e in events if e.event not in CONSEQUENCES}
    # Each action's audit names its headline: the last event it emits before the audit.
    audit_of: dict[int, AuditEvent] = {}
    for seq, audit in audits:
        wanted = PRIMARY.get(audit.action, frozenset())
        found = [s for s, e in events if s < seq and e.event in wanted and s not in audit_of]
        if found:
            audit_of[found[-1]] = audit
            headlines.add(found[-1])
    if events and not headlines:
        statuses = [s for s, e in events if e.event == "claim_status"]
        headlines.add(statuses[-1] if statuses else events[0][0])

    entries: list[TimelineEntry] = []
    leading: list[ClaimEvent] = []  # consequences before any headline of the step
    for seq, e in events:
        if seq not in headlines:
            if entries:
                entries[-1].details.append(_consequence(e.event, e.data or {}))
                entries[-1].events.append(e.event)
            else:
                leading.append(e)
            continue
        entry = _headline_entry(e, audit_of.get(seq))
        # An action or a new status closes work before it says so: that closing is its
        # doing. Anything else before an unrelated headline stands on its own.
        if seq in audit_of or e.event == "claim_status":
            for earlier in leading:
                entry.details.append(_consequence(earlier.event, earlier.data or {}))
                entry.events.append(earlier.event)
        else:
            entries += [_headline_entry(earlier, None) for earlier in leading]
        leading = []
        if e.event == "call_logged":
            call = next((n for n in notes if n.kind == "call"), None)
            if call is not None:
                notes.remove(call)
                entry.details = _call_details(call)
                entry.source = "call"
                if not (e.data or {}).get("by") and seq not in audit_of:
                    entry.who = call.author
        entries.append(entry)
    entries += [_headline_entry(earlier, None) for earlier in leading]
    used = {id(a) for a in audit_of.values()}
    for _seq, audit in audits:
        if id(audit) not in used:
            # An action whose events are not (yet) written: said from the audit alone.
            what = cap(ACTION_WORDS.get(audit.action, words(audit.action)))
            entries.append(
                TimelineEntry(
                    aware(audit.at), audit.actor, what, pairs(audit.detail or {}), "audit"
                )
            )
    entries += [_note_entry(n) for n in notes]
    return entries


def _note_entry(note: Note) -> TimelineEntry:
    at = aware(note.created_at)
    if note.kind == "call":
        return TimelineEntry(at, note.author, "Payer call", _call_details(note), "call")
    if note.kind == "payer_status":
        return TimelineEntry(at, "payer", "Payer status (277)", [("", note.body)], "payer")
    return TimelineEntry(at, note.author, "Note", [("", note.body)], "note")


def build_timeline(
    events: Iterable[ClaimEvent], notes: Iterable[Note], audits: Iterable[AuditEvent]
) -> list[TimelineEntry]:
    """The story from the claim's rows, newest first (the later of two same-moment
    entries on top)."""
    events, notes, audits = list(events), list(notes), list(audits)
    workflows = sorted({e.workflow_id for e in events})
    by_workflow: dict[str, tuple[list[ClaimEvent], list[Note], list[tuple[int, AuditEvent]]]] = {
        w: ([], [], []) for w in workflows
    }
    for e in events:
        by_workflow[e.workflow_id][0].append(e)
    entries: list[TimelineEntry] = []
    loose_notes: list[Note] = []
    for n in notes:
        if n.workflow_id in by_workflow and n.event_seq is not None:
            by_workflow[n.workflow_id][1].append(n)
        else:
            loose_notes.append(n)
    created: AuditEvent | None = None
    loose_audits: list[AuditEvent] = []
    for a in audits:
        if a.action in NOT_ON_TIMELINE:
            continue
        key = _WORKFLOW_KEY.match(a.idempotency_key or "")
        if key and key["workflow"] in by_workflow:
            by_workflow[key["workflow"]][2].append((int(key["seq"]), a))
        elif a.action == "claim_created" and created is None:
            created = a
        elif a.action == "note_added" and any(_same_note(a, n) for n in loose_notes):
            continue  # the note itself is on the timeline
        else:
            loose_audits.append(a)
    first_entry: TimelineEntry | None = None
    for w in workflows:
        for n, step in enumerate(_steps(*by_workflow[w])):
            made = _step_entries(step)
            if n == 0 and made and step.rows[0][0] == 0 and isinstance(step.rows[0][1], ClaimEvent):
                first_entry = first_entry or made[0]
            entries += made
    if created is not None:
        if first_entry is not None and first_entry.who == "system":
            # The claim's creation is its first status: one entry, by who recorded it.
            first_entry.who = created.actor
            charge = (created.detail or {}).get("charge")
            if charge:
                first_entry.details.append(("charge", money(charge)))
        else:
            loose_audits.append(created)
    entries += [_note_entry(n) for n in loose_notes]
    entries += [_refused(a) for a in loose_audits]
    # Oldest first (stable, so same-moment entries keep their recorded order), then
    # turned around: newest first.
    entries.sort(key=lambda t: t.at)
    entries.reverse()
    return entries


def _same_note(audit: AuditEvent, note: Note) -> bool:
    return (
        note.author == audit.actor
        and abs((aware(note.created_at) - aware(audit.at)).total_seconds()) < 2
    )


def timeline(session: Session, claim_id: str) -> list[TimelineEntry]:
    """The claim's story, read from its events, notes and audit rows."""
    events = session.exec(
        select(ClaimEvent)
        .where(ClaimEvent.claim_id == claim_id)
        .order_by(ClaimEvent.workflow_id, ClaimEvent.seq)
    ).all()
    notes = session.exec(select(Note).where(Note.claim_id == claim_id).order_by(Note.id)).all()
    audits = session.exec(
        select(AuditEvent)
        .where(AuditEvent.claim_id == claim_id, AuditEvent.action.not_in(NOT_ON_TIMELINE))  # type: ignore[attr-defined]
        .order_by(AuditEvent.id)
    ).all()
    return build_timeline(events, notes, audits)


def appeals_filed(entries: Iterable[TimelineEntry]) -> list[AppealFiled]:
    """Every appeal filed on the claim, oldest first."""
    found = [
        AppealFiled(t.appeal_level, t.at, t.who) for t in entries if t.appeal_level is not None
    ]
    return sorted(found, key=lambda a: a.at)
