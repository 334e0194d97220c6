"""The mock's app answering requests inside this process, without a socket: one app and one event loop per process."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from starlette.types import ASGIApp, Message

# What a server that never saw a response start answers (uvicorn's words and type).
NO_ANSWER = (500, [(b"content-type", b"text/plain; charset=utf-8")], b"Internal Server Error")
# Where a request seems to come from, as the server's request log and journal show it.
CLIENT = ("127.0.0.1", 0)


@dataclass
class Exchange:
    """One HTTP request as the app sees it: the URL's parts already split, the body already read."""

    method: str
    scheme: str
    host: str
    port: int
    path: str
    query: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes = b""


@dataclass
class Answer:
    status: int
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""


class Dropped(Exception):
    """The connection closed before the whole answer came: the mock's `drop` fault, or an app that failed midway."""


class TimedOut(Exception):
    """No answer within the client's read timeout; the request goes on in the app, as on a server."""


def scope_of(exchange: Exchange) -> dict[str, Any]:
    headers = [(name.lower(), value) for name, value in exchange.headers]
    if not any(name == b"host" for name, _ in headers):
        default_port = 443 if exchange.scheme == "https" else 80
        host = exchange.host if exchange.port == default_port else f"{exchange.host}:{exchange.port}"
        headers.insert(0, (b"host", host.encode("idna")))
    path = exchange.path or "/"
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": exchange.method.upper(),
        "scheme": exchange.scheme,
        "path": unquote(path),
        "raw_path": path.encode("latin-1"),
        "query_string": exchange.query,
        "root_path": "",
        "headers": headers,
        "client": CLIENT,
        "server": (exchange.host, exchange.port),
        "extensions": {},
    }


async def serve(app: ASGIApp, exchange: Exchange) -> Answer:
    """Run one request through the app as a server would: the body in one message, then a disconnect once the
    answer is complete; an app that fails before answering gets the server's 500, one that fails midway a dropped
    connection."""
    start: dict[str, Any] = {}
    chunks: list[bytes] = []
    complete = asyncio.Event()
    request_sent = False

    async def receive() -> Message:
        nonlocal request_sent
        if not request_sent:
            request_sent = True
            return {"type": "http.request", "body": exchange.body, "more_body": False}
        await complete.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
        elif message["type"] == "http.response.body" and start and not complete.is_set():
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                complete.set()

    try:
        await app(scope_of(exchange), receive, send)
    except Exception as error:
        if start:
            raise Dropped("the server closed the connection before answering in full") from error
        return Answer(*NO_ANSWER)
    if not start:
        return Answer(*NO_ANSWER)
    if not complete.is_set():
        raise Dropped("the server closed the connection before answering in full")
    return Answer(start["status"], list(start.get("headers", [])), b"".join(chunks))


class InProcessServer:
    """The app and the event loop thread that runs every request of this process, whichever thread or event loop
    sends it: the app's state (locks, tasks, worker threads) lives on one loop, as under a server. The app has no
    lifespan handlers, so there is no start-up or shutdown to run."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="fintesk-mock-in-process", daemon=True)
        self._thread.start()

    def _submit(self, exchange: Exchange) -> concurrent.futures.Future[Answer]:
        return asyncio.run_coroutine_threadsafe(serve(self.app, exchange), self.loop)

    def answer(self, exchange: Exchange, timeout: float | None) -> Answer:
        """The app's answer, waited for up to `timeout` seconds (None: as long as it takes)."""
        if threading.current_thread() is self._thread:
            raise RuntimeError("A request to the intercepted mock was sent from the mock's own event loop.")
        future = self._submit(exchange)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            raise TimedOut(f"no answer within {timeout} s") from None

    async def answer_async(self, exchange: Exchange, timeout: float | None) -> Answer:
        """The same, awaited from another event loop; giving up leaves the request running, as a server would."""
        waiting = asyncio.wrap_future(self._submit(exchange))
        done, _ = await asyncio.wait({waiting}, timeout=timeout)
        if not done:
            raise TimedOut(f"no answer within {timeout} s")
        return waiting.result()


_shared: InProcessServer | None = None
_shared_lock = threading.Lock()


def shared_server() -> InProcessServer:
    """The process's in-process mock, built on first use (the spec and fixtures load once per process)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            from mock_server.app import create_app
            from mock_server.client import ADMIN_TOKEN_VARIABLE
            from mock_server.settings import Settings

            # The admin token MockControl sends, so the intercept's control calls and its app agree.
            settings = Settings(admin_token=os.environ.get(ADMIN_TOKEN_VARIABLE) or None)
            _shared = InProcessServer(create_app(settings))
        return _shared
