"""`fintesk-mock proxy --target URL`: forward /v1 to a Fintesk endpoint and check every exchange against the spec.

The answer goes back unchanged (unless `--errors` and it violates the spec); the token passes through to the target
and is never logged or journaled. Violations are logged, journaled with the exchange (`GET /__mock__/requests`) and,
with `--violations-header`, named in a header of the answer.
"""

from __future__ import annotations

import contextlib
import logging
import logging.config
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio.to_thread
import click
import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from contract_tests.exchange import Exchange, Validator, Violation
from contract_tests.recording import Recorder
from contract_tests.runner import UsageError
from mock_server import __version__
from mock_server.control.auth import AdminAuthMiddleware
from mock_server.control.journal import Journal, cut_text, decoded_body, masked_headers, masked_query
from mock_server.data.fixtures import FixtureError
from mock_server.data.snapshot import OutExists
from mock_server.errors import FinteskError, Invalid
from mock_server.http.envelope import encode, error_body
from mock_server.http.hosts import HostAllowlist, HostMiddleware
from mock_server.http.limits import MB, LimitsMiddleware
from mock_server.http.tenant import mask_token, tokens_of
from mock_server.settings import is_loopback

logger = logging.getLogger("fintesk_mock.proxy")
PREFIX = "/v1"
VIOLATIONS_HEADER = "x-fintesk-violations"
# Headers that belong to one connection, not to the exchange (RFC 9110, 7.6.1), and the ones the proxy sets itself.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding",
                        "upgrade", "host", "content-length", "accept-encoding", "content-encoding"})  # fmt: skip
# Bounded waits on the target: an unreachable or silent target is a 502 after this long, never a hang.
TIMEOUT = httpx.Timeout(60.0, connect=10.0, pool=10.0)


@dataclass(frozen=True)
class ProxyOptions:
    target: str
    errors: bool = False
    violations_header: bool = False
    probe: bool = False
    admin_token: str | None = None
    journal_size: int = 200
    max_body_mb: int = 10
    # The Host allowlist of `serve`: the address served and the names given with --allowed-host.
    host: str = "127.0.0.1"
    allowed_hosts: tuple[str, ...] = ()


