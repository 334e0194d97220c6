"""Small pieces of ASGI plumbing that more than one middleware needs."""

from __future__ import annotations

from starlette.types import Message, Send


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
