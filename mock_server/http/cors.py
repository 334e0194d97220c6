"""Cross-origin calls from browsers: Starlette's CORS middleware on the API and its docs, preflights answered 204."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from mock_server.http import envelope

ALLOWED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
ALLOWED_HEADERS = ("x-api-token", "authorization", "content-type")
# What a page's script may read of an answer besides the CORS-safelisted headers: the rate-limit state.
EXPOSED_HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "retry-after")


class _Preflights(CORSMiddleware):
    """Starlette's CORS rules; an allowed preflight answers 204 without a body, a refused one in the envelope."""

    def preflight_response(self, request_headers: Headers) -> Response:
        answer = super().preflight_response(request_headers)
        headers = {
            name: value for name, value in answer.headers.items() if name not in ("content-length", "content-type")
        }
        if answer.status_code < 400:
            return Response(status_code=204, headers=headers)
        reason = bytes(answer.body).decode("utf-8", errors="replace").replace("Disallowed CORS ", "")
        message = (
            f"Cross-origin request refused: its {reason} is not allowed (origin {request_headers['origin']!r}, "
            f"method {request_headers['access-control-request-method']!r}); the headers allowed are "
            f"{', '.join(ALLOWED_HEADERS)}."
        )
        return Response(
            envelope.encode(envelope.error_body(message)), status_code=400, headers=headers, media_type=envelope.JSON
        )


class CrossOriginMiddleware:
    """CORS on everything under `prefix` (the API, its Swagger UI and its spec); the control plane stays same-origin,
    so a page a developer happens to visit cannot steer or read the mock through the browser."""

    def __init__(self, app: ASGIApp, origins: Sequence[str] = ("*",), prefix: str = "/v1") -> None:
        self.app = app
        self.prefix = prefix
        self.cors = _Preflights(
            app,
            allow_origins=list(origins),
            allow_methods=ALLOWED_METHODS,
            allow_headers=ALLOWED_HEADERS,
            expose_headers=EXPOSED_HEADERS,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if (
            scope["type"] == "http"
            and (path == self.prefix or path.startswith(self.prefix + "/"))
            and any(name == b"origin" for name, _ in scope["headers"])  # (ASGI header names are lowercase)
        ):
            await self.cors(scope, receive, send)  # a request without an `Origin` is no CORS request: nothing to do
        else:
            await self.app(scope, receive, send)
