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

from mock_server.client import MockControl

_tokens = itertools.count(1)


@dataclass
class FinteskMock:
    """What a test gets: the API base URL, its own token, a client that sends it, and the control plane."""

    base_url: str
    token: str
    _control: MockControl | None = None

    @property
    def control(self) -> MockControl:
        if self._control is None:
            self._control = MockControl(self.base_url)
        return self._control

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, headers={"x-api-token": self.token}, **kwargs)

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

    def reset(self) -> None:
        """Forget this token's account: its next request starts again from the fixtures."""
        self.control.reset(self.token)

    def close(self) -> None:
        """Undo what the test changed: a reset of its tenant drops its account, clock, faults and rate limit."""
        control = self.control
        control.clear_requests(self.token)
        control.reset(self.token)
        control.close()


@dataclass
class FinteskIntercept(FinteskMock):
    """The same helpers on the mock that `mock_server.intercept()` answers from, in this process."""

    def use_token(self, token: str) -> None:
        """Point the helpers at the token the code under test sends, its tenant started afresh."""
        self.token = token
        self.reset()


class MockServer:
    """The mock served by uvicorn in a background thread of the test process, on a free loopback port."""

    def __init__(self) -> None:
        import uvicorn

        from mock_server.app import create_app
        from mock_server.client import ADMIN_TOKEN_VARIABLE
        from mock_server.settings import Settings

        # The same admin token MockControl sends, so the plugin's own server and its calls agree.
        self.app = create_app(Settings(admin_token=os.environ.get(ADMIN_TOKEN_VARIABLE) or None))
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
def fintesk_mock_server() -> Iterator[MockServer | None]:
    """One mock per test session, unless FINTESK_MOCK_URL names a server that already runs."""
    if os.environ.get("FINTESK_MOCK_URL"):
        yield None
        return
    server = MockServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fintesk_mock(fintesk_mock_server: MockServer | None) -> Iterator[FinteskMock]:
    base_url = os.environ.get("FINTESK_MOCK_URL", "").rstrip("/") or (
        fintesk_mock_server.base_url if fintesk_mock_server else ""
    )
    mock = FinteskMock(base_url, f"pytest-{os.getpid()}-{next(_tokens)}")
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
