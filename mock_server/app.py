"""create_app(settings): the Connexion app that serves the spec from the tenants' state."""

from __future__ import annotations

# First: the libraries below are imported with their deprecation warnings kept out of users' runs (see `quiet`).
from mock_server.http import quiet  # noqa: F401

# isort: split
import logging
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import yaml
from connexion import AsyncApp
from connexion.exceptions import ProblemException
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from connexion.middleware.context import ContextMiddleware
from connexion.middleware.exceptions import ExceptionMiddleware
from connexion.middleware.lifespan import LifespanMiddleware
from connexion.middleware.response_validation import ResponseValidationMiddleware
from connexion.middleware.server_error import ServerErrorMiddleware
from connexion.options import SwaggerUIOptions
from connexion.resolver import Resolver
from starlette.exceptions import HTTPException
from starlette.types import Scope

from mock_server import ADMIN_SPEC_PATH, SPEC_PATH
from mock_server.control.auth import AdminAuthMiddleware
from mock_server.control.deliveries import Deliveries
from mock_server.control.events import Events, plans
from mock_server.control.faults import FaultMiddleware, Faults
from mock_server.control.journal import Journal, JournalMiddleware
from mock_server.control.plane import ControlMiddleware, ControlPlane
from mock_server.control.ratelimit import RateLimiter, RateLimitMiddleware
from mock_server.control.tenancy import Tenants
from mock_server.control.unknown import UnknownFieldsMiddleware
from mock_server.data import fixtures
from mock_server.data.generate import generate_account
from mock_server.data.state import load_state_file
from mock_server.data.store import Store
from mock_server.domain.clock import Clock
from mock_server.errors import FinteskError
from mock_server.handlers import registry, snake_case
from mock_server.http import envelope
from mock_server.http.access_log import AccessLogMiddleware
from mock_server.http.big_accounts import off_the_loop
from mock_server.http.cors import CrossOriginMiddleware
from mock_server.http.dispatch import (
    DirectMiddleware,
    DocsSwaggerUIMiddleware,
    OnceDecoratedApi,
    SegmentRoutingMiddleware,
)
from mock_server.http.hosts import HostAllowlist, HostMiddleware
from mock_server.http.kept import KeptAnswerMiddleware
from mock_server.http.limits import MB, LimitsMiddleware
from mock_server.http.nearest import NearestPath
from mock_server.http.prefix import CompanyPrefixMiddleware
from mock_server.http.tenant import TenantMiddleware, current_account, mask_token, tokens_of
from mock_server.http.validation import VALIDATORS, LenientURIParser, PreparedValidationMiddleware
from mock_server.settings import Settings

logger = logging.getLogger("fintesk_mock")
# The control plane's state import, the one path that takes bodies over `max_body_mb`.
IMPORT_PATH = r"/__mock__/tenants/[^/]+/state"


