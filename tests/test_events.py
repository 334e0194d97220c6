"""Which writes send webhook events, worked out from the spec: new resources join through one table line."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

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


def test_merge__is_merged_for_the_kept_record_and_deleted_for_the_other() -> None:
    import asyncio
    import types
    from datetime import datetime

    from connexion.context import _scope
    from starlette.responses import JSONResponse

    from mock_server.control.events import Events
    from mock_server.domain.clock import Clock
    from mock_server.http.tenant import _current

    people = {1: {"id": 1, "name": "Ann"}, 2: {"id": 2, "name": "Ann B."}}

    async def get_person(id: int) -> JSONResponse:
        return JSONResponse({"success": True, "data": people.get(id)})

    async def merge_persons(id: int, body: dict[str, Any]) -> JSONResponse:
        kept = people[body["merge_with_id"]]
        kept["name"] = "Ann Both"
        del people[id]
        return JSONResponse({"success": True, "data": kept})

    clock = Clock()
    clock.freeze(datetime(2030, 1, 1))
    account = types.SimpleNamespace(user_id=1, company={"id": 7}, clock=clock)
    sent: list[Any] = []
    paths = {"/persons/{id}": {"get": "getPerson"}, "/persons/{id}/merge": {"put": "mergePersons"}}
    events = Events(plans(_spec(paths), snake_case),
                    {"get_person": get_person}, lambda _token, _account, changes: sent.extend(changes),
                    lambda *_: True)  # fmt: skip
    merge = events.wrap("mergePersons", merge_persons)
    scoped, bound = _scope.set({"state": {"fintesk_token": "t"}}), _current.set(account)  # type: ignore[arg-type]
    try:
        asyncio.run(merge(id=1, body={"merge_with_id": 2}))
    finally:
        _scope.reset(scoped)
        _current.reset(bound)
    assert [(change.action, change.record_id) for change in sent] == [("merged", 2), ("deleted", 1)]
    merged, deleted = sent
    assert merged.previous == {"id": 2, "name": "Ann B."} and merged.current == {"id": 2, "name": "Ann Both"}
    assert deleted.previous == {"id": 1, "name": "Ann"} and deleted.current is None
