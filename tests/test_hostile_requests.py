"""Random hostile requests at every operation of the API and of the control plane: never a 5xx, every refusal in
the Fintesk envelope, and afterwards the tenant still lists, exports and shows in the journal."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from mock_server import ADMIN_SPEC_PATH, SPEC_PATH
from mock_server.app import create_app
from mock_server.settings import Settings

TOKEN = "hostile"
METHODS = ("get", "put", "post", "delete", "patch")


def operations() -> list[tuple[str, str, list[str]]]:
    """(method, path template under its base, names of its parameters and body fields) of both specs."""
    found = []
    for path in (SPEC_PATH, ADMIN_SPEC_PATH):
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        base = spec["servers"][0]["url"].rstrip("/")
        for template, item in spec["paths"].items():
            for method in METHODS:
                if method in item:
                    names = re.findall(r'"?(\b[a-z_]{2,30})"?:', json.dumps(item[method]))
                    found.append((method.upper(), base + template, sorted(set(names))))
    return found


OPERATIONS = operations()
# Names the specs use, so random bodies and queries reach past the first check now and then.
NAMES = sorted({name for _, _, names in OPERATIONS for name in names})

segments = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.sampled_from(["1", "0", "-1", "2147483648", "default", "..", "%2e%2e", "null", "1.5", "x" * 300]),
    st.text(max_size=12).map(lambda text: quote(text, safe="")),
)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=40),
    st.sampled_from(["9999-12-31 23:59:59", "0000-00-00", "1d", "999999999999d", "*", "/v1/*", "default", "../etc"]),
)  # fmt: skip
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.one_of(st.sampled_from(NAMES), st.text(max_size=8)), children, max_size=5)
    ),
    max_leaves=12,
)
bodies = st.one_of(
    st.none(),
    json_values.map(lambda value: json.dumps(value).encode()),
    st.binary(max_size=64),
    st.sampled_from([b'{"name": "\\ud800", "person_id": 1}', b"[" * 3000, b'{"a": 1e999}', b"NaN", b"\xff\xfe",
                     b'{"kind": "delay", "delay_ms": 300000}', b'{"fixtures": "/etc"}', b'{"advance": "1s"}']),
)  # fmt: skip
query_values = st.one_of(
    st.text(max_size=20),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.lists(st.integers(min_value=-5, max_value=10**6).map(str), max_size=5).map(",".join),
)
queries = st.dictionaries(st.one_of(st.sampled_from(NAMES), st.text(max_size=6)), query_values, max_size=4)
header_text = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40)
headers = st.dictionaries(
    st.sampled_from(["accept", "accept-encoding", "cache-control", "if-none-match", "x-request-id", "origin",
                     "content-encoding", "range", "x-forwarded-for"]),
    header_text, max_size=3,
)  # fmt: skip
content_types = st.sampled_from(["application/json", "application/json; charset=latin-1", "text/plain", "",
                                 "application/x-www-form-urlencoded", "multipart/form-data", "application/xml",
                                 "application/merge-patch+json", "*/*"])  # fmt: skip


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    method, template, _ = draw(st.sampled_from(OPERATIONS))
    method = draw(st.one_of(st.just(method), st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"])))
    path = re.sub(r"\{[^}]+\}", lambda _: draw(segments) or "x", template)
    chosen_headers = {**draw(headers), "x-api-token": TOKEN}
    body = draw(bodies)
    if body is not None:
        chosen_headers["content-type"] = draw(content_types)
    return {"method": method, "url": path, "params": draw(queries), "headers": chosen_headers, "content": body}


@pytest.fixture(scope="module")
def hostile() -> Iterator[TestClient]:
    with create_app(Settings(validate_responses=True)).test_client(raise_server_exceptions=False) as client:
        yield client


def settle(client: TestClient) -> None:
    """Undo what a random control-plane call may have put in force for the next requests (faults answer 5xx on
    purpose, rate limits 429, a token-scoped fault delays)."""
    client.delete("/__mock__/faults")
    client.put("/__mock__/rate-limit", json={"limit": 0})
    client.post("/__mock__/clock", json={"resume": True})


def assert_answer(request: dict[str, Any], response: Any) -> None:
    assert response.status_code < 500, (request, response.status_code, response.text[:500])
    if response.status_code >= 400 and request["method"] not in ("HEAD",):
        body = response.json()
        assert body["success"] is False and isinstance(body["error"], str) and body["error"], body
        assert body["data"] is None and body["additional_data"] is None, body
        assert response.headers["content-type"].startswith("application/json")


def assert_tenant_readable(client: TestClient) -> None:
    auth = {"x-api-token": TOKEN}
    listed = client.get("/v1/deals", headers=auth, params={"limit": 100})
    assert listed.status_code == 200, listed.text[:500]
    assert client.get(f"/__mock__/tenants/{TOKEN}/state").status_code == 200
    journal = client.get("/__mock__/requests", params={"token": TOKEN, "limit": 5})
    assert journal.status_code == 200 and journal.json(), journal.text[:500]
    assert client.get("/__mock__/requests").status_code == 200


@settings(max_examples=100, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])  # fmt: skip
@given(request=requests())
def test_no_hostile_request_gets_a_5xx_or_leaves_the_tenant_unreadable(
    hostile: TestClient, request: dict[str, Any]
) -> None:
    try:
        assert_answer(request, hostile.request(**request))
    finally:
        if request["url"].startswith("/__mock__"):
            settle(hostile)
    assert_tenant_readable(hostile)
