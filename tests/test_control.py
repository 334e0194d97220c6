"""The control plane under /__mock__, through HTTP: state, clock, seed, faults, rate limits, journal, scenarios."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
from starlette.testclient import TestClient

from mock_server.app import create_app
from mock_server.settings import Settings
from tests.conftest import Api, admin, assert_error
from tests.server import running_server


def test_reset_one_tenant_returns_it_to_the_fixtures(mock: TestClient) -> None:
    alice, bob = Api(mock, "alice"), Api(mock, "bob")
    alice.data("PUT", "/deals/1", json={"name": "Changed"})
    bob.data("PUT", "/deals/1", json={"name": "Changed too"})
    admin(mock, "POST", "/reset", json={"token": "alice"})
    assert alice.data("GET", "/deals/1")["name"] != "Changed"
    assert bob.data("GET", "/deals/1")["name"] == "Changed too"


def test_reset_all_returns_every_tenant_to_the_fixtures(mock: TestClient) -> None:
    alice = Api(mock, "alice")
    alice.data("PUT", "/deals/1", json={"name": "Changed"})
    admin(mock, "POST", "/reset", json={})
    assert alice.data("GET", "/deals/1")["name"] != "Changed"


def test_export_import_round_trip_keeps_every_change(mock: TestClient) -> None:
    alice = Api(mock, "alice")
    deal = alice.data("POST", "/deals", json={"name": "Exported deal", "person_id": 1})
    state = admin(mock, "GET", "/tenants/alice/state")
    admin(mock, "PUT", "/tenants/carol/state", json=state)
    carol = Api(mock, "carol")
    assert carol.data("GET", f"/deals/{deal['id']}")["name"] == "Exported deal"
    assert admin(mock, "GET", "/tenants/carol/state") == state


def test_import_of_a_bad_state_is_400(mock: TestClient) -> None:
    response = mock.put("/__mock__/tenants/carol/state", json={"version": 1, "deals": "nope"})
    assert response.status_code == 400
    assert response.json()["success"] is False


def test_load_fixtures_into_one_tenant(mock: TestClient) -> None:
    alice = Api(mock, "alice")
    alice.data("DELETE", "/deals", params={"ids": "1"})
    admin(mock, "POST", "/tenants/alice/load", json={"fixtures": "default"})
    assert alice.data("GET", "/deals/1")["id"] == 1


def test_frozen_clock_stamps_writes(mock: TestClient) -> None:
    assert admin(mock, "POST", "/clock", json={"freeze": "2024-01-01 09:00:00"})["frozen"] is True
    deal = Api(mock, "alice").data("POST", "/deals", json={"person_id": 1})
    assert deal["add_time"] == "2024-01-01 09:00:00"


def test_advancing_a_frozen_clock_moves_it_exactly(mock: TestClient) -> None:
    admin(mock, "POST", "/clock", json={"freeze": "2024-01-01 09:00:00"})
    assert admin(mock, "POST", "/clock", json={"advance": "1d2h30m"})["now"] == "2024-01-02 11:30:00"


def test_resume_returns_to_real_time(mock: TestClient) -> None:
    admin(mock, "POST", "/clock", json={"freeze": "2024-01-01 09:00:00"})
    clock = admin(mock, "POST", "/clock", json={"resume": True})
    assert clock["frozen"] is False
    assert clock["now"] > "2025-01-01 00:00:00"


def test_impossible_freeze_time_is_400(mock: TestClient) -> None:
    assert mock.post("/__mock__/clock", json={"freeze": "2024-02-30 10:00:00"}).status_code == 400


def scripted_run(seed: int) -> list[bytes]:
    """The same requests against a fresh app with a seed and a frozen clock; the raw bytes of every answer."""
    with create_app(Settings(seed=seed)).test_client() as client:
        admin(client, "POST", "/clock", json={"freeze": "2024-05-01 12:00:00"})
        headers = {"x-api-token": "replay"}
        bodies = [
            client.post("/v1/dealFields", json={"name": "Region", "field_type": "varchar"}, headers=headers),
            client.post("/v1/deals", json={"name": "Replayed", "org_id": 3, "value": 990}, headers=headers),
            client.put("/v1/deals/1", json={"status": "won"}, headers=headers),
            client.get("/v1/deals", params={"limit": 5}, headers=headers),
            client.get("/v1/deals/1/flow", headers=headers),
        ]
        return [response.content for response in bodies]


def test_same_seed_and_clock_give_byte_identical_responses() -> None:
    assert scripted_run(seed=42) == scripted_run(seed=42)


def test_another_seed_gives_other_custom_field_keys() -> None:
    assert scripted_run(seed=1)[0] != scripted_run(seed=2)[0]


def test_fault_answers_the_next_request_with_an_error_envelope(mock: TestClient) -> None:
    admin(mock, "POST", "/faults", json={"kind": "status", "method": "POST", "path": "/v1/deals", "status": 503,
                                         "times": 1})  # fmt: skip
    api = Api(mock, "alice")
    assert_error(api.post("/deals", json={"person_id": 1}), 503)
    assert api.post("/deals", json={"person_id": 1}).status_code == 201
    assert admin(mock, "GET", "/faults") == []


def test_fault_with_code_reproduces_a_feature_cap(mock: TestClient) -> None:
    admin(mock, "POST", "/faults", json={"kind": "status", "path": "/v1/deals", "status": 403,
                                         "code": "feature_capping_deals_limit"})  # fmt: skip
    body = assert_error(Api(mock, "alice").post("/deals", json={"person_id": 1}), 403)
    assert body["code"] == "feature_capping_deals_limit"


def test_fault_for_one_tenant_spares_the_others(mock: TestClient) -> None:
    admin(mock, "POST", "/faults", json={"kind": "status", "status": 500, "tenant": "alice"})
    assert Api(mock, "alice").get("/deals").status_code == 500
    assert Api(mock, "bob").get("/deals").status_code == 200


def test_delay_fault_slows_matching_requests(mock: TestClient) -> None:
    admin(mock, "POST", "/faults", json={"kind": "delay", "method": "GET", "path": "/v1/deals/*", "delay_ms": 300})
    started = time.monotonic()
    assert Api(mock, "alice").get("/deals/1").status_code == 200
    assert time.monotonic() - started >= 0.28


def test_faults_can_be_listed_removed_and_cleared(mock: TestClient) -> None:
    first = admin(mock, "POST", "/faults", json={"kind": "status", "status": 500, "path": "/v1/deals"})
    admin(mock, "POST", "/faults", json={"kind": "status", "status": 502, "path": "/v1/activities"})
    admin(mock, "DELETE", f"/faults/{first['id']}")
    assert [fault["status"] for fault in admin(mock, "GET", "/faults")] == [502]
    admin(mock, "DELETE", "/faults")
    assert admin(mock, "GET", "/faults") == []


def test_bad_fault_is_400(mock: TestClient) -> None:
    response = mock.post("/__mock__/faults", json={"kind": "status", "times": 2, "probability": 0.5})
    assert response.status_code == 400


def test_rate_limit_set_through_the_control_plane_answers_429(mock: TestClient) -> None:
    admin(mock, "PUT", "/rate-limit", json={"limit": 3, "token": "alice"})
    api = Api(mock, "alice")
    statuses = [api.get("/currencies").status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    assert Api(mock, "bob").get("/currencies").status_code == 200


def test_journal_lists_what_a_tenant_sent_without_its_token(mock: TestClient) -> None:
    api = Api(mock, "alice")
    api.post("/deals", json={"name": "Journaled", "person_id": 1})
    api.get("/activities")
    entries = admin(mock, "GET", "/requests", params={"token": "alice", "path": "/v1/deals*"})
    assert [(entry["method"], entry["path"], entry["status"]) for entry in entries] == [("POST", "/v1/deals", 201)]
    assert entries[0]["body"] == {"name": "Journaled", "person_id": 1}
    assert "alice" not in json.dumps(entries[0]["headers"])
    admin(mock, "DELETE", "/requests", params={"token": "alice"})
    assert admin(mock, "GET", "/requests", params={"token": "alice"}) == []


def test_scenarios_are_listed_with_descriptions(mock: TestClient) -> None:
    names = {scenario["name"]: scenario["description"] for scenario in admin(mock, "GET", "/scenarios")}
    assert {"rate-limited", "flaky-server", "slow-network", "deleted-and-lost-deals", "unicode-and-long-names",
            "big-account", "deal-with-many-products"} <= set(names)  # fmt: skip
    assert all(names.values())


def test_applying_a_scenario_to_one_tenant_changes_only_its_data(mock: TestClient) -> None:
    admin(mock, "POST", "/scenarios/deal-with-many-products", json={"token": "alice"})
    alice_lines = Api(mock, "alice").data("GET", "/deals", params={"limit": 500})
    bob_lines = Api(mock, "bob").data("GET", "/deals", params={"limit": 500})
    assert max(deal["products_count"] for deal in alice_lines) >= 200
    assert max(deal["products_count"] for deal in bob_lines) < 200


def test_applying_the_rate_limited_scenario_limits_requests(mock: TestClient) -> None:
    admin(mock, "POST", "/scenarios/rate-limited", json={})
    api = Api(mock, "alice")
    statuses = [api.get("/currencies").status_code for _ in range(30)]
    assert 429 in statuses
    assert "x-ratelimit-limit" in api.get("/currencies").headers


def test_unknown_scenario_is_404(mock: TestClient) -> None:
    assert mock.post("/__mock__/scenarios/no-such-scenario", json={}).status_code == 404


def test_serve_starts_from_an_exported_state(tmp_path: Path, mock: TestClient) -> None:
    Api(mock, "alice").data("POST", "/deals", json={"name": "From the state file", "person_id": 1})
    state_file = tmp_path / "state.json"
    state_file.write_text(json.dumps(admin(mock, "GET", "/tenants/alice/state")))
    with running_server("--state", str(state_file)) as base_url:
        deals = httpx.get(f"{base_url}/v1/deals", params={"limit": 500}, headers={"x-api-token": "new"}).json()
    assert "From the state file" in [deal["name"] for deal in deals["data"]]


def test_serve_with_a_scenario_and_a_rate_limit(tmp_path: Path) -> None:
    with running_server("--scenario", "unicode-and-long-names", "--rate-limit", "50") as base_url:
        response = httpx.get(f"{base_url}/v1/deals", params={"limit": 500}, headers={"x-api-token": "u"})
    assert response.headers["x-ratelimit-limit"] == "50"
    assert max(len(deal["name"]) for deal in response.json()["data"]) > 255


def test_scenarios_command_lists_every_scenario_with_its_description() -> None:
    from click.testing import CliRunner

    from mock_server.cli import main
    from mock_server.control.scenarios import scenario_names

    output = CliRunner().invoke(main, ["scenarios"]).output
    for name, description in scenario_names():
        assert f"{name}" in output and description in output


def test_the_docs_document_every_scenario_in_one_line() -> None:
    from mock_server.control.scenarios import scenario_names

    page = (Path(__file__).resolve().parent.parent / "docs" / "edge-cases.md").read_text(encoding="utf-8")
    for name, _ in scenario_names():
        assert f"| `{name}` |" in page, name


def listed_deal(api: Api, deal_id: int) -> dict[str, Any]:
    return next(deal for deal in api.data("GET", "/deals", params={"limit": 500}) if deal["id"] == deal_id)


def test_a_deal_turns_rotten_when_the_clock_passes_its_stage_rotten_days(mock: TestClient) -> None:
    """Deal 1 entered stage 4 (rotten after 30 days) at 2026-11-13 09:48:57; no write happens in between."""
    api = Api(mock, "rotting")
    admin(mock, "POST", "/clock", json={"freeze": "2026-12-13 09:48:56"})
    assert listed_deal(api, 1)["rotten_time"] is None
    assert api.data("GET", "/deals/1")["rotten_time"] is None
    admin(mock, "POST", "/clock", json={"advance": "1s"})
    assert listed_deal(api, 1)["rotten_time"] == "2026-12-13 09:48:57"
    assert api.data("GET", "/deals/1")["rotten_time"] == "2026-12-13 09:48:57"


def test_a_listed_deal_shows_writes_to_its_activities_and_products_at_once(mock: TestClient) -> None:
    api = Api(mock, "derived")
    admin(mock, "POST", "/clock", json={"freeze": "2026-11-25 12:00:00"})
    before = listed_deal(api, 1)
    activity = api.data("POST", "/activities", json={"subject": "Call first", "deal_id": 1, "due_date": "2026-11-26"})
    assert listed_deal(api, 1)["next_activity_id"] == activity["id"]
    assert listed_deal(api, 1)["next_activity_subject"] == "Call first"
    api.data("POST", "/deals/1/products", json={"product_id": 4, "item_price": 200, "quantity": 3})
    after = listed_deal(api, 1)
    assert after["products_count"] == before["products_count"] + 1
    assert after["value"] != before["value"]
