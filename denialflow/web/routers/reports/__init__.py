"""Reports: the dashboard, denials, A/R aging, payer scorecards and productivity.

Every page takes the same date range and payer filters, draws its charts from data it
embeds (static/charts.js, no inline script) with the numbers in a table beside each
chart, and offers every table as CSV."""

from __future__ import annotations

from fastapi import APIRouter

from denialflow.web.routers.reports import aging, dashboard, denials, payers, productivity, spikes

# Pages and CSV downloads: /openapi.json describes the JSON API only.
router = APIRouter(include_in_schema=False)
router.include_router(productivity.router)
router.include_router(aging.router)
router.include_router(denials.router)
router.include_router(payers.router)
router.include_router(dashboard.router)
router.include_router(spikes.router)
