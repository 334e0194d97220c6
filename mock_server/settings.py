"""All settings of a mock server, read once into a frozen dataclass."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

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

    def accepts(self, token: str) -> bool:
        return not self.tokens or token in self.tokens


def parse_tokens(value: str | None) -> frozenset[str]:
    """Turn `T1,T2` into a set of tokens, ignoring blanks."""
    if not value:
        return frozenset()
    return frozenset(token.strip() for token in value.split(",") if token.strip())
