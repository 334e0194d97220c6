"""The server process ends within a few seconds of SIGTERM, even with requests held by delay faults."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import pytest

from tests.server import free_port

# Generous: the server is asked to stop in seconds; a held request would keep it 300 s.
DEADLINE = 60


class Output:
    """The process's output, read by a thread, so a test can wait for a line."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.lines: list[str] = []
        self.changed = threading.Condition()
        self.thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self.thread.start()

    def _read(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        for raw in process.stdout:
            with self.changed:
                self.lines.append(raw.decode(errors="replace"))
                self.changed.notify_all()

    def wait_for(self, fragment: str) -> None:
        with self.changed:
            found = self.changed.wait_for(lambda: any(fragment in line for line in self.lines), timeout=DEADLINE)
        assert found, "".join(self.lines)


@contextmanager
def server(*args: str) -> Iterator[tuple[subprocess.Popen[bytes], str, Output]]:
    port = free_port()
    argv = [sys.executable, "-m", "mock_server", "serve", "--port", str(port), "--log-level", "info", *args]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ})
    output = Output(process)
    try:
        output.wait_for("Uvicorn running")
        yield process, f"http://127.0.0.1:{port}", output
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def hold_a_request(base_url: str) -> Callable[[], None]:
    """Start a request that a 300-second delay fault holds; return once the server holds it."""
    fault = {"kind": "delay", "delay_ms": 300_000, "path": "/v1/currencies", "times": 1}
    assert httpx.post(f"{base_url}/__mock__/faults", json=fault).status_code == 200

    def call() -> None:
        # The server closing the held connection is one of the ways this ends.
        with contextlib.suppress(httpx.HTTPError):
            httpx.get(f"{base_url}/v1/currencies", headers={"x-api-token": "held"}, timeout=DEADLINE * 2)

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    deadline = time.monotonic() + DEADLINE
    # The fault is used up (and gone from the list) when the request reaches it: the server now holds it.
    while httpx.get(f"{base_url}/__mock__/faults").json():
        assert time.monotonic() < deadline, "the request never reached the fault"
        time.sleep(0.02)
    return lambda: thread.join(DEADLINE)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_ends_the_server_despite_a_held_request(sig: signal.Signals) -> None:
    with server("--shutdown-timeout", "1") as (process, base_url, _):
        hold_a_request(base_url)
        process.send_signal(sig)
        assert process.wait(timeout=DEADLINE) is not None


def test_a_second_sigterm_ends_the_server_at_once(sig: signal.Signals = signal.SIGTERM) -> None:
    with server("--shutdown-timeout", "600") as (process, base_url, output):
        hold_a_request(base_url)
        process.send_signal(sig)
        output.wait_for("Waiting for connections to close")  # uvicorn now waits for the held request, up to 600 s
        process.send_signal(sig)
        assert process.wait(timeout=DEADLINE) == 128 + sig


def test_a_hanging_webhook_receiver_does_not_hold_the_shutdown() -> None:
    from contract_tests.receiver import Receiver

    receiver = Receiver()
    receiver.answer(behaviour="hang")
    try:
        with server("--shutdown-timeout", "1") as (process, base_url, output):
            hook = {"subscription_url": receiver.url, "event_action": "*", "event_object": "deal"}
            headers = {"x-api-token": "hooked"}
            assert httpx.post(f"{base_url}/v1/webhooks", json=hook, headers=headers).status_code == 201
            assert httpx.put(f"{base_url}/v1/deals/1", json={"name": "x"}, headers=headers).status_code == 200
            receiver.wait(1)  # the delivery is under way, and its receiver will not answer
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=DEADLINE) is not None
            output.thread.join(DEADLINE)
            lines = "".join(output.lines)
            assert "Application shutdown complete" in lines and "Traceback" not in lines and "destroyed" not in lines
    finally:
        receiver.close()
