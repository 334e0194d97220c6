"""`fintesk-mock snapshot`: a tenant of a running mock copied through its API, served again, found the same."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mock_server.client import MockControl
from mock_server.data import fixtures
from mock_server.data import snapshot as snapshot_module
from mock_server.data.pacing import Pacer, Source, SourceError
from mock_server.data.rebuild import rebuild
from tests.server import running_server

SOURCE_TOKEN = "token-for-maria"  # acts as user 2 of the bundled account
MARIA = 2


def run_snapshot(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "mock_server", "snapshot", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, env={**os.environ, **env})


class Tenant:
    """One token's view of a running mock's /v1."""

    def __init__(self, root_url: str, token: str) -> None:
        self.client = httpx.Client(base_url=f"{root_url}/v1", headers={"x-api-token": token}, timeout=30)

    def data(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.client.request(method, path, **kwargs)
        assert response.status_code in (200, 201), response.text
        return response.json()["data"]

    def deals(self) -> list[dict[str, Any]]:
        listed = []
        for status in ("all_not_deleted", "deleted"):
            listed += self.data("GET", "/deals", params={"status": status, "limit": 500})
        return sorted(listed, key=lambda deal: deal["id"])


def make_changes(source: Tenant) -> dict[str, Any]:
    """A custom field and a deal using it, a won deal, a deleted deal, an activity, a filter and product lines."""
    field = source.data("POST", "/dealFields", json={"name": "Sync kéy ✓", "field_type": "varchar"})
    tier = source.data("POST", "/dealFields", json={"name": "Tier", "field_type": "enum",
                                                    "options": [{"label": "Gold"}, {"label": "Silver"}]})  # fmt: skip
    silver = tier["options"][1]["id"]
    deal = source.data("POST", "/deals", json={"name": "Ärende – snapshot 🚀", "person_id": 3, "value": 1234.5,
                                               field["key"]: "ERP-0042", tier["key"]: silver})  # fmt: skip
    won = source.data("PUT", "/deals/2", json={"status": "won"})
    source.data("DELETE", "/deals", params={"ids": "6"})
    activity = source.data("POST", "/activities", json={"subject": "Walk through the snapshot", "type": "meeting",
                                                        "deal_id": deal["id"], "due_date": "2027-02-01"})  # fmt: skip
    condition = {"object": "deal", "field_id": str(field["id"]), "operator": "=", "value": "ERP-0042",
                 "extra_value": None}  # fmt: skip
    conditions = {"glue": "and", "conditions": [{"glue": "and", "conditions": [condition]},
                                                {"glue": "or", "conditions": []}]}  # fmt: skip
    saved = source.data("POST", "/filters", json={"name": "Synced deals", "type": "deals", "conditions": conditions})
    lines = [source.data("POST", f"/deals/{deal['id']}/products", json=body) for body in (
        {"product_id": 3, "item_price": 950, "quantity": 2, "discount": 10, "discount_type": "percentage"},
        {"product_id": 6, "item_price": 6450, "quantity": 1, "tax": 24, "tax_method": "exclusive"},
    )]  # fmt: skip
    return {"field": field, "tier": tier, "silver": silver, "deal": deal, "won": won, "activity": activity,
            "filter": saved, "lines": lines, **make_contact_changes(source, deal["id"])}  # fmt: skip


def make_contact_changes(source: Tenant, deal_id: int) -> dict[str, Any]:
    """An organization and a person with a custom value nobody refers to, a person deleted while a deal keeps it,
    a pinned note, a product with prices and custom fields of persons, organizations and products."""
    size = source.data("POST", "/personFields", json={"name": "Shoe size", "field_type": "double"})
    source.data("POST", "/organizationFields", json={"name": "Region", "field_type": "varchar"})
    source.data("POST", "/productFields", json={"name": "Warranty", "field_type": "varchar"})
    org = source.data("POST", "/organizations", json={"name": "Snapshot Oy", "address": "Kauppatori 1, Helsinki"})
    email = [{"value": "asa@example.com", "primary": True}]
    person = source.data("POST", "/persons", json={"name": "Åsa Ström", "org_id": org["id"], size["key"]: 44.5,
                                                   "email": email})  # fmt: skip
    forgotten = source.data("POST", "/organizations", json={"name": "Closed Down Oy"})
    source.data("DELETE", f"/organizations/{forgotten['id']}")
    source.data("DELETE", "/notes/1")
    gone = source.data("POST", "/persons", json={"name": "Gone Person"})
    source.data("PUT", f"/deals/{deal_id}", json={"person_id": gone["id"]})
    source.data("DELETE", f"/persons/{gone['id']}")
    note = source.data("POST", "/notes", json={"content": "Snapshot <b>note</b>", "deal_id": deal_id,
                                               "pinned_to_deal_flag": 1})  # fmt: skip
    prices = [{"currency": "EUR", "price": 10, "cost": 4}]
    product = source.data("POST", "/products", json={"name": "Snapshot widget", "code": "SW-1", "prices": prices})
    return {
        "size": size,
        "org": org,
        "person": person,
        "gone": gone,
        "forgotten": forgotten,
        "note": note,
        "product": product,
    }


@pytest.fixture(scope="module")
def round_trip(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Change a tenant, snapshot it, and serve the snapshot; yields both tenants and what the command did."""
    out = tmp_path_factory.mktemp("snapshot") / "account"
    with running_server("--log-level", "warning") as source_url:
        source = Tenant(source_url, SOURCE_TOKEN)
        changes = make_changes(source)
        control = MockControl(source_url)
        control.clear_requests(SOURCE_TOKEN)
        result = run_snapshot("--base-url", f"{source_url}/v1", "--out", str(out), "--rate", "1000",
                              "--deal-persons", FINTESK_CHECK_TOKEN=SOURCE_TOKEN)  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        journal = control.requests(token=SOURCE_TOKEN, limit=1000)
        with running_server("--fixtures", str(out), "--log-level", "warning") as copy_url:
            yield {"source": source, "copy": Tenant(copy_url, "any-token"), "changes": changes, "out": out,
                   "result": result, "journal": journal}  # fmt: skip


