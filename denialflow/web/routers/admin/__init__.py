"""Admin: payers and their rules, fee schedules, queues and membership, users and tokens,
write-off reasons and limits, the financial-assistance sliding scale.

Every change is audited with who, when, before and after; passwords and API tokens
never are. Forms are checked in `denialflow.web.forms`, so a bad value comes back as a
message on its own field (and nothing is saved) instead of a framework error. Each page
works as a plain form post; under HTMX only the changed part is swapped.
"""

from __future__ import annotations

from fastapi import APIRouter

from denialflow.web.routers.admin import (
    appeal_letters,
    fees,
    financial_assistance,
    index,
    payers,
    queues,
    tokens,
    users,
    write_offs,
)

# Pages and form posts (HTML, redirects): /openapi.json describes the JSON API only.
router = APIRouter(include_in_schema=False)
for area in (
    index,
    payers,
    fees,
    queues,
    users,
    tokens,
    write_offs,
    appeal_letters,
    financial_assistance,
):
    router.include_router(area.router)
