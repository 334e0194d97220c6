"""Killed mid-write: a server with a data folder, killed with SIGKILL while threads write, keeps every
acknowledged write when restarted on the same folder."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.server import free_port

THREADS = 4
# The server is killed once every thread had this many writes acknowledged (its reset and bulk delete among
# them), while every thread is still writing.
KILL_AFTER = 12
DEADLINE_S = 120.0


@contextmanager
def server(folder: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """A `serve --data-dir` process, once its health check answers; killed outright if still alive at the end."""
    port = free_port()
    argv = [sys.executable, "-m", "mock_server", "serve", "--port", str(port), "--log-level", "warning",
            "--data-dir", str(folder)]  # fmt: skip
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + DEADLINE_S
        while True:
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
            try:
                if httpx.get(f"{base}/__mock__/health", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not answer its health check"
            time.sleep(0.05)
        yield process, base
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)
        if process.stderr:
            process.stderr.close()


@dataclass
class Writer:
    """One tenant's writes, in order, and what the server acknowledged of them."""

    number: int
    base: str
    created: dict[int, str] = field(default_factory=dict)  # live deal id -> name
    values: dict[int, int] = field(default_factory=dict)  # deal id -> last acknowledged value
    deleted: set[int] = field(default_factory=set)
    forgotten: set[str] = field(default_factory=set)  # names of deals acknowledged before a reset

    @property
    def token(self) -> str:
        return f"killed-{self.number}"

    def run(self, acknowledged: Acks) -> None:
        with httpx.Client(base_url=self.base, headers={"x-api-token": self.token}, timeout=30) as client:
            try:
                for step in range(10_000):
                    if not self.step(client, step):
                        return
                    acknowledged.add(self.number)
            except httpx.TransportError:
                return  # the server was killed

    def step(self, client: httpx.Client, step: int) -> bool:
        if self.number == 0 and step == 3:
            response = client.post("/__mock__/reset", json={"token": self.token})
            if response.status_code != 200:
                return False
            self.forgotten |= set(self.created.values())
            self.created.clear()
            self.values.clear()
            return True
        if step == 7:
            doomed = sorted(self.created)[:2]
            response = client.delete("/v1/deals", params={"ids": ",".join(map(str, doomed))})
            if response.status_code != 200:
                return False
            self.deleted |= set(doomed)
            for deal_id in doomed:
                del self.created[deal_id]
                self.values.pop(deal_id, None)
            return True
        if step % 3 == 2 and self.created:  # an update of its newest live deal
            deal_id = max(self.created)
            response = client.put(f"/v1/deals/{deal_id}", json={"value": step})
            if response.status_code != 200:
                return False
            self.values[deal_id] = step
            return True
        name = f"{self.token} deal {step}"
        response = client.post("/v1/deals", json={"name": name, "person_id": 1, "value": 0})
        if response.status_code != 201:
            return False
        self.created[response.json()["data"]["id"]] = name
        return True


class Acks:
    """Counts acknowledged writes per thread and says when the server should die."""

    def __init__(self) -> None:
        self.counts = [0] * THREADS
        self.lock = threading.Lock()
        self.enough = threading.Event()

    def add(self, number: int) -> None:
        with self.lock:
            self.counts[number] += 1
            if min(self.counts) >= KILL_AFTER:
                self.enough.set()


def check_tenant(writer: Writer, state: dict[str, Any]) -> None:
    deals = {deal["id"]: deal for deal in state["records"]["deals"]}
    names = {deal["name"] for deal in deals.values()}
    for deal_id, name in writer.created.items():
        assert deal_id in deals, f"{writer.token}: acknowledged deal {deal_id} was lost"
        assert deals[deal_id]["name"] == name, (writer.token, deal_id)
    for deal_id in writer.deleted:
        assert deals[deal_id]["active_flag"] is False, (writer.token, deal_id)
    for deal_id, value in writer.values.items():
        # A later update may have been applied without its answer arriving: never an older value.
        assert deals[deal_id]["value"] >= value, (writer.token, deal_id)
    assert not writer.forgotten & names, writer.token


def test_sigkill_mid_writes_loses_no_acknowledged_write(tmp_path: Path) -> None:
    acks = Acks()
    with server(tmp_path) as (process, base):
        writers = [Writer(number, base) for number in range(THREADS)]
        threads = [threading.Thread(target=writer.run, args=(acks,)) for writer in writers]
        for thread in threads:
            thread.start()
        assert acks.enough.wait(DEADLINE_S), f"acknowledged writes per thread: {acks.counts}"
        process.kill()
        for thread in threads:
            thread.join(DEADLINE_S)
        assert process.wait(timeout=30) == -9
    assert all(writer.created for writer in writers) and writers[0].forgotten and all(w.deleted for w in writers)
    with server(tmp_path) as (_, base):
        for writer in writers:
            state = httpx.get(f"{base}/__mock__/tenants/{writer.token}/state", timeout=30).json()
            check_tenant(writer, state)
