"""mock_server.http.envelope: kept renders encoded once and joined into pages."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest

from mock_server.http import envelope
from tests.conftest import Api


@dataclass
class Kept:
    record: dict[str, Any]
    derived: dict[Any, Any] = field(default_factory=dict)


def test_kept_json__a_page_of_fragments_encodes_as_the_records_would() -> None:
    renders = [(Kept({"id": 1, "rotten_time": None, "name": "Å"}), None), (Kept({"id": 2, "rotten_time": None}), "x")]

    page = envelope.encode({"data": envelope.kept_json(renders, "rotten_time")})

    expected = {"data": [{"id": 1, "rotten_time": None, "name": "Å"}, {"id": 2, "rotten_time": "x"}]}
    assert json.loads(page) == expected


def test_kept_json__each_render_is_encoded_once_per_value(monkeypatch: pytest.MonkeyPatch) -> None:
    kept = Kept({"id": 1, "rotten_time": None})
    envelope.kept_json([(kept, None)], "rotten_time")
    monkeypatch.setattr(envelope.orjson, "dumps", lambda _value: pytest.fail("encoded again"))

    again = envelope.kept_json([(kept, None)], "rotten_time")

    assert again[0] is kept.derived[("rotten_time", None)]
    assert isinstance(again[0], orjson.Fragment)


def test_kept_json__a_new_value_is_encoded_anew() -> None:
    kept = Kept({"id": 1, "rotten_time": None})
    envelope.kept_json([(kept, None)], "rotten_time")

    page = envelope.encode(envelope.kept_json([(kept, "2026-01-01 00:00:00")], "rotten_time"))

    assert json.loads(page) == [{"id": 1, "rotten_time": "2026-01-01 00:00:00"}]


def test_kept_json__a_record_orjson_cannot_encode_makes_the_page_plain_records() -> None:
    huge = 10**30
    renders = [(Kept({"id": 1, "rotten_time": None}), None), (Kept({"id": 2, "rotten_time": None, "v": huge}), None)]

    items = envelope.kept_json(renders, "rotten_time")

    assert items == [{"id": 1, "rotten_time": None}, {"id": 2, "rotten_time": None, "v": huge}]
    assert json.loads(envelope.encode({"data": items}))["data"][1]["v"] == huge


def test_shared_json__a_shared_render_is_encoded_once(monkeypatch: pytest.MonkeyPatch) -> None:
    hits = [{"result_score": 0.5, "item": {"id": 1, "name": "Å"}}, {"result_score": 0.25, "item": {"id": 2}}]
    first = envelope.shared_json(hits)
    monkeypatch.setattr(envelope.orjson, "dumps", lambda _value: pytest.fail("encoded again"))

    again = envelope.shared_json(hits)

    assert again is first
    monkeypatch.undo()
    assert json.loads(envelope.encode({"items": again})) == {"items": hits}


def test_shared_json__another_render_with_the_same_content_is_its_own_entry() -> None:
    hit = [{"item": {"id": 1}}]
    envelope.shared_json(hit)
    other = [{"item": {"id": 2}}]

    assert json.loads(envelope.encode(envelope.shared_json(other))) == other


def test_shared_json__the_slow_path_encodes_the_renders_behind_the_fragments() -> None:
    huge = 10**30
    hits = [{"item": {"id": 1}}, {"item": {"id": 2, "v": huge}}]  # the page cannot be a fragment
    pages = [[{"item": {"id": 3}}], hits]
    body = {"data": {"items": [envelope.shared_json(page) for page in pages], "related_items": [{"value": huge}]}}

    assert json.loads(envelope.encode(body)) == {"data": {"items": pages, "related_items": [{"value": huge}]}}


def test_api__a_deal_list_holding_a_huge_custom_value_still_lists(api: Api) -> None:
    fields = api.data("GET", "/dealFields")
    key = next(field["key"] for field in fields if field["field_type"] == "monetary" and len(field["key"]) == 40)
    api.data("PUT", "/deals/1", json={key: 10**30})

    deals = api.data("GET", "/deals", params={"limit": 3}, headers={"cache-control": "no-cache"})

    assert deals[0][key] == 10**30


def test_streamed__pieces_go_out_in_chunks_of_about_the_size_asked_never_joined_whole() -> None:
    pieces = [bytes([65 + number % 26]) * 300 for number in range(10)]

    async def chunks() -> list[bytes]:
        return [chunk async for chunk in envelope.streamed(pieces, chunk=1000)]

    sent = asyncio.run(chunks())
    assert b"".join(sent) == b"".join(pieces)
    assert [len(chunk) for chunk in sent] == [1200, 1200, 600]


def test_api__a_state_export_is_streamed_and_reads_back(api: Api) -> None:
    response = api.client.get(f"/__mock__/tenants/{api.token}/state")

    assert response.status_code == 200 and "content-length" not in response.headers
    assert response.json()["records"]["deals"][0]["id"] == 1
