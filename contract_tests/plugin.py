"""pytest plugin: `fintesk_mock`, a running mock, and `fintesk_intercept`, the mock answering in the test's own
process; both give every test a fresh tenant token."""

from __future__ import annotations

import itertools
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from contract_tests.receiver import Receiver
from mock_server.client import MockControl

_tokens = itertools.count(1)
STRICT_VARIABLE = "FINTESK_MOCK_STRICT"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("fintesk_mock", "Fintesk Mock")
    group.addoption(
        "--fintesk-mock-strict",
        action="store_true",
        default=None,
        help="The mock refuses (400) body fields an operation does not define, instead of ignoring them with an "
        "x-fintesk-mock-warning header (also: ini fintesk_mock_strict, or FINTESK_MOCK_STRICT=1).",
    )
    parser.addini("fintesk_mock_strict", "Run the Fintesk mock in strict mode (see --fintesk-mock-strict).", "bool")


def strict_mode(config: pytest.Config) -> bool:
    """Whether this run asked for strict mode: the option, else FINTESK_MOCK_STRICT, else the ini setting."""
    option = config.getoption("fintesk_mock_strict", default=None)
    if option is not None:
        return bool(option)
    variable = os.environ.get(STRICT_VARIABLE, "").strip().lower()
    if variable:
        return variable in ("1", "true", "yes", "on")
    return bool(config.getini("fintesk_mock_strict"))


@dataclass
class FinteskMock:
    """What a test gets: the API base URL, its own token, a client that sends it, and the control plane."""

    base_url: str
    token: str
    _control: MockControl | None = None
    # Whether the run is strict: the client then asks for it on every request (for a server started elsewhere).
    strict: bool = False
    _receiver: Receiver | None = None

    @property
    def control(self) -> MockControl:
        if self._control is None:
            self._control = MockControl(self.base_url)
        return self._control

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, headers=self.headers, **kwargs)

    @property
    def headers(self) -> dict[str, str]:
        """The headers of this test's requests: its token, and the ask for strict mode in a strict run."""
        return {"x-api-token": self.token, **({"x-fintesk-mock-strict": "true"} if self.strict else {})}

    def fail_next(self, target: str, status: int = 500, times: int = 1, **options: Any) -> dict[str, Any]:
        """The next `times` requests of this test matching `"METHOD /path"` answer `status`."""
        return self.control.fail_next(target, status=status, times=times, tenant=self.token, **options)

    def inject(self, kind: str, target: str = "* *", **options: Any) -> dict[str, Any]:
        return self.control.inject(kind, target, tenant=self.token, **options)

    def freeze(self, moment: str) -> dict[str, Any]:
        """Freeze this test's clock (its tenant's alone: tests running in parallel keep their own time)."""
        return self.control.freeze(moment, token=self.token)

    def advance(self, duration: str) -> dict[str, Any]:
        """Move this test's clock on; other tenants' clocks do not move."""
        return self.control.advance(duration, token=self.token)

    def clock(self) -> dict[str, Any]:
        return self.control.clock(token=self.token)

    def requests(self, path: str | None = None) -> list[Any]:
        """What this test's code sent, oldest first (optionally only paths matching a glob or prefix)."""
        return self.control.requests(path=path, token=self.token)

    @property
    def receiver(self) -> Receiver:
        """A webhook receiver on loopback for this test: `url`, `received`, `wait(n)`, `answer(...)`."""
        if self._receiver is None:
            self._receiver = Receiver()
        return self._receiver

    def subscribe(self, event_action: str = "*", event_object: str = "*", **options: Any) -> dict[str, Any]:
        """Subscribe this test's receiver to its tenant's events (`version="1.0"` for the old payloads)."""
        body = {"subscription_url": self.receiver.url, "event_action": event_action, "event_object": event_object}
        with self.client() as client:
            answer = client.post("/webhooks", json={**body, **options})
        answer.raise_for_status()
        return dict(answer.json()["data"])

    def deliveries(self, wait_for: int | None = None) -> list[dict[str, Any]]:
        """This test's webhook delivery log (one entry per attempt), oldest first; with `wait_for`, once that many
        entries were logged in all."""
        return self.control.deliveries(self.token, wait_for=wait_for)

    def delivery_fault(self, kind: str, **options: Any) -> dict[str, Any]:
        """`duplicate`, `swap`, `delay`, `drop` or `fail` this test's next webhook deliveries."""
        return self.control.delivery_fault(self.token, kind, **options)

    def reset(self) -> None:
        """Forget this token's account: its next request starts again from the fixtures."""
        self.control.reset(self.token)

    def close(self) -> None:
        """Undo what the test changed: a reset of its tenant drops its account, clock, faults and rate limit."""
        control = self.control
        control.clear_requests(self.token)
        control.reset(self.token)
        control.close()
        if self._receiver is not None:
            self._receiver.close()


