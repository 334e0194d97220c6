"""Small pieces of ASGI plumbing that more than one middleware needs."""

from __future__ import annotations

from starlette.types import Message, Receive, Send


class StatusRecorder:
    """An ASGI `send` that passes every message on and remembers the status of the answer it started: 500 until
    one starts, which is what a client sees when the app fails first."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.status = 500

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        await self._send(message)


async def read_request(receive: Receive) -> tuple[list[Message], list[bytes]]:
    """Every message of the request's body as received (up to its last, or to a disconnect), and the pieces of
    the body they carry."""
    messages: list[Message] = []
    pieces: list[bytes] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        pieces.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return messages, pieces


def replayed(messages: list[Message], receive: Receive) -> Receive:
    """A `receive` that gives `messages` first (a body already read), then whatever `receive` gives (disconnects)."""
    pending = iter(messages)

    async def replaying() -> Message:
        return next(pending, None) or await receive()

    return replaying