def create_app(settings: Settings | None = None) -> AsyncApp:
    settings = settings or Settings()
    control = control_plane(settings)
    handlers = registry()
    # libyaml's loader reads the specs in a tenth of the pure-Python loader's time (a third of start-up).
    spec = yaml.load(SPEC_PATH.read_text(encoding="utf-8"), Loader=fixtures.SAFE_LOADER)
    deliveries = control.deliveries
    events = Events(plans(spec, snake_case), handlers, deliveries.submit, deliveries.wanted, deliveries.note_server)
    admin_spec = yaml.load(ADMIN_SPEC_PATH.read_text(encoding="utf-8"), Loader=fixtures.SAFE_LOADER)
    bases = frozenset(document["servers"][0]["url"].strip("/") for document in (spec, admin_spec))
    app = AsyncApp(
        __name__,
        lifespan=partial(life, control.tenants, control.deliveries),
        uri_parser_class=LenientURIParser,
        resolver=Resolver(function_resolver=partial(resolve, handlers, operations_of(spec), events.wrap)),
        # Auth is ours (TenantMiddleware for /v1, AdminAuthMiddleware for /__mock__): Connexion's security layer
        # would need the specs to name Python hooks.
        # Journal, rate limits and faults wrap everything, so they see (and shape) every answer a client gets.
        middlewares=[
            partial(HostMiddleware, allowlist=HostAllowlist(settings.host, settings.allowed_hosts)),  # every route
            CompanyPrefixMiddleware,  # /api/v1 is /v1 for everything after it
            partial(
                LimitsMiddleware,
                max_body=settings.max_body_mb * MB,
                large_bodies=(IMPORT_PATH, settings.max_import_mb * MB),
            ),  # fmt: skip
            *edge_middlewares(settings),
            partial(JournalMiddleware, journal=control.journal),
            partial(RateLimitMiddleware, limiter=control.limiter),
            partial(FaultMiddleware, faults=control.faults),
            ServerErrorMiddleware,
            ExceptionMiddleware,
            partial(AdminAuthMiddleware, admin_token=settings.admin_token),
            partial(DocsSwaggerUIMiddleware, bases=bases),
            SegmentRoutingMiddleware,
            partial(ControlMiddleware, control=control),
            partial(TenantMiddleware, tenants=control.tenants),
            partial(KeptAnswerMiddleware, current_account=current_account),  # repeated reads, before parsing
            PreparedValidationMiddleware,
            partial(UnknownFieldsMiddleware, strict=settings.strict),  # after validation, before the handler
            ResponseValidationMiddleware,
            DirectMiddleware,  # bodyless operations' handlers called from here
            LifespanMiddleware,
            ContextMiddleware,
        ],
        validate_responses=settings.validate_responses,
        validator_map=VALIDATORS,
        swagger_ui_options=SwaggerUIOptions(swagger_ui_path="/docs"),
    )
    app._middleware_app.api_cls = OnceDecoratedApi  # handlers decorated once, not per request (see dispatch)
    app.add_api(spec)
    app.add_api(admin_spec, swagger_ui_options=SwaggerUIOptions(swagger_ui_path="/docs"))
    app.add_error_handler(FinteskError, render_fintesk_error)
    render_http = partial(render_http_error, allowed_methods(spec), NearestPath(spec["paths"], api_prefixes(spec)))
    app.add_error_handler(ProblemException, render_http)
    app.add_error_handler(HTTPException, render_http)
    app.add_error_handler(Exception, render_unexpected)
    app.state = {"tenants": control.tenants, "settings": settings, "control": control}
    return app


@asynccontextmanager
async def life(tenants: Tenants, deliveries: Deliveries, app: Any) -> AsyncIterator[None]:
    """The app's life: webhook deliveries run while the server does and stop with it; then (SIGTERM, Ctrl-C) the
    data folder's store is checkpointed and closed, so its file alone holds every write."""
    try:
        async with deliveries.lifespan(app):
            yield
    finally:
        if tenants.store is not None:
            tenants.store.close()


def edge_middlewares(settings: Settings) -> list[Callable[..., Any]]:
    """What wraps every answer before the journal sees the request: the request log (which so times and logs every
    answer, preflights and 429s too), then CORS (a preflight goes no further)."""
    middlewares: list[Callable[..., Any]] = [partial(AccessLogMiddleware, tenant_of=masked_tenant)]
    if settings.cors:
        middlewares.append(partial(CrossOriginMiddleware, origins=settings.cors_origins))
    return middlewares


def masked_tenant(scope: Scope) -> str:
    """The tenant of a request as the request log shows it: its token masked ("" for none)."""
    return mask_token(next(iter(tokens_of(scope)), ""))


def operations_of(spec: dict[str, Any]) -> frozenset[str]:
    """The operationIds of the API (of /v1, each on a tenant's account)."""
    return frozenset(operation["operationId"] for item in spec["paths"].values()
                     for method, operation in item.items() if method in HTTP_METHODS)  # fmt: skip


def resolve(
    handlers: dict[str, Callable[..., Any]],
    api: frozenset[str],
    emitting: Callable[[str, Callable[..., Any]], Callable[..., Any]],
    operation_id: str,
) -> Callable[..., Any]:
    """The handler of an operation. A write sends its webhook events (see `events`), from its own turn on the account;
    the API's operations run off the event loop on a big account (see `big_accounts`)."""
    handler = emitting(operation_id, handlers[snake_case(operation_id)])
    return off_the_loop(handler, current_account) if operation_id in api else handler


