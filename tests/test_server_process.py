"""The real server process, started through the CLI the way users run it, over real HTTP."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from mock_server import DEFAULT_FIXTURES
from tests.server import running_server


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with running_server("--tokens", "alpha,beta", "--log-level", "warning") as base_url:
        yield base_url


def test_serves_the_bundled_fixtures_under_v1(server: str) -> None:
    response = httpx.get(f"{server}/v1/deals", params={"limit": 3}, headers={"x-api-token": "alpha"})
    assert response.status_code == 200
    body = response.json()
    assert len(body["data"]) == 3
    assert body["additional_data"]["pagination"]["more_items_in_collection"] is True


def test_tokens_flag_refuses_other_tokens(server: str) -> None:
    response = httpx.get(f"{server}/v1/deals", headers={"x-api-token": "gamma"})
    assert response.status_code == 401
    assert response.json()["success"] is False


def test_concurrent_adds_get_distinct_ids_and_none_is_lost(server: str) -> None:
    headers = {"x-api-token": "beta"}

    async def add_all() -> list[int]:
        async with httpx.AsyncClient(base_url=server, headers=headers, timeout=30) as client:
            responses = await asyncio.gather(
                *(client.post("/v1/deals", json={"name": f"Concurrent {n}", "person_id": 1}) for n in range(32))
            )
        assert all(response.status_code == 201 for response in responses)
        return [response.json()["data"]["id"] for response in responses]

    ids = asyncio.run(add_all())
    assert len(set(ids)) == 32
    listed = httpx.get(f"{server}/v1/deals", params={"limit": 500}, headers=headers).json()["data"]
    names = {deal["name"] for deal in listed}
    assert {f"Concurrent {n}" for n in range(32)} <= names


def test_env_vars_configure_the_server(tmp_path: Path) -> None:
    import os

    os.environ["FINTESK_MOCK_TOKENS"] = "from-env"
    try:
        with running_server() as base_url:
            assert httpx.get(f"{base_url}/v1/currencies", headers={"x-api-token": "other"}).status_code == 401
            assert httpx.get(f"{base_url}/v1/currencies", headers={"x-api-token": "from-env"}).status_code == 200
    finally:
        del os.environ["FINTESK_MOCK_TOKENS"]


@pytest.mark.skipif(shutil.which("fintesk-mock") is None, reason="the package is not installed")
def test_installed_command_serves(tmp_path: Path) -> None:
    with running_server(command=["fintesk-mock"]) as base_url:
        assert httpx.get(f"{base_url}/v1/activityTypes", params={"api_token": "t"}).status_code == 200


def test_bad_fixture_stops_start_up_with_a_precise_message(tmp_path: Path) -> None:
    folder = tmp_path / "fixtures"
    shutil.copytree(DEFAULT_FIXTURES, folder)
    deals = yaml.safe_load((folder / "deals.yaml").read_text())
    deals[2]["currency"] = 7
    (folder / "deals.yaml").write_text(yaml.safe_dump(deals, allow_unicode=True))
    result = subprocess.run(
        [sys.executable, "-m", "mock_server", "serve", "--fixtures", str(folder)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "deals.yaml" in result.stderr and f"id {deals[2]['id']}" in result.stderr and "'currency'" in result.stderr


def test_serving_does_not_import_the_contract_harness() -> None:
    """`check` is loaded on use, so start-up does not pay for Schemathesis and Hypothesis."""
    probe = "import sys, mock_server.cli; print(sorted(m for m in ('schemathesis', 'hypothesis') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"
    help_text = subprocess.run([sys.executable, "-m", "mock_server", "--help"], capture_output=True, text=True,
                               timeout=60, check=True).stdout  # fmt: skip
    assert "check" in help_text and "serve" in help_text and "scenarios" in help_text
