"""Webhooks over real HTTP: the mock served by uvicorn, a real receiver on 127.0.0.1, no mocked transport."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from contract_tests.plugin import FinteskMock, MockServer
from contract_tests.receiver import Receiver
from tests.planted import serving

CUSTOM_DATE = "fa42c5a420a415115676c90ae5dfd3b6100f104d"
FROZEN = "2030-01-02 03:04:05"


@pytest.fixture
def api(fintesk_mock: FinteskMock) -> Iterator[httpx.Client]:
    with fintesk_mock.client(timeout=60) as client:
        yield client


def _data(answer: httpx.Response) -> Any:
    assert answer.status_code < 300, answer.text
    return answer.json()["data"]


# --- subscriptions ------------------------------------------------------------------------------------------------


def test_add_webhook__answers_the_subscription_and_lists_it(fintesk_mock: FinteskMock, api: httpx.Client) -> None:
    webhook = fintesk_mock.subscribe("updated", "deal", http_auth_user="u", http_auth_password="p")
    assert webhook["version"] == "2.0" and webhook["event_action"] == "updated" and webhook["user_id"] == 1
    assert [hook["id"] for hook in _data(api.get("/webhooks"))] == [webhook["id"]]
    deleted = api.delete(f"/webhooks/{webhook['id']}").json()
    assert deleted == {"status": "ok", "success": True, "data": {"id": webhook["id"]}}
    assert _data(api.get("/webhooks")) == []


@pytest.mark.parametrize("url", ["ftp://example.test/x", "http://", "example.test/hooks", "https://:80/x",
                                 "http://h\u00e9.test/", "http://127.0.0.1/a b"])  # fmt: skip
def test_add_webhook__url_without_http_scheme_and_host_is_400_in_words(api: httpx.Client, url: str) -> None:
    answer = api.post("/webhooks", json={"subscription_url": url, "event_action": "*", "event_object": "*"})
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert answer.json()["success"] is False and "subscription_url" in error
    assert "an http or https URL with a host" in error and "^" not in error  # words, not the spec's pattern


def test_add_webhook__url_with_a_port_past_65535_is_400(api: httpx.Client) -> None:
    answer = api.post("/webhooks", json={"subscription_url": "http://127.0.0.1:99999/x", "event_action": "*",
                                         "event_object": "*"})  # fmt: skip
    assert answer.status_code == 400 and "subscription_url" in answer.json()["error"]
    assert "port" in answer.json()["error"]


def test_add_webhook__41st_of_a_user_is_403(api: httpx.Client) -> None:
    body = {"subscription_url": "http://127.0.0.1:9/hooks", "event_action": "*", "event_object": "*"}
    for _ in range(40):
        _data(api.post("/webhooks", json=body))
    answer = api.post("/webhooks", json=body)
    assert answer.status_code == 403 and "user_id" in answer.json()["error"] and "40" in answer.json()["error"]
    other_user = api.post("/webhooks", json={**body, "user_id": 2})
    assert other_user.status_code == 201


def test_delete_webhook__unknown_is_404(api: httpx.Client) -> None:
    answer = api.delete("/webhooks/999")
    assert answer.status_code == 404 and answer.json()["success"] is False


def test_webhooks__survive_state_export_and_import(fintesk_mock: FinteskMock) -> None:
    webhook = fintesk_mock.subscribe("*", "deal", version="1.0")
    state = fintesk_mock.control.export_state(fintesk_mock.token)
    assert state["webhooks"]["subscriptions"][0]["subscription_url"] == fintesk_mock.receiver.url
    other = f"{fintesk_mock.token}-copy"
    try:
        fintesk_mock.control.import_state(other, state)
        with httpx.Client(base_url=fintesk_mock.base_url, headers={"x-api-token": other}) as client:
            assert _data(client.get("/webhooks")) == [webhook]
            added = _data(client.post("/webhooks", json={"subscription_url": "http://127.0.0.1:9/x",
                                                         "event_action": "*", "event_object": "*"}))  # fmt: skip
        assert added["id"] == webhook["id"] + 1  # ids go on after the imported ones
    finally:
        fintesk_mock.control.reset(other)


def test_webhooks__bad_subscription_in_a_state_is_refused(fintesk_mock: FinteskMock) -> None:
    state = fintesk_mock.control.export_state(fintesk_mock.token)
    state["webhooks"] = {"last_id": 1, "subscriptions": [{"id": 1, "subscription_url": "gopher://x",
                         "event_action": "*", "event_object": "*", "version": "1.0", "user_id": 1}]}  # fmt: skip
    with pytest.raises(RuntimeError, match="subscription_url"):
        fintesk_mock.control.import_state(fintesk_mock.token, state)


# --- events -------------------------------------------------------------------------------------------------------


def test_deal_life__version_1_payloads_are_what_reads_answered(fintesk_mock: FinteskMock, api: httpx.Client) -> None:
    fintesk_mock.freeze(FROZEN)
    fintesk_mock.subscribe("*", "deal", version="1.0")
    receiver = fintesk_mock.receiver
    deal = _data(api.post("/deals", json={"name": "Hooked", "person_id": 37}))
    read_after_add = _data(api.get(f"/deals/{deal['id']}"))
    _data(api.put(f"/deals/{deal['id']}", json={"name": "Hooked again", "value": 10}))
    read_after_update = _data(api.get(f"/deals/{deal['id']}"))
    _data(api.delete("/deals", params={"ids": str(deal["id"])}))
    added, updated, deleted = (received.json for received in receiver.wait(3))

    assert [added["event"], updated["event"], deleted["event"]] == ["added.deal", "updated.deal", "deleted.deal"]
    assert added["current"] == read_after_add and added["previous"] is None
    assert updated["previous"] == read_after_add and updated["current"] == read_after_update
    assert deleted["previous"] == read_after_update and deleted["current"] is None
    meta = updated["meta"]
    assert (meta["action"], meta["object"], meta["id"], meta["v"]) == ("updated", "deal", deal["id"], 1)
    assert meta["timestamp"] == int(datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC).timestamp())
    assert updated["retry"] == 0 and updated["v"] == 1 and "matches_filters" in updated


def test_deal_life__version_2_payloads_hold_changes_and_custom_fields(
    fintesk_mock: FinteskMock, api: httpx.Client
) -> None:
    fintesk_mock.freeze(FROZEN)
    webhook = fintesk_mock.subscribe("*", "deal")
    before = _data(api.get("/deals/1"))
    _data(api.put("/deals/1", json={"name": "Renamed", CUSTOM_DATE: "2031-05-06"}))
    after = _data(api.get("/deals/1"))
    _data(api.delete("/deals", params={"ids": "1"}))
    change, delete = (received.json for received in fintesk_mock.receiver.wait(2))

    meta = change["meta"]
    assert (meta["action"], meta["entity"], meta["entity_id"], meta["attempt"]) == ("change", "deal", "1", 1)
    assert meta["webhook_id"] == str(webhook["id"]) and meta["version"] == "2.0"
    assert meta["timestamp"] == "2030-01-02T03:04:05.000Z"
    assert change["data"]["custom_fields"][CUSTOM_DATE] == "2031-05-06" and CUSTOM_DATE not in change["data"]
    assert change["data"]["name"] == after["name"] == "Renamed"
    assert change["previous"]["name"] == before["name"]
    assert change["previous"]["custom_fields"] == {CUSTOM_DATE: before[CUSTOM_DATE]}
    assert set(change["previous"]) <= {key for key in before if before[key] != after.get(key)} | {"custom_fields"}
    assert delete["meta"]["action"] == "delete" and delete["data"] is None
    assert delete["previous"]["name"] == "Renamed" and delete["meta"]["id"] != meta["id"]


@pytest.mark.parametrize(("version", "events"), [
    ("1.0", ["added.activity", "updated.activity", "deleted.activity"]),
    ("2.0", ["create.activity", "change.activity", "delete.activity"]),
])  # fmt: skip
def test_activity_life__in_both_versions(
    fintesk_mock: FinteskMock, api: httpx.Client, version: str, events: list[str]
) -> None:
    fintesk_mock.subscribe("*", "activity", version=version)
    activity = _data(api.post("/activities", json={"subject": "Call back", "type": "call", "deal_id": 1}))
    _data(api.put(f"/activities/{activity['id']}", json={"done": 1}))
    read = _data(api.get(f"/activities/{activity['id']}"))
    _data(api.delete("/activities", params={"ids": str(activity["id"])}))
    received = fintesk_mock.receiver.wait(3)
    assert [delivery.event for delivery in received] == events
    current = received[1].json["current" if version == "1.0" else "data"]
    assert current["done"] == read["done"] and current["id"] == activity["id"]


def test_subscription__gets_only_the_actions_and_objects_it_names(fintesk_mock: FinteskMock, api: httpx.Client) -> None:
    fintesk_mock.subscribe("updated", "deal", version="1.0")
    _data(api.post("/activities", json={"subject": "Not for the hook", "type": "call"}))
    _data(api.post("/deals", json={"name": "Not for the hook either", "person_id": 37}))
    _data(api.put("/deals/2", json={"name": "For the hook"}))
    (received,) = fintesk_mock.receiver.wait(1)
    assert received.event == "updated.deal" and received.json["current"]["name"] == "For the hook"
    assert [entry["event"] for entry in fintesk_mock.deliveries()] == ["updated.deal"]


def test_deal_product__is_an_update_of_the_deal(fintesk_mock: FinteskMock, api: httpx.Client) -> None:
    fintesk_mock.subscribe("*", "*", version="1.0")
    _data(api.post("/deals/3/products", json={"product_id": 1, "item_price": 10, "quantity": 2}))
    (received,) = fintesk_mock.receiver.wait(1)
    assert received.event == "updated.deal" and received.json["meta"]["id"] == 3
    assert received.json["current"] == _data(api.get("/deals/3"))


def test_activity_type__changes_send_events(fintesk_mock: FinteskMock, api: httpx.Client) -> None:
    fintesk_mock.subscribe("*", "activityType", version="1.0")
    added = _data(api.post("/activityTypes", json={"name": "Site visit", "icon_key": "truck"}))
    _data(api.put(f"/activityTypes/{added['id']}", json={"name": "Site tour"}))
    first, second = fintesk_mock.receiver.wait(2)
    assert [first.event, second.event] == ["added.activityType", "updated.activityType"]
    assert second.json["previous"]["name"] == "Site visit" and second.json["current"]["name"] == "Site tour"


def test_basic_auth__is_sent_when_set(fintesk_mock: FinteskMock, api: httpx.Client) -> None:
    fintesk_mock.subscribe("*", "deal", http_auth_user="hook", http_auth_password="s3cret:x")
    _data(api.put("/deals/1", json={"name": "Authenticated"}))
    (received,) = fintesk_mock.receiver.wait(1)
    assert received.headers["authorization"] == "Basic " + base64.b64encode(b"hook:s3cret:x").decode()
    assert received.headers["content-type"] == "application/json"


# --- delivery rules -----------------------------------------------------------------------------------------------


def _logged(fintesk_mock: FinteskMock, count: int) -> list[dict[str, Any]]:
    entries = fintesk_mock.deliveries(wait_for=count)
    assert len(entries) >= count, entries
    return entries


def test_failing_receiver__is_retried_after_3_30_and_150_seconds(fintesk_mock: FinteskMock, api: httpx.Client) -> None:
    fintesk_mock.freeze(FROZEN)
    fintesk_mock.subscribe("*", "deal", version="1.0")
    receiver = fintesk_mock.receiver
    receiver.answer(500, times=4)
    _data(api.put("/deals/1", json={"name": "Retried"}))
    assert receiver.wait(1)[0].json["retry"] == 0
    _logged(fintesk_mock, 1)  # the failure is counted: its retry is due 3 s later
    fintesk_mock.advance("2s")
    fintesk_mock.advance("1s")
    assert receiver.wait(1)[0].json["retry"] == 1
    _logged(fintesk_mock, 2)
    fintesk_mock.advance("30s")
    assert receiver.wait(1)[0].json["retry"] == 2
    _logged(fintesk_mock, 3)
    fintesk_mock.advance("150s")
    assert receiver.wait(1)[0].json["retry"] == 3
    entries = _logged(fintesk_mock, 4)
    assert [(entry["attempt"], entry["status"], entry["outcome"]) for entry in entries] == [
        (attempt, 500, "failed") for attempt in (1, 2, 3, 4)
    ]
    assert [entry["time"] for entry in entries] == [FROZEN, "2030-01-02 03:04:08", "2030-01-02 03:04:38",
                                                    "2030-01-02 03:07:08"]  # fmt: skip
    assert entries[0]["reason"] == "answered 500"


def test_ten_failed_first_attempts__ban_the_webhook_for_30_minutes(
    fintesk_mock: FinteskMock, api: httpx.Client
) -> None:
    fintesk_mock.freeze(FROZEN)
    fintesk_mock.subscribe("*", "deal", version="2.0")
    fintesk_mock.receiver.answer(503, times=10)
    for number in range(10):
        _data(api.put("/deals/1", json={"name": f"Failing {number}"}))
    fintesk_mock.receiver.wait(10)
    _logged(fintesk_mock, 10)
    _data(api.put("/deals/1", json={"name": "Lost while banned"}))
    lost = _logged(fintesk_mock, 11)[-1]
    assert lost["outcome"] == "lost" and "banned until 2030-01-02 03:34:05" in lost["reason"]
    fintesk_mock.advance("30m")
    _data(api.put("/deals/1", json={"name": "Delivered again"}))
    (received,) = fintesk_mock.receiver.wait(1)
    assert received.json["data"]["name"] == "Delivered again"


def test_duplicate_fault__sends_the_same_event_twice(fintesk_mock: FinteskMock, api: httpx.Client) -> None:
    fintesk_mock.subscribe("updated", "deal", version="2.0")
    fintesk_mock.delivery_fault("duplicate")
    _data(api.put("/deals/1", json={"name": "Twice"}))
    first, second = fintesk_mock.receiver.wait(2)
    assert first.event == second.event == "change.deal"
    assert first.body == second.body  # the same event id: a consumer must deduplicate
    assert [entry["duplicate"] for entry in _logged(fintesk_mock, 2)] == [False, True]


def test_swap_fault__sends_the_next_two_in_reverse_order(fintesk_mock: FinteskMock, api: httpx.Client) -> None:
    fintesk_mock.subscribe("updated", "deal", version="1.0")
    fintesk_mock.delivery_fault("swap")
    _data(api.put("/deals/1", json={"name": "First"}))
    _data(api.put("/deals/1", json={"name": "Second"}))
    _data(api.put("/deals/1", json={"name": "Third"}))
    names = [received.json["current"]["name"] for received in fintesk_mock.receiver.wait(3)]
    assert names == ["Second", "First", "Third"]


def test_drop_and_fail_faults__lose_or_fail_the_next_deliveries(fintesk_mock: FinteskMock, api: httpx.Client) -> None:
    fintesk_mock.freeze(FROZEN)
    fintesk_mock.subscribe("updated", "deal", version="1.0")
    fintesk_mock.delivery_fault("drop")
    fintesk_mock.delivery_fault("fail")
    _data(api.put("/deals/1", json={"name": "Dropped"}))
    _data(api.put("/deals/1", json={"name": "Failed"}))
    _data(api.put("/deals/1", json={"name": "Sent"}))
    (received,) = fintesk_mock.receiver.wait(1)
    assert received.json["current"]["name"] == "Sent"
    outcomes = [(entry["outcome"], entry["reason"]) for entry in _logged(fintesk_mock, 3)]
    assert outcomes == [("dropped", "fault: drop"), ("failed", "fault: fail"), ("delivered", "")]
    fintesk_mock.advance("3s")  # the failed one is retried as any failure is
    (retried,) = fintesk_mock.receiver.wait(1)
    assert retried.json["current"]["name"] == "Failed" and retried.json["retry"] == 1


def test_delay_fault__holds_a_delivery_without_reordering(fintesk_mock: FinteskMock, api: httpx.Client) -> None:
    fintesk_mock.subscribe("updated", "deal", version="1.0")
    fault = fintesk_mock.delivery_fault("delay", delay_ms=300)
    assert fault["kind"] == "delay" and fault["delay_ms"] == 300
    _data(api.put("/deals/1", json={"name": "Delayed"}))
    _data(api.put("/deals/1", json={"name": "Behind it"}))
    names = [received.json["current"]["name"] for received in fintesk_mock.receiver.wait(2)]
    assert names == ["Delayed", "Behind it"]


def test_delivery_fault__unknown_kind_is_400(fintesk_mock: FinteskMock) -> None:
    with pytest.raises(RuntimeError, match="400"):
        fintesk_mock.delivery_fault("explode")


def test_resend__sends_a_logged_delivery_again(fintesk_mock: FinteskMock, api: httpx.Client) -> None:
    fintesk_mock.subscribe("*", "deal")
    _data(api.put("/deals/1", json={"name": "Once more"}))
    (first,) = fintesk_mock.receiver.wait(1)
    entry = _logged(fintesk_mock, 1)[0]
    fintesk_mock.control.resend_delivery(fintesk_mock.token, entry["id"])
    (again,) = fintesk_mock.receiver.wait(1)
    assert again.body == first.body
    assert _logged(fintesk_mock, 2)[-1]["resent"] is True


def test_burst_of_1000_changes__arrives_in_order_and_whole(fintesk_mock: FinteskMock, api: httpx.Client) -> None:
    fintesk_mock.subscribe("updated", "deal", version="1.0")
    for number in range(1000):
        assert api.put("/deals/1", json={"name": f"Burst {number}"}).status_code == 200
    received = fintesk_mock.receiver.wait(1000, timeout=300)
    assert [delivery.json["current"]["name"] for delivery in received] == [f"Burst {n}" for n in range(1000)]


def test_reset__drops_pending_retries(fintesk_mock: FinteskMock, api: httpx.Client) -> None:
    fintesk_mock.freeze(FROZEN)
    fintesk_mock.subscribe("*", "deal", version="1.0")
    fintesk_mock.receiver.answer(500)
    _data(api.put("/deals/1", json={"name": "Never retried"}))
    fintesk_mock.receiver.wait(1)
    _logged(fintesk_mock, 1)
    fintesk_mock.reset()
    assert fintesk_mock.deliveries() == []
    fintesk_mock.freeze(FROZEN)
    fintesk_mock.advance("10m")  # the retry would be long due now
    fintesk_mock.subscribe("*", "deal", version="1.0")
    _data(api.put("/deals/1", json={"name": "After the reset"}))
    (received,) = fintesk_mock.receiver.wait(1)
    assert received.json["current"]["name"] == "After the reset"
    assert len(fintesk_mock.receiver.received) == 2


# --- receivers that misbehave cost only their own delivery --------------------------------------------------------


@pytest.fixture
def short_timeout(fintesk_mock_server: MockServer | None) -> Iterator[None]:
    if fintesk_mock_server is None:
        pytest.skip("needs the plugin's own server (FINTESK_MOCK_URL is set)")
    deliveries = fintesk_mock_server.app.state["control"].deliveries
    deliveries.sender.timeout_s = 1.0
    try:
        yield
    finally:
        deliveries.sender.timeout_s = 10.0


@pytest.mark.parametrize(("behaviour", "reason"), [
    ("hang", "timeout: no answer within 1 s"),
    ("reset", "Error"),
    ("redirect", "answered 302 (redirects are not followed)"),
])  # fmt: skip
@pytest.mark.usefixtures("short_timeout")
def test_misbehaving_receiver__fails_only_its_own_delivery(
    fintesk_mock: FinteskMock, api: httpx.Client, behaviour: str, reason: str
) -> None:
    bad = Receiver()
    try:
        bad.answer(behaviour=behaviour)
        _data(api.post("/webhooks", json={"subscription_url": bad.url, "event_action": "*", "event_object": "deal"}))
        fintesk_mock.subscribe("*", "deal")
        _data(api.put("/deals/1", json={"name": "Both"}))
        (good,) = fintesk_mock.receiver.wait(1)
        assert good.json["data"]["name"] == "Both"
        assert len(bad.wait(1)) == 1  # the redirect's target is never asked
        failed = [entry for entry in _logged(fintesk_mock, 2) if entry["url"] == bad.url]
        assert failed[0]["outcome"] == "failed" and reason in failed[0]["reason"]
    finally:
        bad.close()
    assert len(bad.received) == 1


def test_huge_answer__is_read_only_in_part(fintesk_mock: FinteskMock, api: httpx.Client) -> None:
    fintesk_mock.subscribe("*", "deal")
    fintesk_mock.receiver.answer(200, body=b"x" * (10 * 1024 * 1024))
    _data(api.put("/deals/1", json={"name": "Big answer"}))
    fintesk_mock.receiver.wait(1)
    (entry,) = _logged(fintesk_mock, 1)
    assert entry["outcome"] == "delivered" and 0 < len(entry["answer"]) <= 512


def test_delivery__never_reaches_the_mock_itself(fintesk_mock: FinteskMock, api: httpx.Client) -> None:
    own = fintesk_mock.base_url.removesuffix("/v1") + "/__mock__/reset"
    _data(api.post("/webhooks", json={"subscription_url": own, "event_action": "*", "event_object": "deal"}))
    _data(api.put("/deals/1", json={"name": "Kept"}))
    (entry,) = _logged(fintesk_mock, 1)
    assert entry["outcome"] == "failed" and entry["reason"].startswith("refused")
    assert _data(api.get("/deals/1"))["name"] == "Kept"  # the tenant was not reset


def test_delivery__to_a_host_off_loopback_is_refused_unless_allowed(
    fintesk_mock: FinteskMock, api: httpx.Client
) -> None:
    body = {"subscription_url": "http://receiver.example.invalid/x", "event_action": "*", "event_object": "deal"}
    _data(api.post("/webhooks", json=body))
    _data(api.put("/deals/1", json={"name": "Stays here"}))
    (entry,) = _logged(fintesk_mock, 1)
    assert entry["outcome"] == "failed" and "--webhook-host" in entry["reason"]


@pytest.fixture
def small_bound(fintesk_mock_server: MockServer | None) -> Iterator[None]:
    if fintesk_mock_server is None:
        pytest.skip("needs the plugin's own server (FINTESK_MOCK_URL is set)")
    deliveries = fintesk_mock_server.app.state["control"].deliveries
    deliveries.max_pending, deliveries.sender.timeout_s = 3, 300.0  # the held delivery ends when the test releases it
    try:
        yield
    finally:
        deliveries.max_pending, deliveries.sender.timeout_s = 10_000, 10.0


@pytest.mark.usefixtures("small_bound")
def test_pending_deliveries__past_the_bound_the_oldest_are_dropped(
    fintesk_mock: FinteskMock, api: httpx.Client
) -> None:
    fintesk_mock.subscribe("updated", "deal", version="1.0")
    fintesk_mock.receiver.answer(behaviour="hang")  # the first delivery holds the queue behind it
    _data(api.put("/deals/1", json={"name": "Held"}))
    fintesk_mock.receiver.wait(1)
    for number in range(5):
        _data(api.put("/deals/1", json={"name": f"Queued {number}"}))
    dropped = [entry for entry in _logged(fintesk_mock, 2) if entry["outcome"] == "dropped"]
    fintesk_mock.receiver.release()
    names = [received.json["current"]["name"] for received in fintesk_mock.receiver.wait(3)]
    assert names == ["Queued 2", "Queued 3", "Queued 4"]
    assert [entry["delivery"] for entry in dropped] == [2, 3] and "more than 3" in dropped[0]["reason"]
    assert [entry["outcome"] for entry in _logged(fintesk_mock, 6)[2:]] == ["delivered"] * 4


def _documented_tests() -> dict[str, Any]:
    text = (Path(__file__).resolve().parent.parent / "docs" / "webhooks.md").read_text(encoding="utf-8")
    namespace: dict[str, Any] = {}
    for block in re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL):
        exec(compile(block, "docs/webhooks.md", "exec"), namespace)  # noqa: S102 - the documentation's own example
    return {name: value for name, value in namespace.items() if name.startswith("test_")}


@pytest.mark.parametrize("name", sorted(_documented_tests()))
def test_documented_example__passes(fintesk_mock: FinteskMock, name: str) -> None:
    _documented_tests()[name](fintesk_mock)


def test_app_served_again__delivers_again() -> None:
    """The same app served twice (two test clients, one after the other): the second serving delivers too."""
    from mock_server.app import create_app

    receiver = Receiver()
    app = create_app()
    headers = {"x-api-token": "served-twice"}
    try:
        with app.test_client() as client:
            hook = {"subscription_url": receiver.url, "event_action": "*", "event_object": "deal"}
            assert client.post("/v1/webhooks", json=hook, headers=headers).status_code == 201
            assert client.put("/v1/deals/1", json={"name": "First serving"}, headers=headers).status_code == 200
            assert receiver.wait(1)[0].json["data"]["name"] == "First serving"
        with app.test_client() as client:
            assert client.put("/v1/deals/1", json={"name": "Second serving"}, headers=headers).status_code == 200
            assert receiver.wait(1)[0].json["data"]["name"] == "Second serving"
    finally:
        receiver.close()


# --- a big account: its requests run in a worker thread ------------------------------------------------------------


@pytest.fixture(scope="module")
def big_account_url() -> Iterator[str]:
    """A server (uvicorn, on loopback) whose tenants start from a generated account past the big-account bound."""
    from mock_server.app import create_app
    from mock_server.http.big_accounts import is_big
    from mock_server.settings import Settings

    app = create_app(Settings(generate_deals=1000, seed=5))
    with serving(app) as url:
        assert is_big(app.state["tenants"].for_token("big-account")), "the generated account is not past the bound"
        yield url


def test_big_account__writes_send_their_events_and_they_are_delivered(big_account_url: str) -> None:
    receiver = Receiver()
    try:
        headers = {"x-api-token": "big-account"}
        with httpx.Client(base_url=big_account_url, headers=headers, timeout=120) as api:
            hook = {"subscription_url": receiver.url, "event_action": "*", "event_object": "deal", "version": "1.0"}
            _data(api.post("/webhooks", json=hook))
            deal = _data(api.post("/deals", json={"name": "Big and hooked", "person_id": 1}))
            read_after_add = _data(api.get(f"/deals/{deal['id']}"))
            _data(api.put(f"/deals/{deal['id']}", json={"name": "Big and changed"}))
            read_after_update = _data(api.get(f"/deals/{deal['id']}"))
            _data(api.delete(f"/deals/{deal['id']}"))
        added, updated, deleted = (received.json for received in receiver.wait(3))
        assert [added["event"], updated["event"], deleted["event"]] == ["added.deal", "updated.deal", "deleted.deal"]
        assert added["current"] == read_after_add and added["previous"] is None
        assert updated["previous"] == read_after_add and updated["current"] == read_after_update
        assert deleted["previous"] == read_after_update and deleted["current"] is None
    finally:
        receiver.close()