def control_plane(settings: Settings) -> ControlPlane:
    """The server's state and its steering: tenants from the fixtures (or a state file), clock, seed, faults."""
    clock = Clock()
    fixture = fixtures.load(settings.fixtures)
    if settings.generate_deals:
        fixture = generate_account(fixture, deals=settings.generate_deals, seed=settings.seed)
    tenants = Tenants(fixture, settings, clock, seed=settings.seed)
    tenants.prepare()
    journal = Journal(stamp=lambda token: tenants.clock_of(token).stamp())  # each tenant's entries in its own time
    control = ControlPlane(settings, clock, tenants, Faults(seed=settings.seed), RateLimiter(settings.rate_limit),
                           journal, Deliveries(tenants.clock_of, settings.webhook_hosts))  # fmt: skip
    if settings.state is not None:
        tenants.use_state(load_state_file(settings.state))
    if settings.scenario is not None:
        control.apply_scenario(settings.scenario, None)
    if settings.data_dir is not None:
        # After the start-up configuration, which must not overwrite what the folder keeps.
        store = Store(settings.data_dir)
        control.restore_server_values(store.server_values())
        tenants.keep_in(store)
    return control


def _error(status: int, message: str, extra: dict[str, Any] | None = None) -> ConnexionResponse:
    headers = {"Allow": extra.pop("allow")} if extra and "allow" in extra else None
    return ConnexionResponse(
        status_code=status,
        mimetype=envelope.JSON,
        body=envelope.encode(envelope.error_body(message, extra)),
        headers=headers,
    )


def render_fintesk_error(_request: ConnexionRequest, error: Exception) -> ConnexionResponse:
    assert isinstance(error, FinteskError)
    return _error(error.status, error.message, dict(error.extra))


def allowed_methods(spec: dict[str, Any]) -> Callable[[str], str | None]:
    """The spec's methods for a request path, for the `Allow` header of a 405."""
    base = spec["servers"][0]["url"].rstrip("/")
    routes = [
        (re.compile("^" + base + re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(path)) + "$"),
         ", ".join(sorted(method.upper() for method in item if method in HTTP_METHODS)))
        for path, item in spec["paths"].items()
    ]  # fmt: skip

    def lookup(path: str) -> str | None:
        return next((methods for pattern, methods in routes if pattern.match(path)), None)

    return lookup


HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def api_prefixes(spec: dict[str, Any]) -> tuple[str, ...]:
    """The paths the API is served under: its servers that are paths on this server (`/v1`), not other hosts."""
    return tuple(server["url"].rstrip("/") for server in spec["servers"] if server["url"].startswith("/"))


def render_http_error(
    allowed: Callable[[str], str | None], nearest: Callable[[str], str | None], request: ConnexionRequest,
    error: Exception,
) -> ConnexionResponse:  # fmt: skip
    """Connexion's validation problems and Starlette's 404/405 in the Fintesk envelope, never problem+json."""
    assert isinstance(error, HTTPException)
    status = error.status_code
    if isinstance(error, ProblemException):
        message = _problem_message(error)
    elif status == 404:
        suggestion = nearest(request.url.path)
        message = f"Unknown path: {request.url.path}" + (f"; did you mean {suggestion}?" if suggestion else "")
    elif status == 405:
        message = f"Method {request.method} is not allowed on {request.url.path}."
    else:
        message = str(error.detail)
    extra: dict[str, Any] = {}
    if status == 405:
        extra["allow"] = allowed(request.url.path) or (error.headers or {}).get("Allow", "")
    return _error(status, message, extra)


def _problem_message(problem: ProblemException) -> str:
    detail = str(problem.detail or problem.title or "Invalid request").split("\n\nFailed validating")[0]
    if problem.status == 400:
        return f"Invalid request: {detail}"
    if problem.status == 415:
        return f"Unsupported media type: {detail} Send the body as application/json."
    return detail


def render_unexpected(_request: ConnexionRequest, error: Exception) -> ConnexionResponse:
    logger.exception("unhandled error", exc_info=error)
    return _error(500, f"Internal server error: {type(error).__name__}.")
