"""Start the mock as users do, in a separate process through the CLI, and stop it afterwards."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server(
    *args: str,
    command: Sequence[str] | None = None,
    timeout: float = 300,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Iterator[str]:
    """Yield the base URL of a `fintesk-mock serve` process once its health check answers (the deadline is only
    for a server that never comes up: start-up takes seconds on a quiet machine and far longer on a busy one)."""
    port = free_port()
    argv = [*(command or [sys.executable, "-m", "mock_server"]), "serve", "--port", str(port), *args]
    # Output goes to a file, not a pipe nobody drains: a chatty server would block once the pipe is full.
    log = tempfile.TemporaryFile()  # noqa: SIM115 (closed with the server, below)
    process = subprocess.Popen(
        argv, stdout=log, stderr=subprocess.STDOUT, cwd=cwd, env=dict(os.environ if env is None else env)
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                log.seek(0)
                output = log.read().decode(errors="replace")
                raise RuntimeError(f"server exited with {process.returncode}: {output}")
            try:
                if httpx.get(f"{base_url}/__mock__/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not answer its health check in time")
            time.sleep(0.05)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
