"""Success, list and error bodies in the Fintesk envelope, encoded once to compact JSON."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Protocol

import orjson
from starlette.responses import Response

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


# Items of a long list encoded in one call by `encode_in_pieces` (a few hundred kB of records), and the most items
# a list may have for it to write them one by one instead (the periods of a timeline).
PIECE = 256
FEW = 1024


def encode_in_pieces(body: Any, depth: int) -> bytes:
    """`encode(body)`, for a body too big to encode in one call (a state export, a timeline of every deal).

    orjson holds the GIL for the whole of a call, so a worker thread encoding a 500 MB export at once would stop
    the event loop for as long. Here the dicts and lists of the body's first `depth` levels are written out
    piece by piece (a list of up to `FEW` items item by item), and below them the items of a list `PIECE` at a
    time: the loop gets its turn in between.
    The bytes are those `encode` gives.
    """
    return b"".join(encoded_pieces(body, depth))


def encoded_pieces(body: Any, depth: int) -> list[bytes]:
    """The pieces `encode_in_pieces` joins, in order, for an answer sent as they are (`streamed`): joining
    hundreds of megabytes is itself one call that holds the GIL."""
    out: list[bytes] = []
    try:
        _encode_into(out, body, depth)
    except TypeError:
        return [encode(body)]
    return out


async def streamed(pieces: list[bytes], chunk: int = 1024 * 1024) -> AsyncIterator[bytes]:
    """`pieces` as the chunks of a streamed answer, each about `chunk` bytes: the body is never joined whole,
    and the event loop sends one chunk at a time as the client reads them."""
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


def _encode_into(out: list[bytes], value: Any, depth: int) -> None:
    if isinstance(value, dict) and depth > 0:
        out.append(b"{")
        for number, (key, item) in enumerate(value.items()):
            if not isinstance(key, str):
                raise TypeError("keys are strings")  # as orjson would say
            if number:
                out.append(b",")
            out.append(orjson.dumps(key))
            out.append(b":")
            _encode_into(out, item, depth - 1)
        out.append(b"}")
    elif isinstance(value, list) and depth > 0:
        out.append(b"[")
        if depth > 1 and len(value) <= FEW:
            for number, item in enumerate(value):
                if number:
                    out.append(b",")
                _encode_into(out, item, depth - 1)
        else:
            for start in range(0, len(value), PIECE):
                if start:
                    out.append(b",")
                out.append(orjson.dumps(value[start : start + PIECE])[1:-1])
        out.append(b"]")
    else:
        out.append(orjson.dumps(value))
