"""A clean stop (SIGTERM, Ctrl-C) leaves the data folder's database whole in one file; a damaged one stops start-up."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from mock_server.data.store import FILE_NAME
from tests.test_durability import server

TOKEN = {"x-api-token": "clean-stop"}
DEADLINE_S = 60


def write_and_stop(folder: Path, stop: signal.Signals) -> list[dict[str, object]]:
    """Five acknowledged writes to a `serve --data-dir` process, then the signal; the deals as the server answered
    them, once the process has ended."""
    with server(folder) as (process, base):
        deals = []
        with httpx.Client(base_url=f"{base}/v1", headers=TOKEN, timeout=DEADLINE_S) as client:
            for number in range(4):
                answer = client.post("/deals", json={"name": f"Deal {number}", "person_id": 1, "value": number})
                assert answer.status_code == 201, answer.text
                deals.append(answer.json()["data"])
            changed = client.put(f"/deals/{deals[0]['id']}", json={"name": "Renamed"})
            assert changed.status_code == 200, changed.text
            deals[0] = changed.json()["data"]
        process.send_signal(stop)
        process.wait(timeout=DEADLINE_S)
    return deals


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_a_clean_stop_leaves_the_database_file_alone_with_every_write(tmp_path: Path, stop: signal.Signals) -> None:
    deals = write_and_stop(tmp_path / "served", stop)
    database = tmp_path / "served" / FILE_NAME
    log = database.with_name(FILE_NAME + "-wal")
    assert not log.exists() or log.stat().st_size == 0
    copy = tmp_path / "copy"
    copy.mkdir()
    shutil.copy(database, copy / FILE_NAME)  # the database file alone, as a user shares or keeps it
    with server(copy) as (_process, base):
        for deal in deals:
            found = httpx.get(f"{base}/v1/deals/{deal['id']}", headers=TOKEN, timeout=DEADLINE_S)
            assert found.status_code == 200, found.text
            assert found.json()["data"]["name"] == deal["name"]


def test_a_damaged_database_stops_start_up_with_one_line(tmp_path: Path) -> None:
    write_and_stop(tmp_path, signal.SIGTERM)
    database = tmp_path / FILE_NAME
    data = bytearray(database.read_bytes())
    page = 4096
    assert len(data) > 2 * page, "the database should span several pages"
    data[page:] = bytes(0xA5 for _ in range(len(data) - page))  # every page but the header's garbled
    database.write_bytes(bytes(data))
    started = subprocess.run(
        [sys.executable, "-m", "mock_server", "serve", "--port", "9", "--data-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=DEADLINE_S,
    )  # fmt: skip
    assert started.returncode == 2, started.stderr
    (line,) = started.stderr.strip().splitlines()
    assert line.startswith("Error: cannot start: ") and str(database) in line
    assert "restore it from a copy, or move it away" in line
    assert "Uvicorn running" not in started.stdout + started.stderr