class Proxy:
    """The forwarding, the checks and the bookkeeping of one proxy; `app()` is its ASGI application."""

    def __init__(self, options: ProxyOptions, *, recorder: Recorder | None = None) -> None:
        self.options = options
        self.target = options.target.rstrip("/")
        self.validator = Validator(self.target, probe=options.probe)
        self.journal = Journal(options.journal_size)
        self.recorder = recorder
        self.client: httpx.AsyncClient | None = None
        self.exchanges = 0
        self.violations: Counter[str] = Counter()  # by check

    def app(self) -> ASGIApp:
        methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
        routes = [
            Route("/__mock__/health", self.health, methods=["GET"]),
            Route("/__mock__/requests", self.requests, methods=["GET", "DELETE"]),
            Route(PREFIX + "/{rest:path}", self.forward, methods=methods),
        ]
        starlette = Starlette(routes=routes, lifespan=self.lifespan, exception_handlers={FinteskError: _failed})
        return edge(starlette, self.options)

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: Any) -> AsyncIterator[None]:
        headers = {"user-agent": f"fintesk-mock-proxy/{__version__}"}
        async with httpx.AsyncClient(timeout=TIMEOUT, headers=headers, follow_redirects=False) as client:
            self.client = client
            try:
                yield
            finally:
                self.client = None
                self.stop()

    def stop(self) -> None:
        """Said when the proxy stops: the figures, and the recorded fixture folder written."""
        found = ", ".join(f"{check} {count}" for check, count in self.violations.most_common()) or "none"
        logger.info(f"Proxy stopped: {self.exchanges} exchanges; violations: {found}.")
        if self.recorder is None:
            return
        try:
            rebuilt = self.recorder.write()
        except (FixtureError, OSError) as error:
            logger.error(f"Recorded records not written to {self.recorder.out}: {error}")
            return
        counts = ", ".join(f"{len(records)} {name}" for name, records in rebuilt.records.items() if records)
        logger.info(f"Recorded {self.recorder.out}: {counts or 'no records'}.")

    async def health(self, _request: Request) -> Response:
        return _json({"status": "ok", "target": self.target})

    async def requests(self, request: Request) -> Response:
        token = request.query_params.get("token")
        if request.method == "DELETE":
            self.journal.clear(token)
            return _json({"cleared": mask_token(token) if token else "all"})
        limit = request.query_params.get("limit")
        if limit is not None and not limit.isdigit():
            raise Invalid(f"'limit' must be a whole number of requests, 0 or more; got {limit!r}.")
        listed = self.journal.entries(token, request.query_params.get("path"), int(limit) if limit else None)
        return _json(listed)

    async def forward(self, request: Request) -> Response:
        assert self.client is not None, "the proxy forwards only while it runs"
        started = time.perf_counter()
        scope = request.scope
        path = "/" + request.path_params["rest"]
        body = await request.body()
        headers = [(name, value) for name, value in request.headers.raw if name.decode("latin-1") not in HOP_BY_HOP]
        headers.append((b"accept-encoding", b"identity"))  # the answer's bytes pass back as they are
        # The path as it was sent (still percent-encoded), so an encoded `/` in a value stays one value.
        raw_path = (scope.get("raw_path") or b"").decode("latin-1")
        sent = raw_path[len(PREFIX) :] if raw_path.startswith(PREFIX + "/") else path
        url = httpx.URL(self.target + sent, query=scope.get("query_string", b""))
        try:
            answer = await self.client.request(request.method, url, headers=headers, content=body)
        except httpx.HTTPError as error:
            message = (
                f"The proxy cannot reach its target {self.target}: {type(error).__name__}: {self._hide(error, scope)}"
            )
            logger.error(f"{request.method} {PREFIX}{path}: {message}")
            response = Response(encode(error_body(message)), status_code=502, media_type="application/json")
            self._journal(scope, body, response.status_code, started, None, [], b"")
            return response
        exchange = Exchange(request.method, path, scope.get("query_string", b""),
                            request.headers.get("content-type", ""), body, answer)  # fmt: skip
        # The checks and the recording parse and validate (and may probe the target): off the event loop.
        try:
            operation, violations = await anyio.to_thread.run_sync(self._judge, exchange)
        except Exception as error:  # a check that breaks must not break the exchange: the answer still goes back
            logger.exception(f"{request.method} {PREFIX}{path}: the checks failed: {self._hide(error, scope)}")
            operation, violations = None, [Violation("response", "proxy_check_failed", self._hide(error, scope))]
        violations = [Violation(v.side, v.check, self._hide(v.message, scope)) for v in violations]
        self.exchanges += 1
        self.violations.update(violation.check for violation in violations)
        for violation in violations:
            logger.warning(
                f"{request.method} {PREFIX}{path} ({operation or 'no operation'}) {answer.status_code}: "
                f"{violation.side} violates {violation.check}: {violation.message}"
            )
        status, content = answer.status_code, answer.content
        out_headers = [
            (name, value) for name, value in answer.headers.raw if name.decode("latin-1").lower() not in HOP_BY_HOP
        ]
        if violations and self.options.errors:
            names = ", ".join(dict.fromkeys(violation.check for violation in violations))
            first = violations[0]
            message = (f"The exchange with {self.target} violates the spec ({names}): "
                       f"{first.side}: {first.check}: {first.message}")  # fmt: skip
            status, content = 502, encode(error_body(message, {"violations": [v.as_dict() for v in violations]}))
            out_headers = [(b"content-type", b"application/json")]
        if violations and self.options.violations_header:
            out_headers.append(
                (VIOLATIONS_HEADER.encode(), ", ".join(dict.fromkeys(v.check for v in violations)).encode())
            )
        self._journal(scope, body, status, started, operation, violations, answer.content, answer.status_code)
        response = Response(content, status_code=status)
        response.raw_headers = [*out_headers, (b"content-length", str(len(content)).encode())]
        return response

    def _judge(self, exchange: Exchange) -> tuple[str | None, list[Violation]]:
        """The exchange's operation and violations; its records folded into the recording, if there is one."""
        judged = self.validator.check(exchange)
        operation = self.validator.operation_of(exchange.method, exchange.path)
        if self.recorder is not None and operation is not None:
            try:
                envelope = exchange.response.json()
            except ValueError:
                return judged
            self.recorder.see(operation.path, exchange.method, exchange.response.status_code, envelope)
        return judged

    def _journal(
        self,
        scope: Any,
        body: bytes,
        status: int,
        started: float,
        operation: str | None,
        violations: list[Violation],
        answer: bytes,
        target_status: int | None = None,
    ) -> None:
        tokens = tokens_of(scope)
        entry = {
            "method": scope["method"],
            "path": scope["path"],
            "status": status,
            "duration_ms": round((time.perf_counter() - started) * 1000, 3),
            "operation": operation,
            "target_status": target_status,
            "violations": [violation.as_dict() for violation in violations],
        }
        kept = body if len(body) <= 64 * 1024 else cut_text(body)
        shown = answer if len(answer) <= 64 * 1024 else cut_text(answer)
        details = partial(_details, scope.get("query_string", b""), list(scope["headers"]), kept, shown, tokens)
        self.journal.record(tokens[0] if tokens else "", entry, details)

    @staticmethod
    def _hide(text: object, scope: Any) -> str:
        """`text` with every token of the request masked (a message may quote a URL or a header)."""
        shown = str(text)
        for token in tokens_of(scope):
            shown = shown.replace(token, mask_token(token))
        return shown


