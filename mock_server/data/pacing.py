"""Reading an account politely: at most `rate` requests a second, waiting out 429s and exhausted windows."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from mock_server import __version__

# How often one request is tried when the service answers 429 or 5xx, or the connection fails.
ATTEMPTS = 6
# The longest single wait a header may ask for; a longer one is taken as this many seconds, then asked again.
LONGEST_WAIT = 60.0


class SourceError(Exception):
    """The account cannot be read: unreachable, the token refused, or an answer that is not the API's; `status` is
    the answer's status when there was one."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class Pacer:
    """When the next request may go: spaced by `rate`, held back by Retry-After and the rate-limit headers."""

    def __init__(
        self,
        rate: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = 1 / rate if rate else 0.0
        self.clock = clock
        self.sleep = sleep
        self.resume_at = 0.0

    def wait(self) -> None:
        delay = self.resume_at - self.clock()
        if delay > 0:
            self.sleep(delay)
        self.resume_at = max(self.resume_at, self.clock() + self.interval)

    def observe(self, status: int, headers: Mapping[str, str]) -> None:
        """Hold the next request back as the answer's headers ask (the same rules as `fintesk-mock check`)."""
        remaining, reset = header_number(headers, "x-ratelimit-remaining"), header_number(headers, "x-ratelimit-reset")
        retry_after = header_number(headers, "retry-after")
        pause = None
        if status == 429:
            pause = retry_after if retry_after is not None else reset if reset is not None else 2.0
        elif remaining == 0 and reset is not None:
            pause = reset
        if pause is not None:
            self.hold(pause)

    def hold(self, seconds: float) -> None:
        """Send nothing for `seconds` (at most LONGEST_WAIT) from now."""
        self.resume_at = max(self.resume_at, self.clock() + min(max(seconds, 0.0), LONGEST_WAIT))


def header_number(headers: Mapping[str, str], name: str) -> float | None:
    try:
        value = headers.get(name)
        return float(value) if value is not None else None
    except ValueError:
        return None


class Source:
    """GET-only access to one account's `/v1` API: every call paced, retried on 429 and 5xx, its envelope checked."""

    def __init__(self, base_url: str, token: str, pacer: Pacer, *, client: httpx.Client | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.pacer = pacer
        self.client = client or httpx.Client(timeout=60, headers={"user-agent": f"fintesk-mock-snapshot/{__version__}"})
        self.requests = 0
        self.answered = False

    def close(self) -> None:
        self.client.close()

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        """The envelope of a successful `GET path`; a `SourceError` naming the request when there is none."""
        url = f"{self.base_url}{path}"
        where = f"GET {path}" + (f"?{httpx.QueryParams(params)}" if params else "")
        for attempt in range(1, ATTEMPTS + 1):
            self.pacer.wait()
            self.requests += 1
            try:
                response = self.client.get(url, params=params, headers={"x-api-token": self.token})
            except httpx.HTTPError as error:
                # A wrong URL fails at once; once the account has answered, a lost connection is worth retrying.
                if attempt == ATTEMPTS or not self.answered:
                    reason = f"{type(error).__name__}: {self.mask(error)}"
                    raise SourceError(f"cannot reach {self.base_url}: {reason}") from None
                self.pacer.hold(2 ** (attempt - 1))
                continue
            self.answered = True
            self.pacer.observe(response.status_code, response.headers)
            if response.status_code == 429:
                if header_number(response.headers, "x-daily-requests-left") == 0:
                    raise SourceError(f"{where}: the token's requests for today are spent (x-daily-requests-left: 0).")
                continue
            if response.status_code >= 500 and attempt < ATTEMPTS:
                self.pacer.hold(2 ** (attempt - 1))
                continue
            return self._envelope(where, response)
        raise SourceError(f"{where}: still refused with 429 after {ATTEMPTS} attempts; try a lower --rate.")

    def _envelope(self, where: str, response: httpx.Response) -> dict[str, Any]:
        if response.status_code == 401:
            raise SourceError(f"{self.base_url} refused the token (401); pass a valid one with --token.")
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code != 200 or not isinstance(body, dict) or body.get("success") is not True:
            detail = body.get("error") if isinstance(body, dict) else response.text[:200]
            raise SourceError(f"{where}: answered {response.status_code}: {self.mask(detail)}", response.status_code)
        return body

    def mask(self, text: object) -> str:
        return str(text).replace(self.token, "[token]") if self.token else str(text)
