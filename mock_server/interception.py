"""`intercept()`: requests, httpx and urllib3 calls to Fintesk API URLs answered by the mock in this process."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import io
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from fnmatch import fnmatchcase
from http import HTTPStatus
from http.client import RemoteDisconnected
from types import TracebackType
from typing import Any, TypeVar
from unittest import mock
from urllib.parse import urlsplit

import httpx
import urllib3
from urllib3.connectionpool import HTTPConnectionPool
from urllib3.exceptions import MaxRetryError, ProtocolError, ReadTimeoutError
from urllib3.util import Retry, Timeout

from mock_server.client import MockControl
from mock_server.inprocess import Answer, Dropped, Exchange, InProcessServer, TimedOut, shared_server

DEFAULT_BASES = ("https://api.fintesk.com", "https://*.fintesk.com/api")
# Where the control plane is reached; any intercepted host would do, as every one is the same app.
CONTROL_ROOT = "https://api.fintesk.com"
DEFAULT_PORTS = {"http": 80, "https": 443}

Function = TypeVar("Function", bound=Callable[..., Any])


@dataclass(frozen=True)
class Base:
    """One API base URL: its scheme, host (`*` matches any run of characters), port and path."""

    scheme: str
    host: str
    port: int
    path: str

    @classmethod
    def parse(cls, url: str) -> Base:
        parts = urlsplit(url.strip())
        if parts.scheme not in DEFAULT_PORTS or not parts.hostname or parts.query or parts.fragment:
            raise ValueError(
                f"Base {url!r} is not a base URL; give scheme://host[:port][/path] such as https://api.fintesk.com "
                "or https://*.fintesk.com/api."
            )
        port = parts.port or DEFAULT_PORTS[parts.scheme]
        return cls(parts.scheme, parts.hostname.lower(), port, parts.path.rstrip("/"))

    def covers(self, scheme: str, host: str, port: int | None, path: str) -> bool:
        return (
            scheme == self.scheme
            and (port or DEFAULT_PORTS.get(scheme)) == self.port
            and fnmatchcase(host.lower(), self.host)
            and (path == self.path or path.startswith(self.path + "/") or not self.path)
        )

    def __str__(self) -> str:
        port = "" if self.port == DEFAULT_PORTS[self.scheme] else f":{self.port}"
        return f"{self.scheme}://{self.host}{port}{self.path}"


class Blocked(ConnectionRefusedError):
    """A request to a URL outside the intercepted bases, under `block_others=True`. An OSError, so `requests`
    raises it as its ConnectionError."""


class intercept:  # noqa: N801 - used like a function: `with intercept():`, `@intercept()`
    """While active, every request `requests`, `httpx` (sync and async) and `urllib3` send to a Fintesk API base is
    answered by the mock's app in this process; other URLs go out as usual, or are refused with `block_others`.

    The path goes to the app as sent (`https://api.fintesk.com/v1/deals` -> `/v1/deals`); the token picks the tenant
    as over HTTP. Usable as `with`, `async with` and as a decorator of plain and async functions.
    """

    def __init__(self, bases: Iterable[str] | None = None, *, block_others: bool = False) -> None:
        named = [bases] if isinstance(bases, str) else list(bases) if bases is not None else list(DEFAULT_BASES)
        if not named:
            raise ValueError("intercept(bases=...) needs at least one base URL, such as https://api.fintesk.com.")
        self.bases = tuple(Base.parse(url) for url in named)
        self.block_others = block_others
        self._patches: ExitStack | None = None
        self._control: MockControl | None = None
        self.server: InProcessServer | None = None

    # --- activation

    def __enter__(self) -> intercept:
        if self._patches is not None:
            raise RuntimeError("This intercept is already active; make another one to nest.")
        self.server = shared_server()
        patches = ExitStack()
        patches.enter_context(mock.patch.object(httpx.HTTPTransport, "handle_request", self._httpx_sync()))
        patches.enter_context(mock.patch.object(httpx.AsyncHTTPTransport, "handle_async_request", self._httpx_async()))
        patches.enter_context(mock.patch.object(HTTPConnectionPool, "urlopen", self._urllib3()))
        self._patches = patches
        return self

    def __exit__(self, *exc: object) -> None:
        if self._control is not None:
            self._control.close()
            self._control = None
        if self._patches is not None:
            self._patches.close()
            self._patches = None

    async def __aenter__(self) -> intercept:
        await asyncio.to_thread(shared_server)  # the first build (about a second) off the caller's event loop
        return self.__enter__()

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.__exit__(kind, error, trace)

    def __call__(self, function: Function) -> Function:
        """As a decorator: each call of `function` runs under a fresh intercept of the same bases."""
        again = functools.partial(intercept, [str(base) for base in self.bases], block_others=self.block_others)
        if inspect.iscoroutinefunction(function):

            @functools.wraps(function)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                async with again():
                    return await function(*args, **kwargs)

            return run_async  # type: ignore[return-value]

        @functools.wraps(function)
        def run(*args: Any, **kwargs: Any) -> Any:
            with again():
                return function(*args, **kwargs)

        return run  # type: ignore[return-value]

    @property
    def control(self) -> MockControl:
        """The control plane of the in-process mock (freeze, advance, inject, requests, reset, ...)."""
        if self.server is None:
            raise RuntimeError("The intercept is not active: use it in `with intercept() as mock:` first.")
        if self._control is None:
            client = httpx.Client(base_url=f"{CONTROL_ROOT}/__mock__", transport=InProcessTransport(self.server))
            self._control = MockControl(CONTROL_ROOT, client=client)
        return self._control

    # --- routing

    def covers(self, scheme: str, host: str, port: int | None, path: str) -> bool:
        return any(base.covers(scheme, host, port, path) for base in self.bases)

    def refuse(self, url: str) -> Blocked:
        bases = ", ".join(str(base) for base in self.bases)
        return Blocked(
            f"{url} was refused: intercept(block_others=True) lets through only the Fintesk API bases ({bases}); "
            "name this URL's base in intercept(bases=[...]) to have the mock answer it."
        )

    def _httpx_sync(self) -> Callable[[httpx.HTTPTransport, httpx.Request], httpx.Response]:
        original = httpx.HTTPTransport.handle_request

        def handle_request(transport: httpx.HTTPTransport, request: httpx.Request) -> httpx.Response:
            url = request.url
            if self.covers(url.scheme, url.host, url.port, url.path):
                assert self.server is not None
                return InProcessTransport(self.server).handle_request(request)
            if self.block_others:
                raise httpx.ConnectError(str(self.refuse(str(url))), request=request)
            return original(transport, request)

        return handle_request

    def _httpx_async(self) -> Callable[[httpx.AsyncHTTPTransport, httpx.Request], Any]:
        original = httpx.AsyncHTTPTransport.handle_async_request

        async def handle_async_request(transport: httpx.AsyncHTTPTransport, request: httpx.Request) -> httpx.Response:
            url = request.url
            if self.covers(url.scheme, url.host, url.port, url.path):
                assert self.server is not None
                return await AsyncInProcessTransport(self.server).handle_async_request(request)
            if self.block_others:
                raise httpx.ConnectError(str(self.refuse(str(url))), request=request)
            return await original(transport, request)

        return handle_async_request

    def _urllib3(self) -> Callable[..., Any]:
        original = HTTPConnectionPool.urlopen

        def urlopen(pool: HTTPConnectionPool, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            target = urlsplit(url)  # a path, or an absolute URL when sent through an HTTP proxy
            scheme, host, port = target.scheme or pool.scheme, target.hostname or pool.host, target.port or pool.port
            if self.covers(scheme, host, port, target.path):
                assert self.server is not None
                exchange = Exchange(method, scheme, host, port or DEFAULT_PORTS[scheme], target.path,
                                    target.query.encode("latin-1"), [])  # fmt: skip
                return urllib3_answer(self.server, pool, exchange, url, *args, **kwargs)
            if self.block_others:
                shown_port = "" if port in (None, DEFAULT_PORTS.get(scheme)) else f":{port}"
                raise self.refuse(f"{scheme}://{host}{shown_port}{target.path}")
            return original(pool, method, url, *args, **kwargs)

        return urlopen


# --- httpx


def _exchange_of(request: httpx.Request, body: bytes) -> Exchange:
    url = request.url
    return Exchange(
        request.method,
        url.scheme,
        url.host,
        url.port or DEFAULT_PORTS[url.scheme],
        url.raw_path.split(b"?", 1)[0].decode("ascii"),
        url.query,
        list(request.headers.raw),
        body,
    )


def _httpx_response(answer: Answer) -> httpx.Response:
    return httpx.Response(
        answer.status,
        headers=answer.headers,
        stream=httpx.ByteStream(answer.body),
        extensions={"http_version": b"HTTP/1.1", "reason_phrase": _reason(answer.status).encode("ascii")},
    )


def _read_timeout(request: httpx.Request) -> float | None:
    timeout: float | None = request.extensions.get("timeout", {}).get("read")
    return timeout


class InProcessTransport(httpx.BaseTransport):
    """An httpx transport answering every request from the in-process mock; a dropped connection and a late answer
    raise what httpx raises for them on a socket."""

    def __init__(self, server: InProcessServer) -> None:
        self.server = server

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with _as_httpx_errors(request):
            answer = self.server.answer(_exchange_of(request, request.read()), _read_timeout(request))
        return _httpx_response(answer)


class AsyncInProcessTransport(httpx.AsyncBaseTransport):
    """The same for async clients, whatever event loop they run on."""

    def __init__(self, server: InProcessServer) -> None:
        self.server = server

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        with _as_httpx_errors(request):
            answer = await self.server.answer_async(_exchange_of(request, body), _read_timeout(request))
        return _httpx_response(answer)


@contextlib.contextmanager
def _as_httpx_errors(request: httpx.Request) -> Iterator[None]:
    """A dropped connection and a late answer as the errors httpx raises for them on a socket."""
    try:
        yield
    except Dropped as dropped:
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request) from dropped
    except TimedOut:
        raise httpx.ReadTimeout("The read operation timed out", request=request) from None


# --- urllib3 (and requests, which sends through it)


def urllib3_answer(
    server: InProcessServer,
    pool: HTTPConnectionPool,
    exchange: Exchange,
    url: str,
    body: Any = None,
    headers: Any = None,
    retries: Retry | bool | int | None = None,
    redirect: bool = True,
    assert_same_host: bool = True,
    timeout: Any = None,
    pool_timeout: Any = None,
    release_conn: Any = None,
    chunked: bool = False,
    body_pos: Any = None,
    preload_content: bool = True,
    decode_content: bool = True,
    **response_kw: Any,
) -> urllib3.HTTPResponse:
    """What `urlopen` returns for a request the mock answers, retried as `retries` says (as `urlopen` does):
    a dropped connection raises urllib3's ProtocolError, a late answer its ReadTimeoutError."""
    if not isinstance(retries, Retry):
        retries = Retry.from_int(retries, redirect=redirect, default=pool.retries)
    exchange.body = _body_bytes(body)
    exchange.headers = _header_pairs(pool.headers if headers is None else headers, exchange.body)
    read_timeout = _urllib3_read_timeout(pool, timeout)
    while True:
        try:
            answer = server.answer(exchange, read_timeout)
        except (Dropped, TimedOut) as failure:
            error: Exception = (
                ProtocolError(
                    "Connection aborted.", RemoteDisconnected("Remote end closed connection without response")
                )
                if isinstance(failure, Dropped)
                else ReadTimeoutError(pool, url, f"Read timed out. (read timeout={read_timeout})")
            )
            retries = retries.increment(exchange.method, url, error=error, _pool=pool, _stacktrace=sys.exc_info()[2])
            retries.sleep()
            continue
        response = _urllib3_response(answer, exchange.method, url, retries, preload_content, decode_content)
        if not retries.is_retry(exchange.method, answer.status, bool(response.headers.get("Retry-After"))):
            return response
        try:
            retries = retries.increment(exchange.method, url, response=response, _pool=pool)
        except MaxRetryError:
            if retries.raise_on_status:
                raise
            return response
        retries.sleep(response)


