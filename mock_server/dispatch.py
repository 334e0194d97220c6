"""How a request reaches its handler: Connexion's own path, with the work that never changes done once.

Profiles of GET /v1/deals/{id} showed Connexion building each handler's decorator chain on every request
(inspecting the handler's signature and making a URI parser each time) and every API request walking the Swagger
UI's router before the API's. Both answers are fixed once the app is built, so:

- `OnceDecoratedApi` decorates each operation's handler on its first request and keeps the result;
- `DocsSwaggerUIMiddleware` sends only documentation paths through the Swagger UI's router.

Parameter parsing, validation and responses are still Connexion's; only repeated set-up is gone.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from connexion.apps.asynchronous import AsyncApi, AsyncOperation
from connexion.context import receive, scope
from connexion.decorators import StarletteDecorator
from connexion.middleware.swagger_ui import SwaggerUIMiddleware
from connexion.operations import AbstractOperation
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
