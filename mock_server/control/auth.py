"""The admin token: every /__mock__ route but the health check needs `x-admin-token` when the server has one."""

from __future__ import annotations

import hmac

from starlette.types import ASGIApp, Receive, Scope, Send

from mock_server.errors import Unauthorized

ADMIN_PREFIX = "/__mock__"
ADMIN_HEADER = b"x-admin-token"
# Liveness probes ask without credentials; the answer holds no tenant data.
OPEN_ROUTES = frozenset({("GET", "/__mock__/health")})


class AdminAuthMiddleware:
    """Refuses a control-plane request without the server's admin token (401 in the Fintesk envelope)."""

    def __init__(self, app: ASGIApp, admin_token: str | None = None) -> None:
        self.app = app
        self.expected = admin_token.encode("utf-8") if admin_token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.expected is not None and scope["type"] == "http" and self._guarded(scope):
            given = next((value for name, value in scope["headers"] if name == ADMIN_HEADER), b"")
            # compare_digest takes as long for a near miss as for a wild guess, so timing tells nothing.
            if not hmac.compare_digest(given, self.expected):
                raise Unauthorized(
                    "The control plane needs the header x-admin-token with the server's admin token (--admin-token)."
                )
        await self.app(scope, receive, send)

    @staticmethod
    def _guarded(scope: Scope) -> bool:
        path: str = scope.get("path", "")
        if not (path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/")):
            return False
        return (scope["method"], path.rstrip("/")) not in OPEN_ROUTES
