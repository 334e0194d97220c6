"""The served connection: one write per answer, and request heads bounded before they are parsed whole."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from uvicorn.config import Config
from uvicorn.server import ServerState

from mock_server.http.protocol import FLUSH_BYTES, MAX_HEAD_BYTES, CoalescedTransport, MockHttpProtocol
from tests.server import running_server


class RecordingTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = self.ended = False

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def write_eof(self) -> None:
        self.ended = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 1)}.get(name, default)


def test_writes_of_one_turn_reach_the_socket_as_one() -> None:
    async def scenario() -> tuple[list[bytes], list[bytes]]:
        socket_side, loop = RecordingTransport(), asyncio.get_running_loop()
        transport = CoalescedTransport(socket_side, loop)
        transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
        transport.write(b"body")
        during = list(socket_side.writes)
        # A callback scheduled now runs after those this turn scheduled (the transport's flush among them).
        turn_over = loop.create_future()
        loop.call_soon(turn_over.set_result, None)
        await turn_over
        return during, socket_side.writes

    during, after = asyncio.run(scenario())
    assert during == []
    assert after == [b"HTTP/1.1 200 OK\r\n\r\nbody"]


def test_big_writes_go_out_at_once_and_close_sends_what_is_pending() -> None:
    async def scenario() -> tuple[list[bytes], RecordingTransport]:
        socket_side = RecordingTransport()
        transport = CoalescedTransport(socket_side, asyncio.get_running_loop())
        transport.write(b"x" * FLUSH_BYTES)
        written = list(socket_side.writes)
        transport.write(b"last")
        transport.close()
        return written, socket_side

    written, socket_side = asyncio.run(scenario())
    assert written == [b"x" * FLUSH_BYTES]  # not held until the end of the turn: flow control still sees it
    assert socket_side.writes[-1] == b"last" and socket_side.closed


def test_the_transport_answers_for_the_socket() -> None:
    async def scenario() -> Any:
        return CoalescedTransport(RecordingTransport(), asyncio.get_running_loop()).get_extra_info("peername")

    assert asyncio.run(scenario()) == ("127.0.0.1", 1)


@pytest.fixture(scope="module")
def address() -> Iterator[tuple[str, int]]:
    with running_server() as base_url:
        parts = urlsplit(base_url)
        assert parts.hostname is not None and parts.port is not None
        yield parts.hostname, parts.port


def exchange(address: tuple[str, int], *pieces: bytes, done_sending: bool = False) -> bytes:
    """What the server sends back on one connection after `pieces`, until it closes the connection. With
    `done_sending` the client ends its side after the pieces (which would cut short answers still to come)."""
    with socket.create_connection(address, timeout=120) as connection:
        for piece in pieces:
            connection.sendall(piece)
        if done_sending:
            connection.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
        return received


def answers(raw: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    """The HTTP answers in `raw`, each as (status, headers, body)."""
    found = []
    while raw:
        head, _, rest = raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = dict(line.lower().split(": ", 1) for line in lines[1:])
        length = int(headers["content-length"])
        found.append((int(lines[0].split()[1]), headers, rest[:length]))
        raw = rest[length:]
    return found


def test_a_head_past_the_bound_is_a_431_in_the_envelope_and_the_connection_closes(address: tuple[str, int]) -> None:
    start = b"GET /v1/deals/1 HTTP/1.1\r\nhost: localhost\r\nx-api-token: head\r\nx-padding: "
    # The header never ends: without a bound the server would read it for as long as the client sends.
    filler = [b"a" * 65536 for _ in range(MAX_HEAD_BYTES // 65536 + 4)]
    [(status, headers, body)] = answers(exchange(address, start, *filler, done_sending=True))
    assert status == 431
    assert headers["connection"] == "close"
    error = json.loads(body)
    assert error["success"] is False and "request head" in error["error"]


def test_answers_on_one_connection_arrive_whole_and_in_order(address: tuple[str, int]) -> None:
    body = json.dumps({"name": "Coalesced", "person_id": 1}).encode() + b" " * 300_000
    post = (b"POST /v1/deals HTTP/1.1\r\nhost: localhost\r\nx-api-token: pipeline\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\n\r\n" % len(body)) + body  # fmt: skip
    get = b"GET /v1/deals/1 HTTP/1.1\r\nhost: localhost\r\nx-api-token: pipeline\r\n\r\n"
    last = b"GET /v1/deals/1 HTTP/1.1\r\nhost: localhost\r\nx-api-token: pipeline\r\nconnection: close\r\n\r\n"
    # A body far over the head's bound, sent in the same writes as its head, is a body, not a head.
    found = answers(exchange(address, post + get, last))
    assert [status for status, _, _ in found] == [201, 200, 200]
    assert json.loads(found[0][2])["data"]["name"] == "Coalesced"
    assert json.loads(found[1][2])["data"]["id"] == 1 == json.loads(found[2][2])["data"]["id"]


async def _body_length_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers the length of the request's body, once it has read all of it."""
    size, more = 0, True
    while more:
        message = await receive()
        size += len(message.get("body", b""))
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % len(str(size)))]})
    await send({"type": "http.response.body", "body": str(size).encode()})


def _fed(*chunks: bytes) -> tuple[list[tuple[int, dict[str, str], bytes]], bool]:
    """The answers a connection writes when its requests arrive as `chunks`, each one read of the socket, and
    whether it ended its side of the connection."""

    async def scenario() -> tuple[bytes, bool]:
        config = Config(app=_body_length_app, lifespan="off", access_log=False)
        socket_side = RecordingTransport()
        protocol = MockHttpProtocol(config=config, server_state=ServerState(), app_state={})
        protocol.connection_made(socket_side)
        for chunk in chunks:
            protocol.data_received(chunk)
        for _ in range(1000):  # turns of the loop: the app runs until it has answered, in a few
            if protocol.cycle is None or protocol.cycle.response_complete:
                break
            await asyncio.sleep(0)
        assert protocol.cycle is None or protocol.cycle.response_complete, "the app never answered"
        ended = socket_side.ended
        protocol.transport.close()  # sends what the last turn wrote
        return b"".join(socket_side.writes), ended

    raw, ended = asyncio.run(scenario())
    return answers(raw), ended


def test_a_read_that_ends_a_big_body_is_not_taken_for_a_head() -> None:
    # A big upload's last read of the socket (up to 256 kB) ends its body: none of it is a head to bound.
    body = b"x" * (MAX_HEAD_BYTES * 2)
    head = b"PUT /state HTTP/1.1\r\nhost: localhost\r\ncontent-length: %d\r\n\r\n" % len(body)
    [(status, _, answer)], ended = _fed(head + body[:1000], body[1000:])
    assert (status, answer) == (200, str(len(body)).encode())
    assert not ended


def test_a_head_begun_in_the_read_that_ends_a_request_is_still_bounded() -> None:
    body = b"x" * 1000
    put = b"PUT /state HTTP/1.1\r\nhost: localhost\r\ncontent-length: %d\r\n\r\n" % len(body) + body
    endless = b"GET / HTTP/1.1\r\nhost: localhost\r\nx-padding: " + b"a" * (MAX_HEAD_BYTES // 2)
    found, ended = _fed(put + endless, b"a" * (MAX_HEAD_BYTES + 1))
    # The whole request is answered first; the head after it is refused once the next read takes it past the
    # bound, and the connection ends.
    assert [(status, body) for status, _, body in found][:1] == [(200, b"1000")]
    assert [status for status, _, _ in found] == [200, 431]
    assert ended