def test_snapshot__sends_only_gets(round_trip: dict[str, Any]) -> None:
    journal = round_trip["journal"]
    sent = int(round_trip["result"].stdout.split(" from ")[1].split(" GET")[0])

    assert len(journal) == sent
    assert {entry["method"] for entry in journal} == {"GET"}


def test_snapshot__deals_are_the_same_with_statuses_and_custom_values(round_trip: dict[str, Any]) -> None:
    source, copy, changes = round_trip["source"], round_trip["copy"], round_trip["changes"]

    source_deals, copied_deals = source.deals(), copy.deals()

    assert [deal["id"] for deal in copied_deals] == [deal["id"] for deal in source_deals]
    for copied_deal, source_deal in zip(copied_deals, source_deals, strict=True):
        differ = {key for key in source_deal.keys() | copied_deal.keys()
                  if source_deal.get(key) != copied_deal.get(key)}  # fmt: skip
        assert not differ, (source_deal["id"], {key: (source_deal.get(key), copied_deal.get(key)) for key in differ})
    copied = {deal["id"]: deal for deal in copied_deals}
    deal = copied[changes["deal"]["id"]]
    assert deal["name"] == "Ärende – snapshot 🚀"
    assert deal[changes["field"]["key"]] == "ERP-0042"
    assert deal[changes["tier"]["key"]] == changes["silver"]
    assert copied[2]["status"] == "won" and copied[2]["won_time"] == changes["won"]["won_time"]
    assert copied[6]["status"] == "deleted"
    assert [deal["org_id"] and deal["org_id"]["value"] for deal in copied_deals] == [
        deal["org_id"] and deal["org_id"]["value"] for deal in source_deals
    ]


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/activities", {"user_id": 0, "limit": 500}),
        ("/activityTypes", {}),
        ("/dealFields", {"limit": 500}),
        ("/activityFields", {}),
        ("/currencies", {}),
        ("/filters", {}),
        ("/persons", {"limit": 500}),
        ("/organizations", {"limit": 500}),
        ("/users", {}),
        ("/users/me", {}),
        ("/pipelines", {"limit": 500}),
        ("/stages", {"limit": 500}),
        ("/products", {"limit": 500}),
        ("/notes", {"limit": 500}),
        ("/personFields", {"limit": 500}),
        ("/organizationFields", {"limit": 500}),
        ("/productFields", {"limit": 500}),
    ],
)
def test_snapshot__lists_are_the_same(round_trip: dict[str, Any], path: str, params: dict[str, Any]) -> None:
    expected = round_trip["source"].data("GET", path, params=params)

    assert round_trip["copy"].data("GET", path, params=params) == expected


