"""Security headers on every response the web app sends, error pages included.

The pages hold PHI and are driven by our own static scripts (htmx and a few small
files), so the policy admits script from this server only, nothing inline, no eval,
and no framing; and nothing but static files is kept in any cache.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Each part, and why:
# - default-src 'self': anything not named below (fonts, media, workers, manifests)
#   only from this server.
# - script-src 'self': our static files only; no 'unsafe-inline' (an injected <script>
#   or onclick= does not run) and no 'unsafe-eval' (htmx's hx-on/js: evaluation is off).
# - style-src 'self': the templates have no style attributes or <style> blocks, and
#   htmx's own indicator <style> is switched off (htmx-config in base.html, the rules
#   are in app.css). Swagger UI sets styles through the DOM, which CSP allows.
# - img-src 'self' data:: Swagger UI's icons are data: SVGs in its CSS, and the pages'
#   empty favicon is "data:,". No remote images: they would leak the page's visits.
# - connect-src 'self': htmx and /docs talk only to this server.
# - object-src 'none', base-uri 'none': no plugins; no <base> to re-point relative
#   script URLs at another host.
# - frame-ancestors 'none' (and X-Frame-Options for older browsers): no clickjacking.
# - form-action 'self': an injected form cannot post a password elsewhere.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    )
)

HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    # Claim and patient ids are in our URLs: they must not reach another site.
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
}

# Static files are the same for everyone and hold no PHI; /health answers a monitor.
# Everything else may show PHI, so no browser or proxy may keep a copy.
CACHEABLE_PREFIXES = ("/static/", "/health")

_SERVER_ERROR = b"Internal Server Error"


def _cacheable(path: str) -> bool:
    return path.startswith(CACHEABLE_PREFIXES)


class SecurityHeaders:
    """ASGI middleware, not BaseHTTPMiddleware: it does not buffer streamed responses
    (CSV exports, file downloads) and keeps working for background tasks.

    A header a route sets itself (e.g. its own CSP) is kept. `hsts` adds
    Strict-Transport-Security, for deployments behind HTTPS only."""

    def __init__(self, app: ASGIApp, hsts: bool = False) -> None:
        self.app = app
        self.headers = dict(HEADERS)
        if hsts:
            self.headers["strict-transport-security"] = "max-age=31536000"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cacheable = _cacheable(scope.get("path", ""))
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                self._apply(headers, cacheable)
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            # An unhandled error becomes Starlette's plain 500 outside this middleware,
            # which would go out bare; answer it here, then let the error propagate
            # to be logged.
            if not started:
                headers = MutableHeaders()
                headers["content-type"] = "text/plain; charset=utf-8"
                headers["content-length"] = str(len(_SERVER_ERROR))
                self._apply(headers, cacheable=False)
                await send({"type": "http.response.start", "status": 500, "headers": headers.raw})
                await send({"type": "http.response.body", "body": _SERVER_ERROR})
            raise

    def _apply(self, headers: MutableHeaders, cacheable: bool) -> None:
        for name, value in self.headers.items():
            if name not in headers:
                headers[name] = value
        if not cacheable:
            headers["cache-control"] = "no-store"
