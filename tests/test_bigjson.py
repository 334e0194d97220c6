"""Big bodies parsed in a child process: the same value and the same refusals as `limits.loads`, in small frames."""

from __future__ import annotations

import asyncio
import io
import json
import re
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mock_server.app import create_app
from mock_server.http import bigjson, limits, validation
from mock_server.settings import Settings

WAIT = 60  # seconds; generous, the events below come at once


@pytest.fixture
def small_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Split every container of more than a few values, and send runs of at most three items."""
    monkeypatch.setattr(bigjson, "SPLIT_NODES", 4)
    monkeypatch.setattr(bigjson, "RUN_ITEMS", 3)


def answer(raw: bytes, syntax: int = bigjson.JSON_TEXT) -> bytes:
    """What the child writes for `raw`, run in this process."""
    start = bigjson._START.pack(
        len(raw), bigjson.SPLIT_DEPTH, bigjson.SPLIT_NODES, bigjson.RUN_ITEMS, bigjson.RUN_BYTES, syntax
    )
    out = io.BytesIO()
    bigjson.child_main(io.BytesIO(start + raw), out)
    return out.getvalue()


def in_process(raw: bytes, syntax: int = bigjson.JSON_TEXT) -> Any:
    return bigjson.rebuild(io.BytesIO(answer(raw, syntax)), most=4 * len(raw) + limits.MB)


def kinds(raw: bytes) -> list[bytes]:
    return [kind for kind, _codec, _payload in bigjson._frames(io.BytesIO(answer(raw)), most=len(raw) * 4 + 1024)]


def same(left: Any, right: Any) -> bool:
    """Equal, with every dict's keys in the same order and every number of the same type."""
    return json.dumps(left) == json.dumps(right) and _types(left) == _types(right)


def _types(value: Any) -> list[str]:
    found: list[str] = []
    stack = [value]
    while stack:
        current = stack.pop()
        found.append(type(current).__name__)
        if isinstance(current, dict):
            found.extend(current)
            stack.extend(current.values())
        elif isinstance(current, list):
            stack.extend(current)
    return found


BODIES = [
    b"5",
    b"-0.0",
    b'"caf\\u00e9 \xe2\x82\xac \\ud83d\\ude00"',
    b"null",
    b"[]",
    b"{}",
    b'{"z": 1, "a": [], "m": {}, "b": [[], {}, [[]]]}',
    b'{"v": 123456789012345678901234567890, "w": -98765432109876543210987654321, "f": 1.5e300}',
    b"[0.1, 2.5, -1e-300, 18446744073709551615, 18446744073709551616, 9223372036854775807]",
    b'{"deep": ' + b"[" * (limits.MAX_JSON_DEPTH - 1) + b"]" * (limits.MAX_JSON_DEPTH - 1) + b"}",
    b'{"dup": 1, "other": 2, "dup": 3}',
]


def big_lists() -> bytes:
    records = {
        "deals": [
            {"id": i, "name": f"D\u00e9al {i}", "value": i * 1.25, "tags": [str(i)] * (i % 3)} for i in range(40)
        ],
        "big": [10**25 + i for i in range(7)],
        "by_id": {f"k{i}": {"n": i} for i in range(12)},
        "empty": [],
    }
    return json.dumps({"records": records, "meta": {"version": 2}}, ensure_ascii=False).encode()


@pytest.mark.parametrize("raw", [*BODIES, big_lists()])
def test_a_child_parse_gives_what_the_parser_gives(raw: bytes) -> None:
    assert same(bigjson.loads(raw), limits.loads(raw))


def test_a_file_is_streamed_to_the_child_and_parsed_as_its_bytes_are(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bigjson, "FILE_PIECE", 7)  # many pieces, the last one short
    path = tmp_path / "records.json"
    path.write_bytes(big_lists())
    assert same(bigjson.loads(path), limits.loads(big_lists()))
    path.write_bytes(b'{"records": [1, 2,')
    with pytest.raises(ValueError) as refused:
        bigjson.loads(path)
    with pytest.raises(ValueError) as expected:
        limits.loads(b'{"records": [1, 2,')
    assert str(refused.value) == str(expected.value)