def test_snapshot__new_records_and_a_deleted_person_a_deal_keeps_are_copied_whole(round_trip: dict[str, Any]) -> None:
    source, copy, changes = round_trip["source"], round_trip["copy"], round_trip["changes"]

    for path in (f"/persons/{changes['person']['id']}", f"/organizations/{changes['org']['id']}",
                 f"/notes/{changes['note']['id']}",
                 f"/products/{changes['product']['id']}", f"/personFields/{changes['size']['id']}"):  # fmt: skip
        assert copy.data("GET", path) == source.data("GET", path), path
    person = copy.data("GET", f"/persons/{changes['person']['id']}")
    assert person[changes["size"]["key"]] == 44.5 and person["org_id"]["value"] == changes["org"]["id"]
    # A deleted record leaves its list and its read by id, but stays in /recents, deleted; a person on its deal.
    recents = copy.data("GET", "/recents", params={"since_timestamp": "2000-01-01 00:00:00",
                                                   "items": "person,organization,note"})  # fmt: skip
    deleted = {(item["item"], item["id"]) for item in recents if item["data"]["active_flag"] is False}
    assert deleted == {("person", changes["gone"]["id"]), ("organization", changes["forgotten"]["id"]), ("note", 1)}
    assert copy.data("GET", f"/deals/{changes['deal']['id']}")["person_id"]["name"] == "Gone Person"
    assert copy.data("GET", f"/products/{changes['product']['id']}")["prices"][0]["price"] == 10
    assert copy.data("GET", f"/notes/{changes['note']['id']}")["pinned_to_deal_flag"] in (True, 1)


@pytest.mark.parametrize("kinds", ["deal,person,organization,note,product", "user,pipeline,stage,filter,activity"])
def test_snapshot__recents_are_the_same(round_trip: dict[str, Any], kinds: str) -> None:
    """The change times of every record are copied, so an incremental sync reads the same changes from both."""
    params = {"since_timestamp": "2000-01-01 00:00:00", "items": kinds, "limit": 500}
    source, copy = round_trip["source"], round_trip["copy"]

    def changes(tenant: Tenant) -> list[tuple[str, int, str]]:
        listed = tenant.data("GET", "/recents", params=params)
        return [(item["item"], item["id"], item["data"].get("update_time") or item["data"]["add_time"])
                for item in listed]  # fmt: skip

    assert changes(copy) == changes(source)


def test_snapshot__deal_persons_keep_their_organizations_and_details(round_trip: dict[str, Any]) -> None:
    source, copy = round_trip["source"], round_trip["copy"]

    def persons(tenant: Tenant, deal_id: int) -> list[dict[str, Any]]:
        listed = tenant.data("GET", f"/deals/{deal_id}/persons")
        return [{**person, "org_id": person["org_id"] and person["org_id"]["value"]} for person in listed]

    for deal in source.deals():
        if deal["status"] != "deleted":
            assert persons(copy, deal["id"]) == persons(source, deal["id"]), deal["id"]


def test_snapshot__filters_keep_their_conditions(round_trip: dict[str, Any]) -> None:
    for summary in round_trip["source"].data("GET", "/filters"):
        path = f"/filters/{summary['id']}"
        assert round_trip["copy"].data("GET", path) == round_trip["source"].data("GET", path)
    saved = round_trip["copy"].data("GET", f"/filters/{round_trip['changes']['filter']['id']}")
    assert saved["conditions"]["conditions"][0]["conditions"][0]["value"] == "ERP-0042"


def test_snapshot__product_lines_and_products_are_the_same(round_trip: dict[str, Any]) -> None:
    source, copy = round_trip["source"], round_trip["copy"]
    with_lines = [deal["id"] for deal in source.deals() if deal["products_count"] and deal["status"] != "deleted"]
    params = {"include_product_data": 1}

    for deal_id in with_lines:
        path = f"/deals/{deal_id}/products"
        assert copy.data("GET", path, params=params) == source.data("GET", path, params=params), deal_id
    new_lines = copy.data("GET", f"/deals/{round_trip['changes']['deal']['id']}/products")
    assert [line["id"] for line in new_lines] == [line["id"] for line in round_trip["changes"]["lines"]]


