"""How a request reaches its handler: Connexion's own path, with the work that never changes done once.

Profiles of GET /v1/deals/{id} showed Connexion building each handler's decorator chain on every request
(inspecting the handler's signature and making a URI parser each time) and every API request walking the Swagger
UI's router before the API's. Both answers are fixed once the app is built, so:

- `OnceDecoratedApi` decorates each operation's handler on its first request and keeps the result, and its
  `PreparedParameterDecorator` maps requests to handler arguments from tables of the operation made once;
- `DocsSwaggerUIMiddleware` sends only documentation paths through the Swagger UI's router;
- `SegmentRoutingMiddleware` matches a request only against the routes that share its first path segment,
  instead of trying every route of the API in turn (Starlette's router still does the matching).

Parameter parsing, validation and responses are still Connexion's; only repeated set-up is gone. (Request
validation is prepared the same way: `mock_server.http.validation.PreparedValidationMiddleware`.)
"""

from __future__ import annotations

import asyncio
import copy
import functools
from collections.abc import Awaitable, Callable
from typing import Any

from connexion.apps.asynchronous import AsyncApi, AsyncOperation
from connexion.context import _context, _operation, _receive, _scope, context, operation, receive, scope
from connexion.decorators import StarletteDecorator
from connexion.decorators.parameter import (
    CONTEXT_NAME,
    AsyncParameterDecorator,
    _get_body_argument,
    _get_file_arguments,
    _get_query_defaults,
    _get_val_from_param,
    _query_args_helper,
    pythonic,
    sanitized,
    unwrap_decorators,
)
from connexion.http_facts import FORM_CONTENT_TYPES
from connexion.lifecycle import ConnexionRequest
from connexion.middleware.abstract import RoutedAPI, RoutedMiddleware
from connexion.middleware.routing import RoutingMiddleware
from connexion.middleware.swagger_ui import SwaggerUIMiddleware
from connexion.operations import AbstractOperation, Swagger2Operation
from connexion.utils import deep_merge, inspect_function_arguments
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from mock_server.http.docs import PreparedSwaggerUIAPI
from mock_server.http.validation import PARSED_BODY, PARSED_QUERY

# The first path segment below an API's base path that belongs to the documentation, not to an operation.
DOC_SEGMENTS = frozenset({"docs", "openapi.json", "openapi.yaml"})


class ArgumentPlan:
    """What Connexion's parameter decorator looks up in the operation on every request, looked up once: the path
    and query parameter definitions, the query defaults, the sanitized names and the body's argument name."""

    def __init__(
        self, spec: AbstractOperation, arguments: list[str], has_kwargs: bool, sanitize: Callable[[str], str]
    ) -> None:
        self.spec, self.arguments, self.has_kwargs, self.sanitize = spec, arguments, has_kwargs, sanitize
        self.path = {parameter["name"]: parameter for parameter in spec.parameters if parameter["in"] == "path"}
        self.query = {parameter["name"]: parameter for parameter in spec.parameters if parameter["in"] == "query"}
        self.defaults = _get_query_defaults(self.query)
        # The query parameters the handler takes, by name: their argument names (Connexion passes no others).
        self.query_arguments = {
            name: sanitize(name) for name in self.query if has_kwargs or sanitize(name) in arguments
        }
        # Connexion merges the defaults into each request's query and converts them every time. Defaults that can
        # change neither in the merge nor in the handler (no dicts, no lists) are converted once, here.
        self.flat_defaults: dict[str, Any] | None = None
        if all(isinstance(value, str | int | float | bool) for value in self.defaults.values()):
            converted = {self.query_arguments[name]: _get_val_from_param(value, self.query[name])
                         for name, value in self.defaults.items() if name in self.query_arguments}  # fmt: skip
            if all(isinstance(value, str | int | float | bool | None) for value in converted.values()):
                self.flat_defaults = converted
        # TRACE requests carry no body (RFC 7231 4.3.8); an operation without one gives its handler none.
        self.takes_body = spec.method.upper() != "TRACE" and (spec.is_request_body_defined or has_kwargs)

    def wants_body(self, content_type: str, mimetype: str) -> bool:
        body_name = self.sanitize(self.spec.body_name(content_type))
        return (
            body_name in self.arguments
            or self.has_kwargs
            or (mimetype in FORM_CONTENT_TYPES and isinstance(self.spec, Swagger2Operation))
        )

    def kwargs(
        self, path_params: dict[str, Any], query_params: dict[str, Any], body: Any = None,
        files: dict[str, Any] | None = None, mimetype: str = "",
    ) -> dict[str, Any]:  # fmt: skip
        """The handler's arguments: the request's path and query parameters (as parsed by the operation's URI
        parser), its body and files (with the media type they came as), and what the request's context holds."""
        sanitize = self.sanitize
        found: dict[str, Any] = {}
        for name, value in path_params.items():
            definition = self.path.get(name)
            # Path values without a definition are injected ones and pass as they are.
            found[sanitize(name)] = value if definition is None else _get_val_from_param(value, definition)
        if self.flat_defaults is not None:  # what `_query_args_helper` gives for a merge with flat defaults
            found.update(self.flat_defaults)
            for name, value in query_params.items():
                argument = self.query_arguments.get(name)
                if argument is not None:
                    found[argument] = _get_val_from_param(value, self.query[name])
        else:
            query = copy.deepcopy(self.defaults)
            deep_merge(query, query_params)
            found.update(_query_args_helper(self.query, query, self.arguments, self.has_kwargs, sanitize))
        if self.takes_body:
            found.update(
                _get_body_argument(body, operation=self.spec, arguments=self.arguments, has_kwargs=self.has_kwargs,
                                   sanitize=sanitize, content_type=mimetype)
            )  # fmt: skip
            body_schema = self.spec.body_schema(mimetype)
            found.update(_get_file_arguments(files or {}, self.arguments, body_schema, self.has_kwargs))
        kwargs = {sanitize(key): value for key, value in found.items()}
        for key, value in context.items():  # what middleware put in the request's context (none of ours do)
            if self.has_kwargs or key in self.arguments:
                kwargs[key] = value
        if CONTEXT_NAME in self.arguments:
            kwargs[CONTEXT_NAME] = context
        return kwargs


