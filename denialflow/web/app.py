"""The FastAPI application: one router per area."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from denialflow.models.db import get_engine
from denialflow.settings import Settings, get_settings
from denialflow.web import db_unavailable
from denialflow.web.deps import CsrfRejected, Forbidden, NotFound, NotSignedIn
from denialflow.web.rendering import is_htmx
from denialflow.web.routers import (
    accounts,
    admin,
    api,
    appeals,
    assistance,
    audit,
    claims,
    codec,
    complaints,
    corrections,
    eligibility,
    eobs,
    files,
    health,
    login,
    patient_refunds,
    payment_plans,
    queue,
    reports,
    search,
    statements,
    team,
    unmatched,
)
from denialflow.web.security_headers import SecurityHeaders
from denialflow.web.templating import templates

# Swagger UI needs data: images (its icons are inline SVG in its CSS) and nothing else
# from anywhere but this server; no inline script, no eval.
DOCS_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _error(request: Request, status: int, title: str, message: str) -> Response:
    if _wants_json(request):
        return JSONResponse({"detail": message}, status_code=status)
    return templates.TemplateResponse(
        request,
        "pages/error.html",
        {"status": status, "title": title, "message": message},
        status_code=status,
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="denialflow",
        version="0.1.0",
        description="Denial and follow-up management. The JSON API is under /api.",
        # FastAPI's own /docs and /redoc pages load their script from a CDN and start it
        # with inline script; /docs below is served from static/ instead.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = get_engine(settings.effective_database_url)
    app.state.temporal = None
    app.add_middleware(SecurityHeaders, hsts=settings.secure_cookies)
    db_unavailable.register(app)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")

    @app.exception_handler(NotSignedIn)
    async def _not_signed_in(request: Request, _exc: NotSignedIn) -> Response:
        if _wants_json(request):
            return JSONResponse({"detail": "sign in or send a bearer token"}, status_code=401)
        target = "/login?next=" + request.url.path
        if is_htmx(request):
            return Response(status_code=401, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden) -> Response:
        return _error(request, 403, "Not allowed", exc.message)

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound) -> Response:
        return _error(request, 404, exc.title, exc.message)

    @app.exception_handler(CsrfRejected)
    async def _csrf(request: Request, _exc: CsrfRejected) -> Response:
        return _error(
            request,
            403,
            "Form expired",
            "This form's security token is missing or stale: reload the page and try again. "
            "Nothing was changed.",
        )

    for module in (
        login,
        health,
        queue,
        claims,
        corrections,
        eligibility,
        appeals,
        search,
        team,
        admin,
        audit,
        files,
        eobs,
        unmatched,
        accounts,
        patient_refunds,
        statements,
        payment_plans,
        assistance,
        complaints,
        api,
        codec,
        reports,
    ):
        app.include_router(module.router)

    @app.get("/docs", include_in_schema=False)
    async def _api_docs(request: Request) -> Response:
        """The API reference (Swagger UI) from our own static files: it works offline, and
        its policy lets nothing load or run that did not come from this server."""
        return templates.TemplateResponse(
            request,
            "pages/api_docs.html",
            {"title": f"{app.title}: API", "openapi_url": app.openapi_url},
            headers={"Content-Security-Policy": DOCS_CSP},
        )

    return app