def test_snapshot__the_tokens_user_is_the_api_user_and_no_token_is_written(round_trip: dict[str, Any]) -> None:
    out: Path = round_trip["out"]

    company = json.loads((out / "company.json").read_text(encoding="utf-8"))
    assert company["api_user_id"] == MARIA and company["tokens"] == {}
    written = "".join(path.read_text(encoding="utf-8") for path in out.iterdir())
    assert SOURCE_TOKEN not in written
    assert SOURCE_TOKEN not in round_trip["result"].stdout + round_trip["result"].stderr
    # Any token of the copy acts as that user: activities listed without user_id are Maria's.
    assert {activity["user_id"] for activity in round_trip["copy"].data("GET", "/activities")} == {MARIA}


def test_snapshot__passes_the_fixture_checks_and_says_what_it_defaulted(round_trip: dict[str, Any]) -> None:
    loaded = fixtures.load(round_trip["out"])

    assert len(loaded.records["deals"]) == len(round_trip["source"].deals())
    assert loaded.company["name"] == "Northwind Tools Oy" and loaded.company["id"] == 7001
    output = round_trip["result"].stdout
    assert "  deals: 61 fetched" in output and "  persons: 41 fetched" in output
    assert "exchange rates: not readable" in output
    assert "named 'Snapshot of" not in output and "not read whole" not in output and "not served" not in output


def test_snapshot__refuses_a_non_empty_out_without_force(tmp_path: Path) -> None:
    out = tmp_path / "account"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")

    result = run_snapshot("--base-url", "http://127.0.0.1:9/v1", "--token", "t", "--out", str(out))

    assert result.returncode == 2
    assert "not empty; pass --force" in result.stderr
    assert (out / "mine.txt").read_text() == "keep me"


@pytest.fixture(scope="module")
def plain_server() -> Iterator[str]:
    """A mock on the bundled account; each test reads its own tenant."""
    with running_server("--log-level", "warning") as url:
        yield url


def test_snapshot__force_replaces_a_non_empty_out(plain_server: str, tmp_path: Path) -> None:
    out = tmp_path / "account"
    out.mkdir()
    (out / "mine.txt").write_text("old")

    result = run_snapshot("--base-url", f"{plain_server}/v1", "--token", "force-token", "--out", str(out),
                          "--rate", "1000", "--force")  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert not (out / "mine.txt").exists()
    assert (out / "deals.json").exists()
    assert [path.name for path in tmp_path.iterdir()] == ["account"]


def test_snapshot__a_list_the_token_may_not_read_is_rebuilt_from_other_answers_and_said(
    plain_server: str, tmp_path: Path
) -> None:
    control = MockControl(plain_server)
    for path in ("/v1/persons", "/v1/users/me"):  # a real token without the scope answers 403
        control.fail_next(f"GET {path}", status=403, tenant="scoped-token")
    out = tmp_path / "account"

    result = run_snapshot("--base-url", f"{plain_server}/v1", "--token", "scoped-token", "--out", str(out),
                          "--rate", "1000")  # fmt: skip

    assert result.returncode == 0, result.stdout + result.stderr
    assert "  - persons: not served (GET /persons?start=0&limit=500: answered 403" in result.stdout
    assert "  - users/me: not served" in result.stdout
    assert "persons: some not read whole; rebuilt from what other records show" in result.stdout
    loaded = fixtures.load(out)
    assert loaded.company["name"] == f"Snapshot of {plain_server.split('//')[1]}"
    referred = {deal["person_id"] for deal in loaded.records["deals"]} - {None}
    assert referred <= {person["id"] for person in loaded.records["persons"]}
    assert len(loaded.records["organizations"]) == 20  # still read whole through their own list


def test_snapshot__waits_out_an_exhausted_rate_limit_window(plain_server: str, tmp_path: Path) -> None:
    control = MockControl(plain_server)
    control.set_rate_limit(12, token="paced-token")

    result = run_snapshot("--base-url", f"{plain_server}/v1", "--token", "paced-token", "--out",
                          str(tmp_path / "account"), "--rate", "1000")  # fmt: skip

    assert result.returncode == 0, result.stderr
    statuses = [entry["status"] for entry in control.requests(token="paced-token", limit=1000)]
    assert len(statuses) > 12
    assert 429 not in statuses