def _urllib3_response(
    answer: Answer, method: str, url: str, retries: Retry, preload_content: bool, decode_content: bool
) -> urllib3.HTTPResponse:
    headers = urllib3.HTTPHeaderDict()
    for name, value in answer.headers:
        headers.add(name.decode("latin-1"), value.decode("latin-1"))
    return urllib3.HTTPResponse(
        body=io.BytesIO(answer.body),
        headers=headers,
        status=answer.status,
        version=11,
        reason=_reason(answer.status),
        preload_content=preload_content,
        decode_content=decode_content,
        request_method=method,
        request_url=url,
        retries=retries,
    )


def _urllib3_read_timeout(pool: HTTPConnectionPool, timeout: Any) -> float | None:
    """The read timeout of a request: a number, a Timeout, or the pool's when left at urllib3's default."""
    if timeout is None or isinstance(timeout, int | float):
        return timeout
    chosen = (timeout if isinstance(timeout, Timeout) else pool.timeout).clone()
    chosen.start_connect()  # a total timeout is read as what is left of it once connected, at once here
    read = chosen.read_timeout
    return float(read) if isinstance(read, int | float) else None


def _body_bytes(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, bytes | bytearray | memoryview):
        return bytes(body)
    if hasattr(body, "read"):
        return _body_bytes(body.read())
    return b"".join(_body_bytes(piece) for piece in body)


def _header_pairs(headers: Any, body: bytes) -> list[tuple[bytes, bytes]]:
    pairs = [(str(name).encode("latin-1"), str(value).encode("latin-1")) for name, value in dict(headers).items()]
    names = {name.lower() for name, _ in pairs}
    if body and b"content-length" not in names and b"transfer-encoding" not in names:
        pairs.append((b"content-length", str(len(body)).encode()))
    return pairs


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""
