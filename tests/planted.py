"""Bugs planted in the mock, so tests can show the contract harness catches each one."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

Rewrite = Callable[[dict[str, Any]], None]


class RewriteJSON:
    """Wraps an ASGI app and rewrites the JSON body of successful responses whose path matches."""

    def __init__(self, app: ASGIApp, method: str, path: str, rewrite: Rewrite) -> None:
        self.app = app
        self.method = method
        self.path = re.compile(path)
        self.rewrite = rewrite

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != self.method or not self.path.fullmatch(scope["path"]):
            await self.app(scope, receive, send)
            return
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    await send_rewritten()

        async def send_rewritten() -> None:
            body = b"".join(chunks)
            if 200 <= start["status"] < 300:
                document = json.loads(body)
                self.rewrite(document)
                body = json.dumps(document).encode()
            headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, capture)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)


def wrong_type(document: dict[str, Any]) -> None:
    document["data"]["value"] = str(document["data"]["value"])


def dropped_field(document: dict[str, Any]) -> None:
    for deal in document["data"]:
        deal.pop("name", None)


def broken_pagination(document: dict[str, Any]) -> None:
    pagination = document["additional_data"]["pagination"]
    pagination["more_items_in_collection"] = not pagination["more_items_in_collection"]


def truncated_list(document: dict[str, Any]) -> None:
    """A server that never admits there is more: every page claims to be the last."""
    pagination = document["additional_data"]["pagination"]
    pagination["more_items_in_collection"] = False
    pagination.pop("next_start", None)


def skipped_item(document: dict[str, Any]) -> None:
    """A server that loses the last record of every page that has a successor (paging then filtering)."""
    if document["additional_data"]["pagination"].get("more_items_in_collection") and len(document["data"]) > 1:
        document["data"].pop()


class DropQuery:
    """Wraps an ASGI app and removes one query parameter from every request: the server ignores it."""

    def __init__(self, app: ASGIApp, name: str) -> None:
        self.app = app
        self.name = name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            pairs = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
            kept = urlencode([(key, value) for key, value in pairs if key != self.name])
            scope = {**scope, "query_string": kept.encode("latin-1")}
        await self.app(scope, receive, send)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)


@contextmanager
def serving(app: ASGIApp) -> Iterator[str]:
    """Serve `app` (a planted bug around the mock) on a free loopback port; yield the API base URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="planted-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 300  # only for a server that never starts
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the planted server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