def test_snapshot__ctrl_c_leaves_no_folder(plain_server: str, tmp_path: Path) -> None:
    out = tmp_path / "account"
    # Activities are read after deals; holding them back keeps the command busy until the signal arrives.
    MockControl(plain_server).inject("delay", "GET /v1/activities", delay_ms=120_000, tenant="interrupted-token")
    command = [sys.executable, "-m", "mock_server", "snapshot", "--base-url", f"{plain_server}/v1", "--token",
               "interrupted-token", "--out", str(out), "--rate", "1000"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("  deals:"):
                break
        process.send_signal(signal.SIGINT)
        _, errors = process.communicate(timeout=60)
    finally:
        process.kill()

    assert process.returncode == 130, errors
    assert "Interrupted" in errors
    assert list(tmp_path.iterdir()) == []


def test_write_folder__an_interrupted_write_leaves_the_old_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "account"
    out.mkdir()
    (out / "deals.json").write_text("[]")
    written: list[Any] = []

    def dump_then_stop(content: Any, **options: Any) -> bytes:
        written.append(content)
        if len(written) == 3:
            raise KeyboardInterrupt
        return b"[]"

    monkeypatch.setattr(snapshot_module.orjson, "dumps", dump_then_stop)
    records = {"users": [], "pipelines": [], "stages": [], "deals": []}
    with pytest.raises(KeyboardInterrupt):
        snapshot_module.write_folder(out, {"id": 1}, records, force=True)

    assert [path.name for path in tmp_path.iterdir()] == ["account"]
    assert [path.name for path in out.iterdir()] == ["deals.json"]


# --- pacing ------------------------------------------------------------------------------------------------------


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 3))
        self.now += seconds


def paced_source(answers: list[httpx.Response], time: FakeTime, rate: float | None = None) -> Source:
    pending = iter(answers)
    transport = httpx.MockTransport(lambda request: next(pending))
    return Source("http://crm.example/v1", "secret-token", Pacer(rate, clock=time.clock, sleep=time.sleep),
                  client=httpx.Client(transport=transport))  # fmt: skip


OK = {"success": True, "data": []}


def test_source__waits_out_a_429_and_asks_again() -> None:
    time = FakeTime()
    source = paced_source([httpx.Response(429, headers={"retry-after": "3"}, json={"success": False}),
                           httpx.Response(200, json=OK)], time)  # fmt: skip

    assert source.get("/deals") == OK
    assert time.slept == [3.0]
    assert source.requests == 2


def test_source__a_spent_daily_budget_stops_at_once() -> None:
    time = FakeTime()
    spent = {"retry-after": "2", "x-daily-requests-left": "0"}
    source = paced_source([httpx.Response(429, headers=spent, json={"success": False})], time)

    with pytest.raises(SourceError, match="requests for today are spent"):
        source.get("/deals")
    assert time.slept == []


def test_source__an_exhausted_window_holds_the_next_request_until_it_resets() -> None:
    time = FakeTime()
    spent = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "2"}
    source = paced_source([httpx.Response(200, headers=spent, json=OK), httpx.Response(200, json=OK)], time)

    source.get("/deals")
    assert time.slept == []
    source.get("/deals")
    assert time.slept == [2.0]


def test_source__rate_spaces_requests() -> None:
    time = FakeTime()
    source = paced_source([httpx.Response(200, json=OK) for _ in range(3)], time, rate=4)

    for _ in range(3):
        source.get("/currencies")

    assert time.slept == [0.25, 0.25]


def test_source__an_unreachable_url_fails_at_once_but_a_lost_connection_later_is_retried() -> None:
    time = FakeTime()
    calls: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if len(calls) in (1, 3):
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(200, json=OK)

    client = httpx.Client(transport=httpx.MockTransport(answer))
    source = Source("http://crm.example/v1", "t", Pacer(clock=time.clock, sleep=time.sleep), client=client)

    with pytest.raises(SourceError, match="cannot reach http://crm.example/v1"):
        source.get("/currencies")
    assert source.get("/currencies") == OK
    assert source.get("/deals") == OK
    assert calls == ["/v1/currencies", "/v1/currencies", "/v1/deals", "/v1/deals"]
    assert time.slept == [1.0]