def test_yaml_comes_back_as_the_yaml_parser_reads_it(tmp_path: Path, small_runs: None) -> None:
    records = json.loads(big_lists())
    text = yaml.safe_dump(records, allow_unicode=True).encode()
    assert same(in_process(text, bigjson.YAML_TEXT), yaml.safe_load(text))
    path = tmp_path / "records.yaml"
    path.write_bytes(text)
    assert same(bigjson.loads(path, bigjson.YAML_TEXT), yaml.safe_load(text))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"- {id: 1, add_time: 2024-01-01 09:00:00}\n", bigjson.NOT_JSON),  # a timestamp
        (b"- {id: 1, due: 2024-01-01}\n", bigjson.NOT_JSON),  # a date
        (b"{1: one}\n", bigjson.NOT_JSON),  # a key that is not a string
        (b"- [unclosed\n", "expected ',' or ']'"),
    ],
)
def test_yaml_that_json_cannot_carry_or_that_does_not_parse_is_refused(text: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        in_process(text, bigjson.YAML_TEXT)


@pytest.mark.parametrize("raw", [*BODIES, big_lists()])
def test_split_into_small_runs_the_value_is_the_same(raw: bytes, small_runs: None) -> None:
    assert same(in_process(raw), limits.loads(raw))


def test_big_lists_go_in_many_frames_of_a_few_items(small_runs: None) -> None:
    raw = big_lists()
    sent = kinds(raw)
    assert sent[-1] == bigjson.END
    assert sent.count(bigjson.EXTEND) >= 40 // 3 and sent.count(bigjson.ITEMS) >= 12 // 3
    assert bigjson.VALUE not in sent
    assert same(bigjson.loads(raw), limits.loads(raw))  # the child takes the small runs from the parent


def test_a_run_whose_text_is_too_long_is_halved_until_it_fits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bigjson, "SPLIT_NODES", 4)
    monkeypatch.setattr(bigjson, "RUN_BYTES", 100)
    raw = json.dumps({"records": {"notes": ["\u00e9" * 30 + str(i) for i in range(10)] + ["short"] * 8}}).encode()
    sent = kinds(raw)
    assert sent.count(bigjson.EXTEND) > 10  # a note and a half per 100 bytes, the short ones together
    assert same(in_process(raw), limits.loads(raw))


def test_a_small_value_goes_in_one_frame() -> None:
    assert kinds(b'{"a": [1, 2, 3]}') == [bigjson.VALUE, bigjson.END]


REFUSED = [
    b"\xff\xfe",
    b"NaN",
    b"[1, -Infinity]",
    b'{"a": 1e999}',
    b"[" * (limits.MAX_JSON_DEPTH + 1) + b"]" * (limits.MAX_JSON_DEPTH + 1),
    b'{"a": {"b": ["\\ud800"]}}',
    b'{"n": ' + b"9" * (limits.MAX_INT_DIGITS + 1) + b"}",
    b"[1, 2",
    b'{"a" 1}',
    b"",
]


def refusal(raw: bytes) -> str:
    with pytest.raises(ValueError) as error:
        limits.loads(raw)
    return str(error.value)


@pytest.mark.parametrize("raw", REFUSED)
def test_a_refusal_comes_back_with_the_same_message(raw: bytes) -> None:
    message = refusal(raw)
    with pytest.raises(ValueError) as error:
        bigjson.loads(raw)
    assert str(error.value) == message


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(exclude_categories=())),
    lambda inner: st.lists(inner, max_size=8) | st.dictionaries(st.text(max_size=5), inner, max_size=8),
    max_leaves=60,
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(value=json_values, escaped=st.booleans())
def test_any_json_value_comes_back_as_the_parser_reads_it(value: Any, escaped: bool, small_runs: None) -> None:
    # Escaped, a lone surrogate is a `\ud800` the parser refuses by name; unescaped, bytes that are not UTF-8.
    raw = json.dumps(value, ensure_ascii=escaped).encode("utf-8", "surrogatepass")
    try:
        expected = limits.loads(raw)
    except ValueError as error:
        with pytest.raises(ValueError) as refused:
            in_process(raw)
        assert str(refused.value) == str(error)
        return
    assert same(in_process(raw), expected)


# --- a child that fails ----------------------------------------------------------------------------------------


def test_an_answer_that_breaks_off_is_an_error_not_a_value() -> None:
    whole = answer(big_lists())
    with pytest.raises(bigjson.ParseFailed, match="ended before"):
        bigjson.rebuild(io.BytesIO(whole[:-6]), most=len(whole))  # without the end frame
    with pytest.raises(bigjson.ParseFailed, match="within a frame"):
        bigjson.rebuild(io.BytesIO(whole[:-10]), most=len(whole))


