"""The `Host` allowlist: a request is served only when it names this machine, so no web page can reach the mock.

A page on `http://evil.example` can make its own name resolve to 127.0.0.1 (DNS rebinding) and then call the mock
from the developer's browser as a same-origin page: CORS does not stop it, but the `Host` header still says
`evil.example`. So every route answers only requests whose `Host` is a loopback name or address, the address the
server was started on, the machine's own names and addresses (for `--host 0.0.0.0`), or a name the user allowed.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

from mock_server.http import envelope
from mock_server.http.access_log import logged_path

logger = logging.getLogger("fintesk_mock")
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
# What the refusal quotes of a `Host` header, at most: the header is the client's.
MAX_SHOWN = 100
STATUS = 403


def host_name(header: str) -> str:
    """The name or address of a `Host` header without its port, lowercased: `[::1]:8080` -> `::1`."""
    header = header.strip().lower()
    if header.startswith("["):  # an IPv6 address, bracketed: its colons are not a port's
        return header[1:].partition("]")[0]
    name, colon, port = header.rpartition(":")
    if colon and port.isdigit() and ":" not in name:
        return name.rstrip(".")
    return header.rstrip(".")


def is_loopback_name(name: str) -> bool:
    if name in LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def machine_names() -> frozenset[str]:
    """This machine's host name, its fully qualified name and the addresses the host name resolves to."""
    names = {socket.gethostname(), socket.getfqdn()}
    try:
        for *_, address in socket.getaddrinfo(socket.gethostname(), None):
            names.add(str(address[0]).partition("%")[0])  # an IPv6 link-local address without its zone
    except OSError:  # a host name that does not resolve: its name alone
        pass
    return frozenset(name.lower() for name in names if name)


def is_wildcard(host: str) -> bool:
    """Whether binding `host` serves every interface of the machine (0.0.0.0, ::)."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        return False


class HostAllowlist:
    """The names a server answers to, given the address it binds and the names the user allowed (`*`: any)."""

    def __init__(self, served: str, allowed: Iterable[str] = ()) -> None:
        allowed = [host_name(name) for name in allowed if name.strip()]
        self.any = "*" in allowed
        names = {host_name(served), *allowed}
        if is_wildcard(served):
            names |= machine_names()
        self.names = frozenset(names)

    def allows(self, header: str, scope: Scope) -> bool:
        name = host_name(header)
        if self.any or name in self.names or is_loopback_name(name):
            return True
        server = scope.get("server")
        if not server or not server[0]:
            return True  # no socket (a Unix one, or none): no browser can reach it
        try:
            # The address the connection came in on: a page whose origin is that address is the server's own.
            return ipaddress.ip_address(name) == ipaddress.ip_address(str(server[0]).partition("%")[0])
        except ValueError:
            pass
        # An in-process client (Starlette's TestClient) calls the app without a socket: the `server` it reports is
        # the name it sends as `Host` ("testserver"), where a socket's is always an address.
        return name == str(server[0]).lower() and not _is_address(name)


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class HostMiddleware:
    """Refuses (403, in the Fintesk envelope) a request on any route whose `Host` the allowlist does not hold."""

    def __init__(self, app: ASGIApp, allowlist: HostAllowlist) -> None:
        self.app = app
        self.allowlist = allowlist

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        header = next((value for name, value in scope["headers"] if name == b"host"), None)
        # No `Host` at all (HTTP/1.0): browsers always send one, so such a request is no rebinding page's.
        if header is None or self.allowlist.allows(header.decode("latin-1"), scope):
            await self.app(scope, receive, send)
            return
        shown = ascii(header.decode("latin-1")[:MAX_SHOWN])
        message = (
            f"Host {shown} is not served: this mock answers only requests to loopback names and addresses, the "
            f"address it serves and names given with --allowed-host (or FINTESK_MOCK_ALLOWED_HOST); start it with "
            f"--allowed-host {ascii(host_name(header.decode('latin-1')))[1:-1][:MAX_SHOWN]} to serve this name."
        )
        logger.warning("refused %s %s: Host %s is not allowed (see --allowed-host)", scope.get("method", "-"),
                       logged_path(scope), shown)  # fmt: skip
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        body = envelope.encode(envelope.error_body(message))
        await send({"type": "http.response.start", "status": STATUS, "headers": [
            (b"content-type", envelope.JSON.encode()), (b"content-length", str(len(body)).encode())]})  # fmt: skip
        await send({"type": "http.response.body", "body": body})