def test_source__a_refused_token_is_named_without_the_token() -> None:
    source = paced_source([httpx.Response(401, json={"success": False, "error": "secret-token is bad"})], FakeTime())

    with pytest.raises(SourceError, match="refused the token") as raised:
        source.get("/deals")
    assert "secret-token" not in str(raised.value)


def test_source__an_error_answer_names_the_request_and_masks_the_token() -> None:
    source = paced_source([httpx.Response(404, json={"success": False, "error": "no secret-token here"})], FakeTime())

    with pytest.raises(SourceError, match=r"GET /deals/7: answered 404: no \[token\] here"):
        source.get("/deals/7")


# --- rebuilding records from what the API shows -----------------------------------------------------------------

NOW = "2027-01-01 09:00:00"


def deal_answer(**fields: Any) -> dict[str, Any]:
    deal = {"id": 1, "name": "Deal", "value": 1000, "currency": "EUR", "user_id": 7, "creator_user_id": 7,
            "person_id": None, "org_id": None, "pipeline_id": 2, "stage_id": 3, "status": "open", "probability": None,
            "add_time": NOW, "update_time": NOW, "won_time": None, "lost_time": None, "close_time": None,
            "first_won_time": None, "stage_change_time": None, "expected_close_date": None, "active_flag": True,
            "weighted_value": 1000, "rotten_time": None}  # fmt: skip
    return {**deal, **fields}