@dataclass
class FinteskIntercept(FinteskMock):
    """The same helpers on the mock that `mock_server.intercept()` answers from, in this process."""

    def use_token(self, token: str) -> None:
        """Point the helpers at the token the code under test sends, its tenant started afresh."""
        self.token = token
        self.reset()


class MockServer:
    """The mock served by uvicorn in a background thread of the test process, on a free loopback port."""

    def __init__(self, strict: bool = False) -> None:
        from mock_server.http.quiet import third_party_deprecations_ignored

        # The libraries' deprecation warnings are not the user's: kept out of the run (not by its settings).
        with third_party_deprecations_ignored():
            import uvicorn

            from mock_server.app import create_app
            from mock_server.client import ADMIN_TOKEN_VARIABLE
            from mock_server.settings import Settings

            # The same admin token MockControl sends, so the plugin's own server and its calls agree.
            admin_token = os.environ.get(ADMIN_TOKEN_VARIABLE) or None
            self.app = create_app(Settings(admin_token=admin_token, strict=strict))
        self.tenants = self.app.state["tenants"]
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, name="fintesk-mock", daemon=True)
        self.base_url = f"http://127.0.0.1:{port}/v1"

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 300  # generous: start-up on a busy machine can take 20 s
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the Fintesk mock did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="session")
def fintesk_mock_server(pytestconfig: pytest.Config) -> Iterator[MockServer | None]:
    """One mock per test session, unless FINTESK_MOCK_URL names a server that already runs."""
    if os.environ.get("FINTESK_MOCK_URL"):
        yield None
        return
    server = MockServer(strict=strict_mode(pytestconfig))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fintesk_mock(fintesk_mock_server: MockServer | None, pytestconfig: pytest.Config) -> Iterator[FinteskMock]:
    base_url = os.environ.get("FINTESK_MOCK_URL", "").rstrip("/") or (
        fintesk_mock_server.base_url if fintesk_mock_server else ""
    )
    mock = FinteskMock(base_url, f"pytest-{os.getpid()}-{next(_tokens)}", strict=strict_mode(pytestconfig))
    yield mock
    mock.close()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "fintesk_intercept(bases=None, block_others=False): what the fintesk_intercept fixture intercepts"
    )


@pytest.fixture
def fintesk_intercept(request: pytest.FixtureRequest) -> Iterator[FinteskIntercept]:
    """Requests to Fintesk API URLs answered in this process by `mock_server.intercept()`, with a fresh tenant.
    `@pytest.mark.fintesk_intercept(bases=[...], block_others=True)` chooses what is intercepted."""
    from mock_server.interception import CONTROL_ROOT, intercept

    marker = request.node.get_closest_marker("fintesk_intercept")
    with intercept(*(marker.args if marker else ()), **(marker.kwargs if marker else {})) as active:
        token = f"intercept-{os.getpid()}-{next(_tokens)}"
        mock = FinteskIntercept(f"{CONTROL_ROOT}/v1", token, _control=active.control)
        yield mock
        mock.close()
