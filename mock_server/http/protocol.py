"""The HTTP/1.1 connection: uvicorn's httptools protocol with one write per answer and a bounded request head.

- **One write per answer.** uvicorn writes an answer's status line and headers, then its body, as two writes;
  on a socket with `TCP_NODELAY` each is a packet of its own and a system call of its own, and on loopback the
  two together were a quarter of the server's time for a small kept answer. `CoalescedTransport` gathers what
  one turn of the event loop writes and hands it to the socket once, at the end of that turn (at once when it
  passes `FLUSH_BYTES`, so that the socket's flow control still paces big answers).
- **A bounded head.** The httptools parser takes a request head of any size (uvicorn bounds only its h11
  parser), so a client could send headers without end. `MockHttpProtocol` counts what arrives while a head is
  incomplete; past `MAX_HEAD_BYTES` it answers 431 in the Fintesk envelope (after the answers to the requests
  that came before it on the connection) and ends its side of the connection.
  What the client still sends is read and dropped for a while (`LINGER_S`, `LINGER_BYTES`), so that closing does
  not reset the connection before the client has read the answer. Heads under the bound still meet
  `LimitsMiddleware`'s checks of the parsed headers.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from mock_server.http import envelope
from mock_server.http.limits import MAX_HEADER_BYTES, MAX_PATH_CHARS, MAX_QUERY_BYTES

FLUSH_BYTES = 64 * 1024
# A head is its request line and its headers: a refused path, query string or header set is still read whole
# (so that it gets its 414 or 431 from `LimitsMiddleware`), anything beyond these together is not.
MAX_HEAD_BYTES = MAX_HEADER_BYTES + MAX_PATH_CHARS * 3 + MAX_QUERY_BYTES + 4096
# After a refused head: how long, and how much more, the client's sending is read and dropped before closing.
LINGER_S = 5.0
LINGER_BYTES = 16 * 1024 * 1024


class CoalescedTransport:
    """A transport whose writes in one turn of the event loop reach the socket as one write."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []
        self._size = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(bytes(data))
        self._size += len(data)
        if self._size >= FLUSH_BYTES:
            self.flush()

    def writelines(self, lines: Any) -> None:
        for data in lines:
            self.write(data)

    def flush(self) -> None:
        if not self._pending:
            return
        data = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
        self._pending, self._size = [], 0
        if not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def abort(self) -> None:
        self._pending, self._size = [], 0
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:  # everything else is the socket transport's
        return getattr(self._transport, name)


class MockHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol over a `CoalescedTransport`, refusing request heads over `MAX_HEAD_BYTES`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head: int | None = 0  # bytes received while the current request's head is incomplete; None after
        # A request ended within the chunk being parsed: how much of that chunk is the next head is not known.
        self._ended_in_chunk = False
        self._dropped: int | None = None  # bytes dropped since a head was refused; None before

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(cast(asyncio.Transport, CoalescedTransport(transport, self.loop)))

    def on_headers_complete(self) -> None:
        self._head = None
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._head = 0  # what arrives next is the next request's head
        self._ended_in_chunk = True

    def data_received(self, data: bytes) -> None:
        if self._dropped is not None:
            self._dropped += len(data)
            if self._dropped > LINGER_BYTES:
                self.transport.close()
            return
        self._ended_in_chunk = False
        super().data_received(data)
        # Counted after parsing: the chunk that completes a head may carry the start of its body. A chunk that
        # ends a request is not counted at all: most of it may be that request's body (the last 256 kB of a big
        # upload), so a head begun there is bounded from the next chunk on, at most one chunk late.
        if self._head is not None and not self._ended_in_chunk:
            self._head += len(data)
            if self._head > MAX_HEAD_BYTES:
                self._refuse_head()

    def _refuse_head(self) -> None:
        """Drop what the client sends from now on, and answer 431 once the requests before the refused head (one
        in flight, any waiting their turn) have had their answers."""
        if self.transport.is_closing() or self._dropped is not None:
            return
        self._dropped = 0
        self.flow.resume_reading()  # read and dropped, not left to fill the socket's buffers
        if self.cycle is None or self.cycle.response_complete:
            self._answer_refusal()

    def on_response_complete(self) -> None:
        if self._dropped is None:
            super().on_response_complete()
            return
        self.server_state.total_requests += 1
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
        else:
            self._answer_refusal()

    def _answer_refusal(self) -> None:
        if self.transport.is_closing():
            return
        body = envelope.encode(
            envelope.error_body(f"The request head is larger than {MAX_HEAD_BYTES} bytes, the most accepted.")
        )
        head = (
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body)
        )
        self.transport.write(head + body)
        self.transport.write_eof()
        self.loop.call_later(LINGER_S, self.transport.close)
