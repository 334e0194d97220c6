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
from typing import IO

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
    # Output goes to a file, not a pipe nobody reads: the request log writes a line per request, and a full pipe
    # would stop the server.
    with tempfile.TemporaryFile() as output:
        environment = dict(os.environ if env is None else env)
        process = subprocess.Popen(argv, stdout=output, stderr=subprocess.STDOUT, cwd=cwd, env=environment)
        try:
            yield _answering(process, output, f"http://127.0.0.1:{port}", timeout)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _answering(process: subprocess.Popen[bytes], output: IO[bytes], base_url: str, timeout: float) -> str:
    """The base URL once the server answers its health check."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            output.seek(0)
            raise RuntimeError(f"server exited with {process.returncode}: {output.read().decode()}")
        try:
            if httpx.get(f"{base_url}/__mock__/health", timeout=1).status_code == 200:
                return base_url
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("server did not answer its health check in time")
        time.sleep(0.05)
