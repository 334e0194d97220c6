"""A webhook receiver on loopback for tests: it records every POST and answers as the test tells it to."""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# How long `wait` waits by default: generous, for a busy machine; a wait ends as soon as what it waits for came.
WAIT_S = 60.0


@dataclass(frozen=True)
class Received:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def event(self) -> str:
        """`action.object` (`updated.deal`, or version 2's `change.deal`)."""
        payload = self.json
        if "event" in payload:
            return str(payload["event"])
        return f"{payload['meta']['action']}.{payload['meta']['entity']}"


@dataclass
class Answer:
    """How the receiver answers one request: a status and body, or `hang`, `reset`, or `redirect`."""

    status: int = 200
    body: bytes = b'{"ok": true}'
    behaviour: str = "answer"


@dataclass
class _State:
    received: list[Received] = field(default_factory=list)
    answers: deque[Answer] = field(default_factory=deque)
    seen: int = 0  # how many `wait` handed out
    closing: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)


class Receiver:
    """An HTTP server on 127.0.0.1 (a free port) in a background thread. `url` is where to subscribe; `received`
    what came, oldest first; `wait(n)` the next `n` requests once they came; `answer(...)` how to answer next."""

    def __init__(self) -> None:
        self._state = _State()
        self._condition = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="webhook-receiver", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks"

    @property
    def received(self) -> list[Received]:
        with self._condition:
            return list(self._state.received)

    def answer(self, status: int = 200, *, times: int = 1, body: bytes = b"", behaviour: str = "answer") -> None:
        """Answer the next `times` requests so (afterwards 200 again); `behaviour` `hang` answers only once
        `release` is called (or never), `reset` drops the connection, `redirect` answers 302 to another URL."""
        with self._condition:
            self._state.answers.extend(Answer(status, body, behaviour) for _ in range(times))

    def wait(self, count: int = 1, timeout: float = WAIT_S) -> list[Received]:
        """The next `count` requests after those an earlier `wait` returned, once they came (AssertionError if they
        did not within `timeout` seconds)."""
        deadline = time.monotonic() + timeout
        with self._condition:
            state = self._state
            while len(state.received) < state.seen + count:
                left = deadline - time.monotonic()
                if left <= 0:
                    got = len(state.received) - state.seen
                    raise AssertionError(f"the receiver got {got} of {count} requests within {timeout:g} s")
                self._condition.wait(left)
            batch = state.received[state.seen : state.seen + count]
            state.seen += count
            return batch

    def release(self) -> None:
        """Let requests held by `hang` go on: they are answered 200 now."""
        self._state.released.set()

    def close(self) -> None:
        self._state.closing.set()
        self._state.released.set()
        self._server.shutdown()
        self._server.server_close()

    def _record(self, received: Received) -> Answer:
        with self._condition:
            self._state.received.append(received)
            self._condition.notify_all()
            return self._state.answers.popleft() if self._state.answers else Answer()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                answer = receiver._record(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                if answer.behaviour == "hang":
                    receiver._state.released.wait(120)
                    if receiver._state.closing.is_set():
                        return
                    answer = Answer()
                if answer.behaviour == "reset":
                    # SO_LINGER with a zero timeout: closing sends a TCP reset instead of an orderly end.
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.connection.close()
                    self.close_connection = True
                    return
                status = 302 if answer.behaviour == "redirect" else answer.status
                self.send_response(status)
                if answer.behaviour == "redirect":
                    self.send_header("location", receiver.url + "/elsewhere")
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(answer.body)))
                self.end_headers()
                with contextlib.suppress(OSError):  # the sender may read what it wants and leave
                    self.wfile.write(answer.body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
                pass

        return Handler
