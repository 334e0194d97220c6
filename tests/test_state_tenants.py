"""`serve --state FILE`: every tenant starts from the state, forked from one build, each changing only its own."""

from __future__ import annotations

import json
from pathlib import Path

from starlette.testclient import TestClient

from mock_server.app import create_app
from mock_server.settings import Settings
from tests.conftest import Api


def state_file(client: TestClient, tmp_path: Path) -> Path:
    source = Api(client, "source")
    source.data("PUT", "/deals/1", json={"name": "From the state"})
    source.data("POST", "/deals", json={"name": "Added before export", "person_id": 1})
    path = tmp_path / "state.json"
    path.write_text(json.dumps(client.get("/__mock__/tenants/source/state").json()), encoding="utf-8")
    return path


def test_tenants_of_a_state_file_start_alike_and_change_apart(client: TestClient, tmp_path: Path) -> None:
    with create_app(Settings(state=state_file(client, tmp_path))).test_client() as served:
        alice, bob = Api(served, "alice"), Api(served, "bob")
        assert alice.data("GET", "/deals/1")["name"] == "From the state"
        alice.data("PUT", "/deals/1", json={"name": "Alice's"})
        assert bob.data("GET", "/deals/1")["name"] == "From the state"
        assert Api(served, "carol").data("GET", "/deals/1")["name"] == "From the state"
        # Same sequences and the state's random state: the next records come out alike in every tenant.
        added = [api.data("POST", "/deals", json={"name": "Next", "person_id": 1})["id"] for api in (alice, bob)]
        assert added[0] == added[1]
        keys = [
            api.data("POST", "/dealFields", json={"name": "F", "field_type": "text"})["key"] for api in (alice, bob)
        ]
        assert keys[0] == keys[1]
        assert served.get("/__mock__/tenants/bob/state").json()["records"]["deals"][0]["name"] == "From the state"
