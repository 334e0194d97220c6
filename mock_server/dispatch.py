"""How a request reaches its handler: Connexion's own path, with the work that never changes done once.

Profiles of GET /v1/deals/{id} showed Connexion building each handler's decorator chain on every request
(inspecting the handler's signature and making a URI parser each time) and every API request walking the Swagger
UI's router before the API's. Both answers are fixed once the app is built, so:

- `OnceDecoratedApi` decorates each operation's handler on its first request and keeps the result;
- `DocsSwaggerUIMiddleware` sends only documentation paths through the Swagger UI's router;
- `SegmentRoutingMiddleware` matches a request only against the routes that share its first path segment,
  instead of trying every route of the API in turn (Starlette's router still does the matching).

Parameter parsing, validation and responses are still Connexion's; only repeated set-up is gone.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from connexion.apps.asynchronous import AsyncApi, AsyncOperation
from connexion.context import receive, scope
from connexion.decorators import StarletteDecorator
from connexion.middleware.routing import RoutingMiddleware
from connexion.middleware.swagger_ui import SwaggerUIMiddleware
from connexion.operations import AbstractOperation
from starlette.routing import BaseRoute, Mount, Route, Router
from starlette.types import Receive, Scope, Send

# The first path segment below an API's base path that belongs to the documentation, not to an operation.
DOC_SEGMENTS = frozenset({"docs", "openapi.json", "openapi.yaml"})


class OnceDecorator(StarletteDecorator):  # type: ignore[misc]
    """Connexion's Starlette decorator, building the chain (parameter and response decorators) on first use."""

    def __call__(self, function: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
        built: tuple[Any, Callable[..., Awaitable[Any]]] | None = None

        @functools.wraps(function)
        async def wrapper(*_args: Any, **_kwargs: Any) -> Any:
            nonlocal built
            if built is None:
                # The URI parser and the chain depend only on the operation, which is the same on every call.
                built = (self.uri_parser, self.decorate(function))
            uri_parser, decorated = built
            request = self.framework.get_request(uri_parser=uri_parser, scope=scope, receive=receive)
            return await decorated(request)

        return wrapper


class OnceDecoratedOperation(AsyncOperation):  # type: ignore[misc]
    @functools.cached_property
    def fn(self) -> Callable[..., Awaitable[Any]]:
        return OnceDecorator(pythonic_params=self.pythonic_params, jsonifier=self.jsonifier)(self._fn)


class OnceDecoratedApi(AsyncApi):  # type: ignore[misc]
    def make_operation(self, operation: AbstractOperation) -> AsyncOperation:
        return OnceDecoratedOperation.from_operation(
            operation, pythonic_params=self.pythonic_params, jsonifier=self.jsonifier
        )


class DocsSwaggerUIMiddleware(SwaggerUIMiddleware):  # type: ignore[misc]
    """The Swagger UI and the served spec, without routing every API request through them first."""

    def __init__(self, app: Any, bases: frozenset[str] = frozenset(), **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.bases = bases  # first path segments of the APIs, such as "v1"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            segments = scope["path"].split("/", 3)  # "", base, first segment below it, rest
            if len(segments) > 2 and segments[1] in self.bases and segments[2] not in DOC_SEGMENTS:
                await self.app(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def first_segment(path: str) -> str:
    return path.lstrip("/").split("/", 1)[0]


class SegmentRouter(Router):
    """A router whose routes all start with a fixed segment, matched group by group: the routes of `/deals/...`
    are the only ones tried for a request to `/deals/...`. Anything else goes through the whole router."""

    def __init__(self, router: Router) -> None:
        super().__init__(routes=router.routes, redirect_slashes=router.redirect_slashes, default=router.default)
        grouped: dict[str, list[BaseRoute]] = {}
        for route in router.routes:
            grouped.setdefault(first_segment(getattr(route, "path", "")), []).append(route)
        self.groups = {
            segment: Router(routes=routes, redirect_slashes=router.redirect_slashes, default=router.default)
            for segment, routes in grouped.items()
        }

    @classmethod
    def of(cls, router: Router) -> Router:
        """`router` grouped by first segment, or as it is when a route could match more than one segment."""
        for route in router.routes:
            segment = first_segment(getattr(route, "path", ""))
            if not isinstance(route, Route) or not segment or "{" in segment:
                return router
        return cls(router)

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path, root = scope["path"], scope.get("root_path", "")
            group = self.groups.get(first_segment(path[len(root) :] if path.startswith(root) else path))
            if group is not None:
                await group.app(scope, receive, send)
                return
        await super().app(scope, receive, send)


class SegmentRoutingMiddleware(RoutingMiddleware):  # type: ignore[misc]
    """Connexion's routing, with each API's router grouped by first segment (see `SegmentRouter`)."""

    def add_api(self, *args: Any, **kwargs: Any) -> None:
        super().add_api(*args, **kwargs)
        mount = self.router.routes[-1]
        if isinstance(mount, Mount) and isinstance(mount._base_app, Router):
            mount.app = mount._base_app = SegmentRouter.of(mount._base_app)