def answers(**lists: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    euro = {"id": 1, "code": "EUR", "name": "Euro", "symbol": "€", "decimal_points": 2, "is_custom_flag": False,
            "active_flag": True}  # fmt: skip
    call = {"id": 1, "name": "Call", "key_string": "call", "icon_key": "call", "color": None, "order_nbr": 1,
            "is_custom_flag": False, "active_flag": True}  # fmt: skip
    empty = ("deal_fields", "activity_fields", "filters", "deals", "activities", "deal_products")
    return {"currencies": [euro], "activity_types": [call], **dict.fromkeys(empty, []), **lists}


def rebuilt(lists: dict[str, list[dict[str, Any]]], related: dict[str, Any] | None = None) -> Any:
    result = rebuild(lists, related or {}, api_user_id=7, host="crm.example", now=NOW)
    fixtures.validate(result.company, result.records, "snapshot")
    return result


def test_rebuild__records_only_referred_to_become_named_placeholders() -> None:
    ada = {"name": "Ada", "email": [], "phone": [], "owner_id": 7, "value": 9}

    result = rebuilt(answers(deals=[deal_answer(person_id=ada)]))

    assert [(user["id"], user["name"]) for user in result.records["users"]] == [(7, "User 7")]
    assert [(stage["id"], stage["name"], stage["pipeline_id"]) for stage in result.records["stages"]] == [
        (3, "Stage 3", 2)
    ]
    assert [(person["id"], person["name"]) for person in result.records["persons"]] == [(9, "Ada")]
    assert result.records["deals"][0]["person_id"] == 9
    assert any(line.startswith("users 7: referred to but never shown") for line in result.defaults)


def test_rebuild__an_activity_on_an_unlisted_deal_loses_its_deal() -> None:
    activity = {"id": 4, "subject": "Call", "type": "call", "due_date": None, "due_time": None, "duration": None,
                "user_id": 7, "deal_id": 99, "person_id": None, "org_id": None, "done": 0,
                "marked_as_done_time": None, "note": None, "active_flag": True, "add_time": NOW,
                "deal_name": "gone", "owner_name": "User 7"}  # fmt: skip

    result = rebuilt(answers(activities=[activity]))

    assert result.records["activities"][0]["deal_id"] is None
    assert "deal_name" not in result.records["activities"][0]
    assert any("1 were on deals the API no longer lists" in line for line in result.defaults)


def test_rebuild__a_used_but_unlisted_currency_and_activity_type_are_added_inactive() -> None:
    activity = {"id": 4, "subject": "Demo", "type": "demo", "due_date": None, "due_time": None, "duration": None,
                "user_id": 7, "deal_id": None, "person_id": None, "org_id": None, "done": 0,
                "marked_as_done_time": None, "note": None, "active_flag": True, "add_time": NOW}  # fmt: skip

    result = rebuilt(answers(deals=[deal_answer(currency="SEK")], activities=[activity]))

    assert [(entry["code"], entry["active_flag"]) for entry in result.records["currencies"]] == [
        ("EUR", True), ("SEK", False)
    ]  # fmt: skip
    assert result.records["activity_types"][-1]["key_string"] == "demo"
    assert result.records["activity_types"][-1]["active_flag"] is False
    assert result.company["default_currency"] == "SEK"


def test_rebuild__a_stage_probability_and_rotting_are_told_by_its_deals() -> None:
    related = {"pipeline": {2: {"id": 2, "name": "Sales", "order_nbr": 1, "active_flag": True,
                                "deal_probability": 1}}}  # fmt: skip
    deal = deal_answer(weighted_value=250, stage_change_time="2026-12-01 09:00:00", rotten_time="2026-12-15 09:00:00")

    result = rebuilt(answers(deals=[deal]), related)

    stage = result.records["stages"][0]
    assert (stage["deal_probability"], stage["rotten_flag"], stage["rotten_days"]) == (25, True, 14)


def test_rebuild__the_stage_fields_options_add_stages_no_deal_is_in() -> None:
    field = {"id": 12, "key": "stage_id", "name": "Stage", "field_type": "stage", "order_nbr": 8,
             "options": [{"id": 3, "label": "Qualified"}, {"id": 4, "label": "Won back"}], "active_flag": True,
             "add_visible_flag": True, "edit_flag": False, "mandatory_flag": False}  # fmt: skip

    result = rebuilt(answers(deals=[deal_answer()], deal_fields=[field]))

    assert [(stage["id"], stage["name"]) for stage in result.records["stages"]] == [(3, "Qualified"), (4, "Won back")]


def test_rebuild__a_listed_record_is_kept_whole_without_what_a_read_works_out() -> None:
    listed = {"id": 9, "name": "Ada Lovelace", "first_name": "Ada", "last_name": "Lovelace", "email": [],
              "phone": [], "org_id": None, "owner_id": {"id": 7, "name": "User 7", "value": 7}, "active_flag": False,
              "add_time": "2026-01-02 03:04:05", "open_deals_count": 3, "owner_name": "User 7",
              "a1b2c3d4e5f6a7b8c9d0a1b2c3d4e5f6a7b8c9d0": "custom"}  # fmt: skip
    related = {"person": {9: {"id": 9, "name": "Ada", "people_count": 4}}}

    result = rebuilt(answers(deals=[deal_answer(person_id={"value": 9, "name": "Ada"})], persons=[listed]), related)

    person = result.records["persons"][0]
    assert person["name"] == "Ada Lovelace" and person["owner_id"] == 7 and person["active_flag"] is False
    assert person["add_time"] == "2026-01-02 03:04:05"
    assert person["a1b2c3d4e5f6a7b8c9d0a1b2c3d4e5f6a7b8c9d0"] == "custom"
    assert not {"open_deals_count", "owner_name", "people_count"} & person.keys()
    assert not any(line.startswith("persons") for line in result.defaults)


def test_rebuild__a_field_no_answer_shows_is_emptied_and_said_but_a_reference_is_not() -> None:
    nameless = {key: value for key, value in deal_answer().items() if key != "name"}
    result = rebuilt(answers(deals=[nameless]))
    assert result.records["deals"][0]["name"] == ""
    assert "deals 1: 'name' not shown; set to ''." in result.defaults

    ownerless = {key: value for key, value in deal_answer().items() if key != "user_id"}
    with pytest.raises(fixtures.FixtureError, match=r"deals: record #1 \(id 1\): field 'user_id'"):
        rebuilt(answers(deals=[ownerless]))


def test_rebuild__the_company_comes_from_the_tokens_user() -> None:
    me = {"id": 7, "company_id": 4242, "company_name": "Acme Oy", "default_currency": "EUR"}

    result = rebuild(answers(), {}, api_user_id=7, host="crm.example", now=NOW, me=me)

    assert (result.company["id"], result.company["name"], result.company["default_currency"]) == (4242, "Acme Oy",
                                                                                                   "EUR")  # fmt: skip
    assert not any(line.startswith("company") for line in result.defaults)
