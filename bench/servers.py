"""Start the mock or Prism on a free loopback port, time their start-up, read their RSS and stop them."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

from bench.kinds import DEAL_ID, TOKEN

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "spec" / "openapi.yaml"
PRISM_PACKAGE = "@stoplight/prism-cli@5"
POLL_INTERVAL_S = 0.02


class StartError(RuntimeError):
    """A server exited or did not answer in time; the message carries the end of its output."""


@dataclass
class Server:
    """A running server process and where its API answers (`base_url` + a request kind's path)."""

    name: str
    process: subprocess.Popen[bytes]
    base_url: str
    log: IO[bytes]
    ready_s: float = 0.0
    startup_s: float = 0.0

    def rss_mb(self) -> float:
        return rss_kb(self.process.pid) / 1024

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
        self.log.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def vm_rss_kb(status_text: str) -> int:
    """VmRSS of a /proc/<pid>/status text, in kB (0 for a process that has none, such as a zombie)."""
    for line in status_text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def rss_kb(pid: int) -> int:
    """Resident memory of a process and all its descendants: Prism may run node behind a wrapper process."""
    try:
        total = vm_rss_kb(Path(f"/proc/{pid}/status").read_text())
        tasks = Path(f"/proc/{pid}/task")
        children = {int(child) for task in tasks.iterdir() for child in (task / "children").read_text().split()}
    except (FileNotFoundError, ProcessLookupError):
        return 0
    return total + sum(rss_kb(child) for child in children)


def _tail(log: IO[bytes], limit: int = 2000) -> str:
    log.flush()
    with open(log.name, "rb") as reader:
        return reader.read().decode(errors="replace")[-limit:]


def _spawn(name: str, argv: Sequence[str], base_url: str) -> Server:
    # A file, not a pipe: a server that logs per request would block once a pipe nobody reads is full.
    log = tempfile.NamedTemporaryFile(prefix=f"bench-{name}-", suffix=".log", delete=True)  # noqa: SIM115
    process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env={**os.environ})
    return Server(name=name, process=process, base_url=base_url, log=log)


def _wait_for(server: Server, url: str, started: float, timeout_s: float, headers: dict[str, str]) -> float:
    """Seconds from `started` to the first 200 from `url`; StartError if the process dies or time runs out."""
    deadline = started + timeout_s
    with httpx.Client(headers=headers) as client:
        while time.perf_counter() < deadline:
            if server.process.poll() is not None:
                raise StartError(f"{server.name} exited with {server.process.returncode}:\n{_tail(server.log)}")
            try:
                # The first request on a big generated account builds the tenant, which takes seconds.
                response = client.get(url, timeout=max(1.0, deadline - time.perf_counter()))
                if response.status_code == 200:
                    return time.perf_counter() - started
            except httpx.TransportError:
                pass
            time.sleep(POLL_INTERVAL_S)
    raise StartError(f"{server.name} did not answer {url} within {timeout_s:.0f} s:\n{_tail(server.log)}")


def start_mock(
    generate_deals: int = 0,
    timeout_s: float | None = None,
    data_dir: Path | None = None,
    tokens: Sequence[str] = (TOKEN,),
    options: Sequence[str] = (),
) -> Server:
    """`python -m mock_server serve` on a free port; start-up is spawn to the first 200 of GET /v1/deals/1."""
    port = free_port()
    argv = [sys.executable, "-m", "mock_server", "serve", "--port", str(port), "--log-level", "warning",
            "--tokens", ",".join(tokens)]  # fmt: skip
    if generate_deals:
        argv += ["--generate-deals", str(generate_deals)]
    if data_dir is not None:
        argv += ["--data-dir", str(data_dir)]
    argv += options
    # Generating and copying 100k deals takes tens of seconds on 2 cores.
    timeout_s = timeout_s if timeout_s is not None else 60 + generate_deals / 500
    started = time.perf_counter()
    server = _spawn("mock", argv, f"http://127.0.0.1:{port}/v1")
    try:
        server.ready_s = _wait_for(server, f"http://127.0.0.1:{port}/__mock__/health", started, timeout_s, {})
        server.startup_s = _wait_for(server, f"{server.base_url}/deals/{DEAL_ID}", started, timeout_s,
                                     {"x-api-token": TOKEN})  # fmt: skip
    except BaseException:
        server.stop()
        raise
    return server


def start_prism(prism_bin: Path, timeout_s: float = 60) -> Server:
    """`prism mock spec/openapi.yaml`; Prism serves the spec's paths without the `/v1` of `servers`."""
    port = free_port()
    # Logging at info would print a line per request; the mock runs at warning too.
    argv = [str(prism_bin), "mock", str(SPEC), "-p", str(port), "-h", "127.0.0.1", "-v", "warn"]
    started = time.perf_counter()
    server = _spawn("prism", argv, f"http://127.0.0.1:{port}")
    try:
        server.startup_s = _wait_for(server, f"{server.base_url}/deals/{DEAL_ID}", started, timeout_s,
                                     {"x-api-token": TOKEN})  # fmt: skip
        server.ready_s = server.startup_s
    except BaseException:
        server.stop()
        raise
    return server


@dataclass(frozen=True)
class Prism:
    """An installed Prism CLI, or why there is none (`bin` None, `note` says why)."""

    bin: Path | None
    version: str | None
    note: str


def prism_version(prefix: Path) -> str | None:
    package = prefix / "node_modules" / "@stoplight" / "prism-cli" / "package.json"
    try:
        return str(json.loads(package.read_text())["version"])
    except (OSError, ValueError, KeyError):
        return None


def ensure_prism(prefix: Path, timeout_s: float = 300) -> Prism:
    """Prism from `prefix`, installed there with `npm install --prefix` on first use."""
    prism_bin = prefix / "node_modules" / ".bin" / "prism"
    if not prism_bin.exists():
        npm = shutil.which("npm")
        if npm is None or shutil.which("node") is None:
            return Prism(None, None, "Prism skipped: npm or node is not on PATH")
        prefix.mkdir(parents=True, exist_ok=True)
        print(f"Installing {PRISM_PACKAGE} into {prefix} ...", file=sys.stderr, flush=True)
        try:
            completed = subprocess.run(
                [npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund", "--loglevel=error", PRISM_PACKAGE],
                capture_output=True, text=True, timeout=timeout_s, check=False,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            return Prism(None, None, f"Prism skipped: npm install did not finish within {timeout_s:.0f} s")
        if completed.returncode != 0 or not prism_bin.exists():
            reason = (completed.stderr or completed.stdout).strip().splitlines()[-1:] or ["no output"]
            return Prism(None, None, f"Prism skipped: npm install failed: {reason[0]}")
    version = prism_version(prefix)
    return Prism(prism_bin, version, f"Prism {version}")