def test_a_child_that_dies_is_an_error_naming_its_exit(monkeypatch: pytest.MonkeyPatch) -> None:
    crash = "import sys; sys.stdin.buffer.read(); sys.exit(3)"
    monkeypatch.setattr(bigjson, "child_command", lambda: [sys.executable, "-c", crash])
    with pytest.raises(bigjson.ParseFailed, match="exit code 3"):
        bigjson.loads(b"[1, 2, 3]")


# A child that reads the text, sends a byte of a frame and then waits forever.
HANG = (
    "import sys, threading; sys.stdin.buffer.read(); sys.stdout.write('x'); sys.stdout.flush(); "
    "threading.Event().wait()"
)


def test_a_child_that_never_answers_is_stopped_and_reaped(monkeypatch: pytest.MonkeyPatch) -> None:
    started = threading.Event()
    hang = HANG
    monkeypatch.setattr(bigjson, "child_command", lambda: (started.set(), [sys.executable, "-c", hang])[1])
    parse = bigjson.ChildParse(b"[1]")
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            parse.run()
        except bigjson.ParseFailed as error:
            outcome.append(error)

    worker = threading.Thread(target=run)
    worker.start()
    assert started.wait(WAIT)
    parse.stop()
    worker.join(WAIT)
    assert not worker.is_alive()
    assert "stopped" in str(outcome[0])
    assert parse._process is not None and parse._process.returncode is not None


def test_a_cancelled_parse_ends_its_child(monkeypatch: pytest.MonkeyPatch) -> None:
    hang = HANG
    spawned = threading.Event()
    monkeypatch.setattr(bigjson, "child_command", lambda: (spawned.set(), [sys.executable, "-c", hang])[1])
    made: list[bigjson.ChildParse] = []

    class Watched(bigjson.ChildParse):
        def __init__(self, raw: bytes) -> None:
            super().__init__(raw)
            made.append(self)

    monkeypatch.setattr(bigjson, "ChildParse", Watched)

    async def scenario() -> None:
        task = asyncio.create_task(bigjson.loads_off_loop(b"[1]"))
        assert await asyncio.to_thread(spawned.wait, WAIT)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())  # asyncio.run waits for the worker thread, which waits for the child
    process = made[0]._process
    assert process is not None and process.returncode is not None


# --- served ----------------------------------------------------------------------------------------------------


@pytest.fixture
def child_parsed(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bytes]]:
    """Every body over a few hundred bytes goes through the child; yields the bodies it took."""
    taken: list[bytes] = []
    real = bigjson.loads_off_loop

    async def watched(raw: bytes) -> Any:
        taken.append(raw)
        return await real(raw)

    monkeypatch.setattr(validation, "THREADED_PARSE_BYTES", 0)
    monkeypatch.setattr(validation, "CHILD_PARSE_BYTES", 256)
    monkeypatch.setattr(bigjson, "loads_off_loop", watched)
    monkeypatch.setattr(bigjson, "SPLIT_NODES", 50)
    monkeypatch.setattr(bigjson, "RUN_ITEMS", 5)
    yield taken


def test_a_served_state_import_parsed_in_the_child_reads_back(child_parsed: list[bytes]) -> None:
    app = create_app(Settings())

    async def scenario() -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://mock") as client:
            state = (await client.get("/__mock__/tenants/source/state")).json()
            deal = state["records"]["deals"][0]
            deal["name"] = "Imported \u00e9t\u00e9 \U0001f600"
            put = await client.put("/__mock__/tenants/target/state", json=state)
            assert put.status_code == 200, put.text
            assert len(child_parsed) == 1
            read = await client.get(f"/v1/deals/{deal['id']}", headers={"x-api-token": "target"})
            assert read.json()["data"]["name"] == "Imported \u00e9t\u00e9 \U0001f600"
            again = (await client.get("/__mock__/tenants/target/state")).json()
            assert again["records"] == state["records"]

    asyncio.run(scenario())


def test_a_served_body_the_child_refuses_is_a_400_naming_the_problem(child_parsed: list[bytes]) -> None:
    app = create_app(Settings())

    async def scenario() -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://mock") as client:
            body = b'{"records": {"deals": [' + b'{"name": "x"}, ' * 40 + b'{"name": "\\ud800"}]}}'
            put = await client.put(
                "/__mock__/tenants/target/state", content=body, headers={"content-type": "application/json"}
            )
            assert put.status_code == 400, put.text
            assert put.json()["success"] is False
            assert "lone surrogate" in put.json()["error"]
            assert "records.deals.40.name" in put.json()["error"]
            assert len(child_parsed) == 1

    asyncio.run(scenario())
