"""mock_server.http.kept: a read answered from its kept answer is the answer a fresh read would give."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from mock_server.app import create_app
from mock_server.domain import deal_views
from mock_server.domain.deals import Deals
from mock_server.http import kept, validation
from mock_server.settings import Settings
from tests.conftest import Api

Step = tuple[str, str, dict[str, Any]]

READS: list[Step] = [
    ("GET", "/deals", {"params": {"limit": 5}}),
    ("GET", "/deals", {"params": {"sort": "value DESC", "limit": 10}}),
    ("GET", "/deals", {"params": {"filter_id": 1}}),
    ("GET", "/deals", {"params": {"status": "deleted"}}),
    ("GET", "/deals/1", {}),
    ("GET", "/deals/2", {}),
    ("GET", "/deals/3", {}),
    ("GET", "/deals/summary", {}),
    ("GET", "/deals/timeline", {"params": {"start_date": "2026-01-01", "interval": "month", "amount": 12,
                                           "field_key": "add_time"}}),
    ("GET", "/deals/1/activities", {}),
    ("GET", "/deals/1/flow", {}),
    ("GET", "/deals/1/persons", {}),
    ("GET", "/deals/1/products", {}),
    ("GET", "/deals/search", {"params": {"term": "Kept"}}),
    ("GET", "/itemSearch", {"params": {"term": "Oy"}}),
    ("GET", "/itemSearch", {"params": {"term": "Kept", "item_types": "deal,person"}}),
    ("GET", "/activities", {"params": {"limit": 10}}),
    ("GET", "/activities/1", {}),
    ("GET", "/activityTypes", {}),
    ("GET", "/dealFields", {}),
    ("GET", "/filters", {}),
    ("GET", "/filters/1", {}),
    ("GET", "/currencies", {"params": {"term": "eu"}}),
]  # fmt: skip

SMALL_DEALS = {"glue": "and", "conditions": [
    {"glue": "and", "conditions": [{"object": "deal", "field_id": "12453", "operator": "<", "value": 20000,
                                    "extra_value": None}]},
    {"glue": "or", "conditions": []}]}  # fmt: skip

WRITES: list[Step] = [
    ("POST", "/deals", {"json": {"name": "Kept deal", "person_id": 1, "value": 700}}),
    ("PUT", "/deals/1", {"json": {"value": 1234}}),
    ("PUT", "/deals/1", {"json": {"stage_id": 2}}),
    ("PUT", "/deals/2", {"json": {"status": "won"}}),
    ("DELETE", "/deals", {"params": {"ids": "3"}}),
    ("POST", "/activities", {"json": {"subject": "Kept call", "deal_id": 1, "due_date": "2026-12-01"}}),
    ("PUT", "/activities/1", {"json": {"done": 1}}),
    ("DELETE", "/activities", {"params": {"ids": "2"}}),
    ("POST", "/activityTypes", {"json": {"name": "Kept visit", "icon_key": "car"}}),
    ("POST", "/dealFields", {"json": {"name": "Kept field", "field_type": "varchar"}}),
    ("POST", "/deals/1/products", {"json": {"product_id": 4, "item_price": 200, "quantity": 3}}),
    ("PUT", "/filters/1", {"json": {"conditions": SMALL_DEALS}}),
]

CONTROL: list[Step] = [
    ("CLOCK", "1s", {}),
    ("CLOCK", "1d", {}),
    ("CLOCK", "40d", {}),  # past the rotting days of every stage
    ("RESET", "", {}),
]

_tokens = itertools.count(1)


@pytest.fixture(scope="module")
def twins() -> Iterator[tuple[TestClient, TestClient]]:
    """Two mocks: one keeps answers to reads, the other answers every read afresh."""
    with (
        create_app(Settings()).test_client() as keeping,
        create_app(Settings()).test_client(headers={"cache-control": "no-cache"}) as fresh,
    ):
        assert [renders_of_two_reads(keeping), renders_of_two_reads(fresh)] == [1, 2]
        yield keeping, fresh


def renders_of_two_reads(client: TestClient) -> int:
    api, calls = Api(client, f"kept-probe-{next(_tokens)}"), []
    with pytest.MonkeyPatch.context() as patch:
        details = deal_views.deal_details
        patch.setattr("mock_server.handlers.deals.deal_details", lambda *args: calls.append(1) or details(*args))
        client.post("/__mock__/clock", json={"freeze": "2026-11-25 12:00:00"})
        api.get("/deals/1")
        api.get("/deals/1")
    return len(calls)


def run(client: TestClient, token: str, steps: list[Step]) -> list[tuple[int, str]]:
    """Every read, then after each step every read again: each read kept before a step is asked for after it."""
    api = Api(client, token)
    client.post("/__mock__/clock", json={"freeze": "2026-11-25 12:00:00"})
    answers = []
    for method, path, options in [("READS", "", {}), *itertools.chain.from_iterable((step, ("READS", "", {}))
                                                                                    for step in steps)]:  # fmt: skip
        if method == "CLOCK":
            client.post("/__mock__/clock", json={"advance": path})
        elif method == "RESET":
            client.post("/__mock__/reset", json={"token": token})
        else:
            for read_method, read_path, read_options in READS if method == "READS" else [(method, path, options)]:
                response = api.request(read_method, read_path, **read_options)
                answers.append((response.status_code, response.text))
    return answers


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.sampled_from(WRITES + CONTROL), min_size=1, max_size=6))
def test_reads_answer_as_a_fresh_read_does_after_any_writes(twins: tuple[TestClient, TestClient], steps: list[Step]):
    token = f"kept-{next(_tokens)}"
    keeping, fresh = twins

    assert run(keeping, token, steps) == run(fresh, token, steps)


def test_every_write_and_control_step_is_seen_by_the_reads_after_it(twins: tuple[TestClient, TestClient]) -> None:
    keeping, fresh = twins
    for step in WRITES + CONTROL:
        token = f"kept-{next(_tokens)}"
        assert run(keeping, token, [step]) == run(fresh, token, [step]), step


def test_a_repeated_read_is_answered_from_its_kept_answer(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    api.client.post("/__mock__/clock", json={"freeze": "2026-11-25 12:00:00"})
    rendered: list[int] = []
    renderer = Deals.kept_renderer

    def counting(self: Any, related: Any = None) -> Any:
        render = renderer(self, related)
        return lambda deal: rendered.append(deal["id"]) or render(deal)

    monkeypatch.setattr(Deals, "kept_renderer", counting)
    first = api.get("/deals", params={"limit": 3})
    again = api.get("/deals", params={"limit": 3})
    assert again.content == first.content
    assert rendered == [1, 2, 3]  # the second answer rendered nothing

    api.put("/deals/1", json={"value": 4321})  # a write: the next read renders again, and sees it
    after = api.get("/deals", params={"limit": 3})
    assert after.json()["data"][0]["value"] == 4321
    assert rendered[-3:] == [1, 2, 3]

    rendered.clear()
    api.get("/deals", params={"limit": 3}, headers={"cache-control": "no-cache"})
    assert rendered == [1, 2, 3]  # asked not to use a kept answer


def test_the_clock_moving_on_a_second_renders_afresh(api: Api) -> None:
    api.client.post("/__mock__/clock", json={"freeze": "2026-11-25 12:00:00"})
    before = api.data("GET", "/deals/1")["age"]
    api.client.post("/__mock__/clock", json={"advance": "1s"})

    assert api.data("GET", "/deals/1")["age"] != before


def test_tenants_never_see_each_others_kept_answers(client: TestClient) -> None:
    alice, bob = Api(client, f"kept-alice-{next(_tokens)}"), Api(client, f"kept-bob-{next(_tokens)}")
    client.post("/__mock__/clock", json={"freeze": "2026-11-25 12:00:00"})
    # One write each: both accounts have changed exactly as often, to different values.
    alice.put("/deals/1", json={"value": 99})
    bob.put("/deals/1", json={"value": 77})

    assert [alice.data("GET", "/deals/1")["value"], bob.data("GET", "/deals/1")["value"]] == [99, 77]
    assert [bob.data("GET", "/deals/1")["value"], alice.data("GET", "/deals/1")["value"]] == [77, 99]


def test_kept_answers_stay_within_their_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kept, "MAX_ANSWERS", 2)
    answers = kept.KeptAnswers()
    moment = ((1,), None)
    start = {"type": "http.response.start", "status": 200, "headers": []}
    for number in range(4):
        answers.keep(moment, (str(number), b""), start, b"x" * 10)  # type: ignore[arg-type]
    assert sorted(answers.at(moment)) == [("0", b""), ("1", b"")]  # type: ignore[arg-type]

    monkeypatch.setattr(kept, "MAX_BYTES", 15)
    answers = kept.KeptAnswers()
    answers.keep(moment, ("0", b""), start, b"x" * 10)  # type: ignore[arg-type]
    answers.keep(moment, ("1", b""), start, b"x" * 10)  # type: ignore[arg-type]
    assert list(answers.at(moment)) == [("0", b"")]  # type: ignore[arg-type]
    assert answers.at(((2,), None)) == {}  # type: ignore[arg-type]  # another moment drops them all


def test_a_repeat_of_the_same_path_and_query_is_answered_before_it_is_parsed_again(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    api.client.post("/__mock__/clock", json={"freeze": "2026-11-25 12:00:00"})
    validated: list[str] = []
    operation_call = validation.PreparedValidationOperation.__call__

    async def counting(self: Any, scope: Any, receive: Any, send: Any) -> None:
        if scope["method"] == "GET":
            validated.append(scope["query_string"].decode())
        await operation_call(self, scope, receive, send)

    monkeypatch.setattr(validation.PreparedValidationOperation, "__call__", counting)
    first = api.get("/deals", params={"limit": 3, "sort": "value DESC"})
    again = api.get("/deals", params={"limit": 3, "sort": "value DESC"})
    assert again.content == first.content
    assert validated == ["limit=3&sort=value+DESC"]  # the repeat was answered from the kept bytes

    # Another spelling of the same arguments is a request of its own: parsed, validated and worked out.
    reordered = api.get("/deals", params={"sort": "value DESC", "limit": 3})
    assert reordered.content == first.content and len(validated) == 2
    # A query that differs is never answered from another's kept bytes: this one is refused.
    refused = api.get("/deals", params={"limit": 3, "sort": "value DESC", "start": "x"})
    assert refused.status_code == 400 and len(validated) == 3

    api.put("/deals/1", json={"value": 9_999_999})
    after = api.get("/deals", params={"limit": 3, "sort": "value DESC"})
    assert after.json()["data"][0]["id"] == 1 and len(validated) == 4  # a write: parsed and worked out afresh
    api.get("/deals", params={"limit": 3, "sort": "value DESC"}, headers={"cache-control": "no-cache"})
    assert len(validated) == 5  # asked not to use a kept answer
