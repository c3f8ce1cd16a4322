"""A database that refuses work (SQLite locked by another writer, PostgreSQL down,
restarting or read-only) is a moment of busy, not a bug: the page says so with a 503
instead of a 500 and a traceback.

The request's transaction never committed, so the answer can promise nothing changed.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DBAPIError, OperationalError

from denialflow.web.templating import templates

TITLE = "The database is busy"
MESSAGE = (
    "The database is busy or unavailable right now, so nothing was changed. "
    "Please try again in a moment."
)
RETRY_AFTER_SECONDS = "5"

# PostgreSQL conditions that pass once the server is back or writable again: connection
# exceptions (08), read-only transaction (25006), insufficient resources (53), operator
# intervention such as an admin shutdown or a server starting up (57P).
_TRANSIENT_SQLSTATE_PREFIXES = ("08", "25006", "53", "57P")


def is_db_unavailable(exc: BaseException) -> bool:
    if isinstance(exc, OperationalError):
        return True
    if isinstance(exc, DBAPIError):
        state = getattr(exc.orig, "sqlstate", None) or ""
        return state.startswith(_TRANSIENT_SQLSTATE_PREFIXES)
    return False


async def _db_unavailable(request: Request, exc: Exception) -> Response:
    if not is_db_unavailable(exc):
        # Another kind of database error is a real bug: let it be the 500 it is.
        raise exc
    headers = {"Retry-After": RETRY_AFTER_SECONDS}
    if request.url.path.startswith("/api/"):
        return JSONResponse({"detail": MESSAGE}, status_code=503, headers=headers)
    return templates.TemplateResponse(
        request,
        "pages/error.html",
        {"status": 503, "title": TITLE, "message": MESSAGE},
        status_code=503,
        headers=headers,
    )


def register(app: FastAPI) -> None:
    app.add_exception_handler(DBAPIError, _db_unavailable)