def _details(
    query_string: bytes, raw_headers: list[tuple[bytes, bytes]], body: bytes | str, answer: bytes | str,
    tokens: list[str],
) -> dict[str, Any]:  # fmt: skip
    headers = masked_headers(raw_headers)
    shown = answer if isinstance(answer, str) else decoded_body(answer, "application/json")
    if isinstance(shown, str):
        for token in tokens:
            shown = shown.replace(token, mask_token(token))
    return {
        "query": masked_query(query_string),
        "headers": headers,
        "body": body if isinstance(body, str) else decoded_body(body, headers.get("content-type", "")),
        "answer": shown,
    }


def edge(app: ASGIApp, options: ProxyOptions) -> ASGIApp:
    """What guards the proxy as it guards `serve`: the Host allowlist on every route, and the admin token on
    /__mock__."""
    guarded = Enveloped(AdminAuthMiddleware(app, admin_token=options.admin_token))
    # Bodies, paths and headers are bounded as `serve` bounds them, before a body is read whole.
    limited = LimitsMiddleware(guarded, max_body=options.max_body_mb * MB)
    return HostMiddleware(limited, allowlist=HostAllowlist(options.host, options.allowed_hosts))


class Enveloped:
    """A refusal of a guard around the proxy (a FinteskError raised before any answer) in the error envelope."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        except FinteskError as error:
            await (await _failed(Request(scope), error))(scope, receive, send)


async def _failed(_request: Request, error: Exception) -> Response:
    assert isinstance(error, FinteskError)
    status = error.status if error.status != 500 else 400  # FinteskError itself is the proxy's own 400
    return Response(encode(error_body(error.message)), status_code=status, media_type="application/json")


def _json(body: Any) -> Response:
    return Response(encode(body), media_type="application/json")


@click.command()
@click.option(
    "--target",
    envvar="FINTESK_MOCK_TARGET",
    required=True,
    help="The API base to forward to, e.g. https://yourcompany.fintesk.com/api/v1.",
)
@click.option("--host", envvar="FINTESK_MOCK_HOST", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--allowed-host", "allowed_hosts", envvar="FINTESK_MOCK_ALLOWED_HOST", multiple=True,
              help="Also answer requests whose Host is this name (repeat or comma-separate; * = any).")  # fmt: skip
@click.option(
    "--port",
    envvar="FINTESK_MOCK_PORT",
    default=8080,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="Port to bind.",
)
@click.option(
    "--admin-token",
    envvar="FINTESK_MOCK_ADMIN_TOKEN",
    help="Token /__mock__/requests requires in the x-admin-token header.",
)
@click.option(
    "--open-control-plane",
    envvar="FINTESK_MOCK_OPEN_CONTROL_PLANE",
    is_flag=True,
    help="Serve a non-loopback --host without --admin-token: /__mock__ is open to the network.",
)
@click.option(
    "--errors",
    envvar="FINTESK_MOCK_ERRORS",
    is_flag=True,
    help="Answer an exchange that violates the spec with a 502 naming the violation.",
)
@click.option(
    "--violations-header",
    envvar="FINTESK_MOCK_VIOLATIONS_HEADER",
    is_flag=True,
    help=f"Name the checks an exchange violates in the {VIOLATIONS_HEADER} header of its answer.",
)
@click.option(
    "--probe",
    envvar="FINTESK_MOCK_PROBE",
    is_flag=True,
    help="Also run the checks that send the target GET requests of their own (the rest of a list, an id "
    "that cannot exist, a record just written).",
)
@click.option(
    "--record",
    envvar="FINTESK_MOCK_RECORD",
    type=click.Path(path_type=Path),
    help="Fold the records seen in answers into this fixture folder, written when the proxy stops.",
)
@click.option("--force", envvar="FINTESK_MOCK_FORCE", is_flag=True, help="Let --record replace a non-empty folder.")
@click.option(
    "--max-body-mb",
    envvar="FINTESK_MOCK_MAX_BODY_MB",
    default=10,
    show_default=True,
    type=click.IntRange(min=1),
    help="Largest request body, in MB; a bigger one answers 413 and is not forwarded.",
)
@click.option(
    "--log-level",
    envvar="FINTESK_MOCK_LOG_LEVEL",
    default="info",
    show_default=True,
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    help="Least severe messages logged; violations are warnings.",
)
@click.option(
    "--log-format",
    envvar="FINTESK_MOCK_LOG_FORMAT",
    default="text",
    show_default=True,
    type=click.Choice(["text", "json"]),
    help="The log's lines: text, or one JSON object per line.",
)
def proxy(
    target: str,
    host: str,
    allowed_hosts: tuple[str, ...],
    port: int,
    admin_token: str | None,
    open_control_plane: bool,
    errors: bool,
    violations_header: bool,
    probe: bool,
    record: Path | None,
    force: bool,
    max_body_mb: int,
    log_level: str,
    log_format: str,
) -> None:
    """Forward /v1 to TARGET and check every exchange against the spec."""
    from mock_server.cli import prompt_server
    from mock_server.http.access_log import logging_config
    from mock_server.settings import parse_hosts

    parts = urlsplit(target)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(
            f"--target must be an http(s) URL of the API base, like http://127.0.0.1:8080/v1; got {target!r}"
        )
    if not admin_token and not is_loopback(host) and not open_control_plane:
        raise UsageError(
            f"cannot start: --host {host} is reachable from the network and /__mock__/requests would answer anyone; "
            "give --admin-token (or --open-control-plane on a trusted network)."
        )
    try:
        recorder = Recorder(record, parts.netloc, force=force) if record is not None else None
    except OutExists as error:
        raise UsageError(f"--record: {error}") from None
    options = ProxyOptions(target, errors=errors, violations_header=violations_header, probe=probe,
                           admin_token=admin_token or None, max_body_mb=max_body_mb, host=host,
                           allowed_hosts=parse_hosts(allowed_hosts))  # fmt: skip
    app = Proxy(options, recorder=recorder).app()
    log_config = logging_config(log_level, log_format)
    logging.config.dictConfig(log_config)
    recorded = f", recording into {record}" if record is not None else ""
    logging.getLogger("fintesk_mock").info(
        f"Fintesk Mock {__version__} proxy: http://{host}:{port}{PREFIX} -> {target.rstrip('/')}, "
        f"every exchange checked against the spec{recorded}"
    )
    import uvicorn

    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, access_log=False, log_config=log_config)
    prompt_server(config).run()
