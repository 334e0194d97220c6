"""All settings of a mock server, read once into a frozen dataclass."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from mock_server import DEFAULT_FIXTURES


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    fixtures: Path = DEFAULT_FIXTURES
    # Empty means every token is accepted and becomes its own tenant.
    tokens: frozenset[str] = field(default_factory=frozenset)
    log_level: str = "info"
    # Seeds ids-independent randomness (custom field keys, probabilistic faults) so runs can be repeated.
    seed: int = 0
    # Requests per 2-second window per token; 0 turns rate limiting off.
    rate_limit: int = 0
    # An exported tenant state every tenant starts from, instead of the fixtures.
    state: Path | None = None
    # A named scenario applied at start.
    scenario: str | None = None
    # Instead of the fixtures' deals: this many generated deals (with activities, products, persons) from `seed`.
    generate_deals: int = 0
    # The largest request body accepted, in MB; the control plane's state import takes up to `max_import_mb`.
    max_body_mb: int = 10
    max_import_mb: int = 256
    # Live tenants kept in memory; past it the least recently used one is dropped.
    max_tenants: int = 256
    # Response validation costs most of the list throughput, so it is for tests only.
    validate_responses: bool = False
    # Browsers may call /v1 from other origins (a front-end, Swagger UI served elsewhere): from these, or any (`*`).
    cors: bool = True
    cors_origins: tuple[str, ...] = ("*",)
    # The log's lines (the request log's at info): `text`, or `json` (one object per line).
    log_format: str = "text"
    # When set, every /__mock__ route but GET /__mock__/health needs the header x-admin-token with this value.
    admin_token: str | None = None
    # A folder that keeps every tenant on disk (SQLite), written before each write's answer; None keeps memory only.
    data_dir: Path | None = None
    # Names besides loopback ones, `host` and (for 0.0.0.0) the machine's own that `Host` may say; `*` allows any.
    allowed_hosts: tuple[str, ...] = ()
    # Refuse (400) a body field the operation does not define, instead of ignoring it with a warning header.
    strict: bool = False
    # Webhooks are delivered to loopback addresses only, and to these host names besides (a receiver in another
    # container): a fuzzer's or a test's subscription never sends a request onto the network.
    webhook_hosts: tuple[str, ...] = ()

    def accepts(self, token: str) -> bool:
        return not self.tokens or token in self.tokens


LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def is_loopback(host: str) -> bool:
    """Whether binding `host` keeps the server reachable from this machine only."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name that may resolve to any address


def parse_hosts(values: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Host names from values that may each hold a comma-separated list."""
    return tuple(name.strip() for value in values for name in value.split(",") if name.strip())


def parse_tokens(value: str | None) -> frozenset[str]:
    """Turn `T1,T2` into a set of tokens, ignoring blanks."""
    if not value:
        return frozenset()
    return frozenset(token.strip() for token in value.split(",") if token.strip())


def parse_origins(values: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Origins as `scheme://host[:port]` (or `*` for any), from values that may each hold a comma-separated list;
    none given means any."""
    origins = tuple(origin.strip().rstrip("/") for value in values for origin in value.split(",") if origin.strip())
    for origin in origins:
        parts = urlsplit(origin)
        if origin != "*" and not (parts.scheme in ("http", "https") and parts.netloc and not parts.path):
            raise ValueError(f"{origin!r} is not an origin; give scheme://host[:port] such as http://localhost:3000, "
                             "or * for any.")  # fmt: skip
    return origins or ("*",)