class PreparedParameterDecorator(AsyncParameterDecorator):  # type: ignore[misc]
    """Connexion's request-to-arguments mapping for one handler, its `ArgumentPlan` made on the first request.
    Form data (and with it the files) is read only from form requests, the only ones that carry any."""

    def __call__(self, function: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        arguments, has_kwargs = inspect_function_arguments(unwrap_decorators(function))
        # Sanitizing a name takes three regular expressions; names repeat, so each is worked out once.
        sanitize = functools.lru_cache(maxsize=512)(self.sanitize_fn)
        plan: ArgumentPlan | None = None

        @functools.wraps(function)
        async def wrapper(request: ConnexionRequest) -> Any:
            nonlocal plan
            if plan is None:
                # The operation in the request's context is the same object for every request to this handler.
                plan = ArgumentPlan(operation._get_current_object(), arguments, has_kwargs, sanitize)
            if not plan.takes_body:  # no body or files to read (a read's content type is not looked up)
                return await function(**plan.kwargs(request.path_params, request.query_params))
            mimetype = request.mimetype
            body = await request.get_body() if plan.wants_body(request.content_type, mimetype) else None
            files = await request.files() if mimetype in FORM_CONTENT_TYPES else {}
            return await function(**plan.kwargs(request.path_params, request.query_params, body, files, mimetype))

        return wrapper


class OnceDecorator(StarletteDecorator):  # type: ignore[misc]
    """Connexion's Starlette decorator, building the chain (parameter and response decorators) on first use."""

    @property
    def _parameter_decorator_cls(self) -> type[AsyncParameterDecorator]:
        return PreparedParameterDecorator

    @property
    def _sync_async_decorator(self) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        # Connexion asks on every call whether the handler is a coroutine function; ours all are, so ask once.
        wrap_sync = super()._sync_async_decorator
        return lambda function: function if asyncio.iscoroutinefunction(function) else wrap_sync(function)

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
            extensions = scope.get("extensions", {})
            parsed = extensions.get(PARSED_QUERY)
            if parsed is not None:
                request._query_params = parsed  # validated already, by a parser of the same parameters
            if PARSED_BODY in extensions:
                request._starlette_request._json = extensions[PARSED_BODY]  # what `request.json()` would parse
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


class DirectOperation:
    """A bodyless operation's handler, called with the query that request validation parsed and checked, its
    answer sent as it is: what Connexion's context middleware, its app's router, the handler's decorator chain
    (a second request object, the query parsed again, the answer's type looked up) would do for it, done once.
    A request that was not validated goes Connexion's way."""

    def __init__(self, next_app: ASGIApp, operation: AbstractOperation, sanitize: Callable[[str], str]) -> None:
        self.next_app = next_app
        self.operation = operation
        self.function = operation.function
        arguments, has_kwargs = inspect_function_arguments(unwrap_decorators(self.function))
        self.plan = ArgumentPlan(operation, arguments, has_kwargs, functools.lru_cache(maxsize=512)(sanitize))
        self.uri_parser = operation.uri_parser_class(operation.parameters, operation.body_definition())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        extensions = scope.get("extensions", {})
        query = extensions.get(PARSED_QUERY)
        if query is None:
            await self.next_app(scope, receive, send)
            return
        # What Connexion's context middleware makes known to the handler (`connexion.context` and the like).
        _context.set(extensions.get("connexion_context", {}))
        _operation.set(self.operation)
        _receive.set(receive)
        _scope.set(scope)
        path_params = self.uri_parser.resolve_path(scope.get("path_params", {}))
        response = await self.function(**self.plan.kwargs(path_params, query))
        if not isinstance(response, Response):
            raise TypeError(f"{self.operation.operation_id} answered {type(response).__name__}, not a Response")
        await response(scope, receive, send)


class DirectAPI(RoutedAPI[Any]):  # type: ignore[misc]
    def __init__(self, *args: Any, pythonic_params: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sanitize = pythonic if pythonic_params else sanitized
        self.add_paths()

    def make_operation(self, operation: AbstractOperation) -> Any:
        direct = DirectOperation(self.next_app, operation, self.sanitize)
        # The argument plan says whether the handler takes a body, as it does for Connexion's own path.
        return self.next_app if direct.plan.takes_body else direct


class DirectMiddleware(RoutedMiddleware[DirectAPI]):  # type: ignore[misc]
    """Bodyless operations' handlers called straight from the validated request (see `DirectOperation`); the
    others, and any request validation did not parse, go on through Connexion's context middleware and app."""

    api_cls = DirectAPI


class DocsSwaggerUIMiddleware(SwaggerUIMiddleware):  # type: ignore[misc]
    """The Swagger UI and the served spec (from prepared bytes, see `docs`), without routing every API request
    through them first."""

    def __init__(self, app: Any, bases: frozenset[str] = frozenset(), **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.bases = bases  # first path segments of the APIs, such as "v1"

    def add_api(
        self, specification: Any, base_path: str | None = None, arguments: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:  # fmt: skip
        # Connexion's add_api, with the API class that serves the spec from prepared bytes.
        api = PreparedSwaggerUIAPI(
            specification, base_path=base_path, arguments=arguments, default=self.default_fn, **kwargs
        )
        self.router.mount(api.base_path, app=api.router)

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
