"""One webhook POST: to loopback (or an allowed host) only, never to this server, bounded in time and in what is
read of the answer, redirects not followed."""

from __future__ import annotations

import asyncio
import ipaddress
from typing import Any
from urllib.parse import urlsplit

import httpx

from mock_server.settings import is_loopback

TIMEOUT_S = 10.0  # the real service's: no answer within 10 s is a failure
EXCERPT = 512  # bytes of an answer read and kept; the rest is never read
USER_AGENT = "Fintesk-Mock-Webhooks/1.0"


class Sender:
    """`hosts` are the host names allowed besides loopback addresses (`--webhook-host`)."""

    def __init__(self, hosts: tuple[str, ...] = ()) -> None:
        self.hosts = frozenset(hosts)
        self.timeout_s = TIMEOUT_S
        self._own: set[int] = set()  # the ports this server answers on
        self._client: httpx.AsyncClient | None = None

    def note_server(self, server: Any) -> None:
        """Remember a port this server answers on (a request's ASGI `server`), so nothing is sent to itself."""
        if isinstance(server, tuple | list) and len(server) == 2 and isinstance(server[1], int):
            self._own.add(server[1])

    def open(self) -> None:
        # No proxies from the environment, no redirects followed: a delivery goes where the subscription says.
        self._client = httpx.AsyncClient(follow_redirects=False, trust_env=False, timeout=self.timeout_s)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def post(self, url: str, body: bytes, user: str | None, password: str | None) -> tuple[int | None, str, str]:
        """(the answer's status or None, an excerpt of its body, why it failed or "")."""
        if self.is_own(url):
            return None, "", "refused: the URL is this mock server's own"
        host = (urlsplit(url).hostname or "").lower()
        if not is_loopback(host) and host not in self.hosts:
            return None, "", f"refused: {host} is not a loopback address; allow it with --webhook-host"
        headers = {"content-type": "application/json", "user-agent": USER_AGENT}
        auth = httpx.BasicAuth(user, password or "") if user else None
        if self._client is None:
            self.open()
        assert self._client is not None
        try:
            async with asyncio.timeout(self.timeout_s):
                async with self._client.stream(
                    "POST", url, content=body, headers=headers, auth=auth, timeout=self.timeout_s
                ) as answer:
                    excerpt = b""
                    async for chunk in answer.aiter_raw():
                        excerpt += chunk
                        if len(excerpt) >= EXCERPT:
                            break
                    status = answer.status_code
        except TimeoutError:
            return None, "", f"timeout: no answer within {self.timeout_s:g} s"
        except (httpx.HTTPError, httpx.InvalidURL, OSError, ValueError) as error:
            return None, "", f"{type(error).__name__}: {error}"[:300]
        text = excerpt[:EXCERPT].decode("utf-8", "replace")
        if 200 <= status < 300:
            return status, text, ""
        return status, text, f"answered {status}" + (" (redirects are not followed)" if 300 <= status < 400 else "")

    def is_own(self, url: str) -> bool:
        """Whether `url` reaches this very server (its API or its control plane)."""
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".").lower()
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            return False
        if port not in self._own:
            return False
        if host == "localhost" or host.endswith(".localhost"):
            return True
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return address.is_loopback or address.is_unspecified
