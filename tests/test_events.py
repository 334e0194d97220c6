"""Which writes send webhook events, worked out from the spec: new resources join through one table line."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from contract_tests.plugin import FinteskMock
from mock_server import SPEC_PATH
from mock_server.control.events import Plan, plans
from mock_server.handlers import snake_case


def _spec(paths: dict[str, dict[str, str]]) -> dict[str, Any]:
    return {
        "paths": {path: {method: {"operationId": op} for method, op in item.items()} for path, item in paths.items()}
    }


def test_plans__map_paths_and_methods_to_objects_and_actions() -> None:
    found = plans(_spec({
        "/persons": {"get": "getPersons", "post": "addPerson", "delete": "deletePersons"},
        "/persons/{id}": {"get": "getPerson", "put": "updatePerson", "delete": "deletePerson"},
        "/persons/{id}/merge": {"put": "mergePersons"},
        "/persons/{id}/followers": {"post": "addPersonFollower"},
        "/notes": {"get": "getNotes", "post": "addNote"},
        "/dealFields": {"post": "addDealField"},
    }), snake_case)  # fmt: skip
    assert found == {
        "addPerson": Plan("person", "added", "get_person", listed=False, by_path=False),
        "deletePersons": Plan("person", "deleted", "get_person", listed=False, by_path=False),
        "updatePerson": Plan("person", "updated", "get_person", listed=False, by_path=True),
        "deletePerson": Plan("person", "deleted", "get_person", listed=False, by_path=True),
        "mergePersons": Plan("person", "merged", "get_person", listed=False, by_path=True),
        "addPersonFollower": Plan("person", "updated", "get_person", listed=False, by_path=True),
        "addNote": Plan("note", "added", "get_notes", listed=True, by_path=False),
    }


def test_plans__an_object_without_a_read_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="/stages"):
        plans(_spec({"/stages": {"post": "addStage"}}), snake_case)


def test_plans__of_the_served_spec_cover_every_write_of_an_event_object() -> None:
    spec = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    found = plans(spec, snake_case)
    assert found["updateDeal"] == Plan("deal", "updated", "get_deal", listed=False, by_path=True)
    assert found["addDealProduct"].object == "deal" and found["addDealProduct"].action == "updated"
    assert found["deleteActivityTypes"] == Plan("activityType", "deleted", "get_activity_types", True, False)
    assert not {"addDealField", "addFilter", "addWebhook"} & set(found)


def test_merge__is_merged_for_the_kept_record_and_deleted_for_the_other(fintesk_mock: FinteskMock) -> None:
    fintesk_mock.subscribe("*", "person", version="1.0")
    with fintesk_mock.client(timeout=60) as api:
        gone_before, kept_before = (api.get(f"/persons/{person_id}").json()["data"] for person_id in (1, 2))
        assert api.put("/persons/1/merge", json={"merge_with_id": 2}).status_code == 200
        kept_after = api.get("/persons/2").json()["data"]
    merged, deleted = (received.json for received in fintesk_mock.receiver.wait(2))
    assert (merged["event"], merged["meta"]["id"]) == ("merged.person", 2)
    assert merged["previous"] == kept_before and merged["current"] == kept_after
    assert (deleted["event"], deleted["meta"]["id"]) == ("deleted.person", 1)
    assert deleted["previous"] == gone_before and deleted["current"] is None
