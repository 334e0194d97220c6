"""Success, list and error bodies in the Fintesk envelope, encoded once to compact JSON."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from typing import Any, Protocol

import orjson
from starlette.responses import Response, StreamingResponse

from mock_server.domain.collection import Page

ERROR_INFO = "Please check developers' documentation for more information."
JSON = "application/json"


def encode(body: Any) -> bytes:
    """Compact UTF-8 JSON. orjson is ~10x faster on big pages; it refuses integers beyond 64 bits, which a
    client may legitimately send (a custom field value, a channel id), so those bodies take the slow path."""
    try:
        return orjson.dumps(body)
    except TypeError:
        return json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=_source_of).encode()


def _source_of(value: Any) -> Any:
    """For the slow path: the render an encoded fragment of `shared_json` was made from."""
    entry = _ENCODED.get(_FRAGMENTS.get(id(value), -1))
    if entry is None or entry[1] is not value:
        raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")
    return entry[0]


class Derived(Protocol):
    """A kept, shared render and a place to keep what is derived from it alone (see `Deals.render_kept`)."""

    record: dict[str, Any]
    derived: dict[Any, Any]


_UNENCODABLE = object()


def kept_json(renders: Sequence[tuple[Derived, Any]], field: str | None = None) -> list[Any]:
    """Kept renders as JSON encoded once per render (and per value of `field`, set on each to its value now).

    A page of such renders is encoded by joining their bytes instead of encoding every record again. Where
    one cannot be encoded by orjson (an integer beyond 64 bits), the page is plain records, for `encode`'s
    slow path to take whole.
    """

    def record(kept: Derived, value: Any) -> dict[str, Any]:
        return kept.record if field is None else {**kept.record, field: value}

    encoded: list[Any] = []
    for kept, value in renders:
        fragment = kept.derived.get((field, value))
        if fragment is None:
            try:
                fragment = orjson.Fragment(orjson.dumps(record(kept, value)))
            except TypeError:
                fragment = _UNENCODABLE
            kept.derived[(field, value)] = fragment
        if fragment is _UNENCODABLE:
            return [record(kept, value) for kept, value in renders]
        encoded.append(fragment)
    return encoded


# Shared renders (never changed once made) by identity, with their JSON: (the render, kept alive so that its id
# is not reused while it is here, and its encoding). Cleared whole when full.
_ENCODED: dict[int, tuple[Any, Any]] = {}
_FRAGMENTS: dict[int, int] = {}  # id of an encoding in `_ENCODED` -> id of its render
MAX_ENCODED = 4096


def shared_json(render: Any) -> Any:
    """A render that is kept and shared (and so never changed, like a page of search hits), encoded once while it
    is kept: an answer that holds it is encoded by joining its bytes. A render orjson cannot encode stays as it is."""
    entry = _ENCODED.get(id(render))
    if entry is None or entry[0] is not render:
        try:
            fragment: Any = orjson.Fragment(orjson.dumps(render))
        except TypeError:
            fragment = render
        if len(_ENCODED) >= MAX_ENCODED:
            _ENCODED.clear()
            _FRAGMENTS.clear()
        entry = _ENCODED[id(render)] = (render, fragment)
        _FRAGMENTS[id(fragment)] = id(render)
    return entry[1]


def respond(body: Mapping[str, Any], status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(encode(body), status_code=status, media_type=JSON, headers=dict(headers or {}))


def one(
    record: Any,
    *,
    status: int = 200,
    related: Mapping[str, Any] | None = None,
    additional: Mapping[str, Any] | None = None,
) -> Response:
    body: dict[str, Any] = {"success": True, "data": record}
    if additional is not None:
        body["additional_data"] = additional
    if related is not None:
        body["related_objects"] = related
    return respond(body, status)


def page(
    result: Page,
    *,
    related: Mapping[str, Any] | None = None,
    additional: Mapping[str, Any] | None = None,
) -> Response:
    extra = dict(additional or {})
    extra["pagination"] = result.pagination()
    return one(result.items, related=related, additional=extra)


def deleted(ids: int | Sequence[int]) -> Response:
    return one({"id": ids if isinstance(ids, int) else list(ids)})


def error_body(message: str, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "success": False,
        "error": message,
        "error_info": ERROR_INFO,
        "data": None,
        "additional_data": None,
    }
    body.update(extra or {})
    return body


async def streamed(pieces: Iterable[bytes], chunk: int = 1024 * 1024) -> AsyncIterator[bytes]:
    """`pieces` as the chunks of a streamed answer, each about `chunk` bytes: a big body is never joined whole,
    and it is sent a chunk at a time as the client reads it."""
    group: list[bytes] = []
    size = 0
    for piece in pieces:
        group.append(piece)
        size += len(piece)
        if size >= chunk:
            yield b"".join(group)
            group, size = [], 0
    if group:
        yield b"".join(group)


def streamed_list(items: Iterable[Any]) -> StreamingResponse:
    """A success answer whose `data` is `items`, each encoded on its own and the answer streamed (see `streamed`):
    for answers that may hold every record of an account, such as a timeline."""
    pieces = [b'{"success":true,"data":[']
    for number, item in enumerate(items):
        if number:
            pieces.append(b",")
        pieces.append(encode(item))
    pieces.append(b"]}")
    return StreamingResponse(streamed(pieces), media_type=JSON)
