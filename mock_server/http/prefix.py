"""The company-domain form of the API: `/api/v1/...` served as `/v1/...`."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

COMPANY_PREFIX = "/api/v1"
BASE = "/v1"


class CompanyPrefixMiddleware:
    """Rewrites a path under `/api/v1` (what clients built for `https://<company>.fintesk.com/api/v1` send) to the
    same path under `/v1` before anything else reads it, so that routing, the request log, the journal, faults and
    rate limits all see one request whichever form the client used."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if path == COMPANY_PREFIX or path.startswith(COMPANY_PREFIX + "/"):
                scope = dict(scope)
                scope["path"] = path[len("/api") :]
                raw = scope.get("raw_path")
                if isinstance(raw, bytes) and raw.startswith(b"/api/v1"):
                    scope["raw_path"] = raw[len(b"/api") :]
        await self.app(scope, receive, send)
