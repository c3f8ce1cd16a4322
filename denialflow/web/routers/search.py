"""Find a claim by our claim id (the patient control number) or the payer's claim number.

Every specialist and supervisor finds every claim; one outside a specialist's queues
opens read only (the claim page says why).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from denialflow.models.tables import Claim, Payer, Remittance
from denialflow.web.deps import SessionDep, Viewer, Worker
from denialflow.web.queries import visible_claims
from denialflow.web.templating import templates

# Pages and form posts (HTML, redirects): /openapi.json describes the JSON API only.
router = APIRouter(tags=["search"], include_in_schema=False)

MAX_RESULTS = 50
MAX_QUERY = 64  # the longest claim id; payer claim numbers are shorter


def find_claims(session: Session, text: str) -> list[Claim]:
    """Claims whose id is `text` or starts with it (any case), or whose payer claim
    number is `text` on the claim or on any of its remittances (a payer may give a
    split or corrected claim a new number)."""
    needle = text.strip()
    if not needle:
        return []
    prefix = needle.upper().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    by_remit = select(Remittance.claim_id).where(Remittance.payer_claim_control_number == needle)
    stmt = (
        select(Claim)
        .where(
            or_(
                Claim.id == needle,
                func.upper(Claim.id).like(prefix, escape="\\"),
                Claim.payer_claim_control_number == needle,
                col(Claim.id).in_(by_remit),
            )
        )
        # The exact match first, then the rest in id order.
        .order_by((Claim.id != needle), Claim.id)
        .limit(MAX_RESULTS + 1)
    )
    return list(session.exec(stmt))


def _search(session: Session, viewer: Viewer, q: str) -> dict[str, object]:
    problems: list[str] = []
    if len(q) > MAX_QUERY:
        problems.append(
            f"search: {len(q)} characters is longer than any claim number "
            f"(at most {MAX_QUERY}); shorten it"
        )
        q = ""
    found = find_claims(session, q)
    more = len(found) > MAX_RESULTS
    found = found[:MAX_RESULTS]
    ids = [c.id for c in found]
    # Every worker may open any claim to read it; the results say which are read only.
    visible = visible_claims(session, viewer, ids, read_only=True)
    shown = [c for c in found if c.id in visible]
    workable = visible_claims(session, viewer, ids)
    return {
        "q": q,
        "results": shown,
        "read_only": {c.id for c in shown if c.id not in workable},
        "hidden": len(found) - len(shown),
        "more": more,
        "problems": problems,
        "payers": dict(session.exec(select(Payer.id, Payer.name)).all()) if shown else {},
    }


@router.get("/search", response_class=HTMLResponse)
def search_page(request: Request, session: SessionDep, viewer: Worker, q: str = "") -> HTMLResponse:
    return templates.TemplateResponse(request, "pages/search.html", _search(session, viewer, q))
