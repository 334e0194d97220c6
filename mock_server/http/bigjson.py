"""A big JSON body parsed in a child process and handed back in small frames, so no call holds the lock for long.

orjson parses 500 MB of text in one call of seconds that holds the interpreter lock: run in a worker thread it
still keeps the event loop from answering anyone. Here a child process (`python -m mock_server.http.bigjson`,
with its own interpreter lock) runs `limits.loads` on the bytes and sends the value back as a stream of frames,
each a small JSON document that says how to rebuild a piece of it: open a dict or a list inside one already
open, add a run of keys and values to a dict, extend a list by a run of items. The parent decodes frame after
frame (each a call of a millisecond or so) and reads the pipe between them with the lock released, so the loop
gets its turn all along. A body the parser refuses comes back as the same ValueError, with the same message.

Only dicts and lists within `SPLIT_DEPTH` levels of the top, and only those of more than `SPLIT_NODES` values,
are opened and sent a run at a time; anything smaller goes whole inside a run.

A frame on the pipe is its payload's length (4 bytes, big-endian), its kind (1 byte) and how its payload is
decoded (1 byte: `o` orjson, `j` the standard module, for runs holding an integer past 64 bits), then the payload.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import orjson
import yaml

from mock_server.data.bulk import no_collection
from mock_server.http import limits

# Containers this many levels below the top (the top being level 0) go whole, however big.
SPLIT_DEPTH = 3
# A container of more values than this (counting everything nested in it) is opened and sent a run at a time.
SPLIT_NODES = 20_000
# A run ends after this many items, or once its encoded items pass `RUN_BYTES`. Decoding a run makes its objects
# with the GIL held: 2,000 deals' activities took 10-12 ms, 500 take about 3.
RUN_ITEMS = 500
RUN_BYTES = 128 * 1024
# The most text the child accepts (the parent's own limit on an import is far below), and the longest it may take.
MAX_INPUT_BYTES = 4 * 1024 * limits.MB
MAX_SECONDS = 600.0

_HEADER = struct.Struct(">Icc")
# What the parent sends first: the length of the text, the splitting settings below (so a test's apply), and its
# syntax (`JSON_TEXT` or `YAML_TEXT`).
_START = struct.Struct(">QIIIIB")
JSON_TEXT = 0
YAML_TEXT = 1
# A YAML text that the child refuses with this message holds values JSON has no word for (a date, a timestamp, a
# key that is not a string): the caller reads it itself, to name them as it always has.
NOT_JSON = "the YAML holds a value JSON cannot carry"

# Frame kinds.
VALUE = b"V"  # payload: the whole value
OPEN_DICT = b"D"  # payload: [the id of the container it goes in (null at the top), its key there (null in a list)]
OPEN_LIST = b"L"
ITEMS = b"K"  # payload: [the id of an open dict, [key, value, key, value, ...]]
EXTEND = b"E"  # payload: [the id of an open list, [item, ...]]
REFUSED = b"X"  # payload: the ValueError's message, UTF-8
FAILED = b"F"  # payload: what went wrong in the child, UTF-8
END = b"Z"  # no payload: the value is complete

ORJSON = b"o"
STANDARD = b"j"


class ParseFailed(RuntimeError):
    """The child process ended without an answer, or answered with something that is not one."""


# --- the child ----------------------------------------------------------------------------------------------------


def _encoded(value: Any) -> tuple[bytes, bool]:
    """`value` as JSON text, and whether orjson could not encode it (an integer past 64 bits)."""
    try:
        return orjson.dumps(value), False
    except orjson.JSONEncodeError:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        return text.encode("utf-8"), True


def _bigger_than(value: Any, limit: int) -> bool:
    """Whether `value` holds more than `limit` values, counted level by level and only until the count passes."""
    count, level = 1, [value]
    while level:
        below: list[Any] = []
        for current in level:
            kind = type(current)
            if kind is dict or kind is list:
                count += len(current)
                if count > limit:
                    return True
                below.extend(current.values() if kind is dict else current)
        level = below
    return False


class _Sender:
    """Writes the frames that rebuild a value."""

    def __init__(self, out: IO[bytes], split_depth: int, split_nodes: int, run_items: int, run_bytes: int) -> None:
        self.out = out
        self.opened = 0
        self.split_depth, self.split_nodes = split_depth, split_nodes
        self.run_items, self.run_bytes = run_items, run_bytes

    def _splits(self, value: Any, depth: int) -> bool:
        return type(value) in (dict, list) and depth < self.split_depth and _bigger_than(value, self.split_nodes)

    def frame(self, kind: bytes, payload: bytes = b"", standard: bool = False) -> None:
        self.out.write(_HEADER.pack(len(payload), kind, STANDARD if standard else ORJSON))
        self.out.write(payload)

    def send(self, value: Any) -> None:
        if self._splits(value, 0):
            self._open(value, None, None, 0)
        else:
            payload, standard = _encoded(value)
            self.frame(VALUE, payload, standard)
        self.frame(END)

    def _open(self, container: Any, parent: int | None, key: str | None, depth: int) -> None:
        is_dict = type(container) is dict
        where = orjson.dumps([parent, key])
        self.frame(OPEN_DICT if is_dict else OPEN_LIST, where)
        own = self.opened
        self.opened += 1
        run: list[bytes] = []
        size, standard = 0, False

        def flush() -> None:
            nonlocal size, standard
            if run:
                payload = b"[%d,[%s]]" % (own, b",".join(run))
                self.frame(ITEMS if is_dict else EXTEND, payload, standard)
                run.clear()
                size, standard = 0, False

        if not is_dict and depth + 1 >= self.split_depth:  # items that go whole: encoded a run per call
            self._runs(container, own, 0, len(container))
            return
        pairs = container.items() if is_dict else ((None, item) for item in container)
        for name, item in pairs:
            if self._splits(item, depth + 1):
                flush()
                self._open(item, own, name, depth + 1)
                continue
            text, fallback = _encoded(item)
            if is_dict:
                run.append(orjson.dumps(name))
            run.append(text)
            size += len(text)
            standard = standard or fallback
            if len(run) >= (2 * self.run_items if is_dict else self.run_items) or size >= self.run_bytes:
                flush()
        flush()

    def _runs(self, items: list[Any], own: int, start: int, stop: int) -> None:
        """`items[start:stop]` as EXTEND frames of at most `run_items` items, each encoded in one call; a run whose
        text passes `run_bytes` is halved until it fits or holds a single item."""
        for first in range(start, stop, self.run_items):
            last = min(first + self.run_items, stop)
            text, standard = _encoded(items[first:last])
            if len(text) > self.run_bytes and last - first > 1:
                middle = (first + last) // 2
                self._runs(items, own, first, middle)
                self._runs(items, own, middle, last)
            else:
                self.frame(EXTEND, b"[%d,%s]" % (own, text), standard)


def _read_input(source: IO[bytes]) -> tuple[bytes, tuple[int, int, int, int], int]:
    header = source.read(_START.size)
    if len(header) != _START.size:
        raise ParseFailed("no length came before the text")
    length, *settings, syntax = _START.unpack(header)
    if length > MAX_INPUT_BYTES:
        raise ParseFailed(f"{length} bytes of text is more than the {MAX_INPUT_BYTES} this parser takes")
    raw = source.read(length)
    if len(raw) != length:
        raise ParseFailed(f"the text ended after {len(raw)} of {length} bytes")
    split_depth, split_nodes, run_items, run_bytes = settings
    return raw, (split_depth, split_nodes, max(run_items, 1), max(run_bytes, 1)), syntax


def _yaml_loads(raw: bytes) -> Any:
    """YAML text as values JSON can carry; a ValueError for text the YAML parser refuses, or (`NOT_JSON`) for
    values JSON has no word for."""
    try:
        value = yaml.load(raw, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as error:
        raise ValueError(str(error)) from None
    level = [value]
    while level:
        below: list[Any] = []
        for current in level:
            kind = type(current)
            if kind is dict:
                if any(type(key) is not str for key in current):
                    raise ValueError(NOT_JSON)
                below.extend(current.values())
            elif kind is list:
                below.extend(current)
            elif kind not in (str, int, float, bool) and current is not None:
                raise ValueError(NOT_JSON)
        level = below
    return value


def child_main(source: IO[bytes], out: IO[bytes]) -> None:
    """Read the length-prefixed text from `source`, parse it and write the frames that rebuild it to `out`."""
    sender = _Sender(out, SPLIT_DEPTH, SPLIT_NODES, RUN_ITEMS, RUN_BYTES)
    try:
        raw, settings, syntax = _read_input(source)
        sender = _Sender(out, *settings)
        try:
            value = _yaml_loads(raw) if syntax == YAML_TEXT else limits.loads(raw)
        except ValueError as error:
            sender.frame(REFUSED, str(error).encode("utf-8", "backslashreplace"))
            return
        del raw
        sender.send(value)
    except Exception as error:  # any failure becomes a frame the parent raises
        sender.frame(FAILED, f"{type(error).__name__}: {error}".encode("utf-8", "backslashreplace"))
    finally:
        out.flush()


# --- the parent ---------------------------------------------------------------------------------------------------


def _decoded(payload: bytes, codec: bytes) -> Any:
    return json.loads(payload) if codec == STANDARD else orjson.loads(payload)


class _Builder:
    """Rebuilds a value from its frames."""

    def __init__(self) -> None:
        self.containers: list[Any] = []
        self.value: Any = None
        self.started = False

    def take(self, kind: bytes, payload: Any) -> None:
        if kind == VALUE:
            self.value, self.started = payload, True
        elif kind in (OPEN_DICT, OPEN_LIST):
            parent, key = payload
            new: Any = {} if kind == OPEN_DICT else []
            if parent is None:
                self.value, self.started = new, True
            elif type(self.containers[parent]) is dict:
                self.containers[parent][key] = new
            else:
                self.containers[parent].append(new)
            self.containers.append(new)
        elif kind == ITEMS:
            own, flat = payload
            pairs = iter(flat)
            self.containers[own].update(zip(pairs, pairs, strict=True))
        elif kind == EXTEND:
            own, items = payload
            self.containers[own].extend(items)
        else:
            raise ParseFailed(f"the parser sent a frame of unknown kind {kind!r}")


def _frames(stream: IO[bytes], most: int) -> Iterator[tuple[bytes, bytes, bytes]]:
    """(kind, codec, payload) of each frame on `stream`, until it ends; refuses a frame longer than `most`."""
    while True:
        header = stream.read(_HEADER.size)
        if not header:
            return
        if len(header) != _HEADER.size:
            raise ParseFailed("the parser's answer broke off within a frame")
        length, kind, codec = _HEADER.unpack(header)
        if length > most:
            raise ParseFailed(f"the parser sent a frame of {length} bytes, more than the {most} expected")
        payload = stream.read(length)
        if len(payload) != length:
            raise ParseFailed("the parser's answer broke off within a frame")
        yield kind, codec, payload


def rebuild(stream: IO[bytes], most: int) -> Any:
    """The value the frames on `stream` describe; a ValueError if the text was refused, ParseFailed if the frames
    break off or say the child failed, or a frame is longer than `most` bytes."""
    builder = _Builder()
    for kind, codec, payload in _frames(stream, most):
        if kind == END:
            if not builder.started:
                raise ParseFailed("the parser ended its answer before sending a value")
            return builder.value
        if kind == REFUSED:
            raise ValueError(payload.decode("utf-8"))
        if kind == FAILED:
            raise ParseFailed(f"the parser failed: {payload.decode('utf-8')}")
        builder.take(kind, _decoded(payload, codec))
    raise ParseFailed("the parser process ended before it finished its answer")


def _child_env() -> dict[str, str]:
    """The environment, with this package's own copy first on the path, so the child runs the same code."""
    root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(part for part in (root, env.get("PYTHONPATH")) if part)
    return env


class ChildParse:
    """One parse of `raw` in a child process; `run` (blocking, in a worker thread) returns the value, `stop`
    (from any thread) ends the child, after which `run` raises ParseFailed."""

    def __init__(self, raw: bytes | Path, syntax: int = JSON_TEXT) -> None:
        """`raw`: the text, or a file that holds it (streamed to the child, never held here whole: freeing the
        385 MB of a big fixture file held the interpreter lock for 40 ms). `syntax`: JSON, or YAML (for a fixture
        file: the YAML parser built a 5 MB file's values in calls of up to 180 ms holding the lock)."""
        self.raw = raw
        self.syntax = syntax
        self.size = raw.stat().st_size if isinstance(raw, Path) else len(raw)
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._stopped = False

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            if self._process is not None and self._process.poll() is None:
                self._process.kill()

    def run(self) -> Any:
        start = _START.pack(self.size, SPLIT_DEPTH, SPLIT_NODES, RUN_ITEMS, RUN_BYTES, self.syntax)
        with self._lock:
            if self._stopped:
                raise ParseFailed("the parse was stopped before it began")
            process = self._process = subprocess.Popen(
                child_command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=_child_env()
            )
        assert process.stdin is not None and process.stdout is not None
        writer = threading.Thread(target=_write, args=(process.stdin, start, self.raw, self.size), daemon=True)
        watchdog = threading.Timer(MAX_SECONDS, self.stop)
        watchdog.daemon = True
        try:
            watchdog.start()
            writer.start()
            with no_collection():  # millions of new dicts and lists would set the cyclic collector off again and again
                return rebuild(process.stdout, most=4 * self.size + limits.MB)
        except ParseFailed as error:
            stopped = self._stopped  # by the caller, or by the watchdog
            self.stop()
            code = process.wait()
            how = "it was stopped" if stopped else f"exit code {code}"
            raise ParseFailed(f"{error} ({how})") from None
        finally:
            watchdog.cancel()
            self.stop()  # a child that has not answered in full is ended, not waited for
            process.stdout.close()
            if writer.is_alive():
                writer.join()
            process.wait()


def child_command() -> list[str]:
    return [sys.executable, "-m", __name__]


# A file's text goes to the child this much at a time.
FILE_PIECE = 1024 * 1024


def _write(stdin: IO[bytes], start: bytes, raw: bytes | Path, size: int) -> None:
    try:
        stdin.write(start)
        if isinstance(raw, bytes):
            stdin.write(raw)
            return
        with raw.open("rb") as source:  # no more than the length announced, even if the file grew meanwhile
            left = size
            while left and (piece := source.read(min(left, FILE_PIECE))):
                stdin.write(piece)
                left -= len(piece)
    except OSError:  # the child ended early (stopped, or failed): the reader says why
        pass
    finally:
        with contextlib.suppress(OSError):
            stdin.close()


def loads(raw: bytes | Path, syntax: int = JSON_TEXT) -> Any:
    """`limits.loads(raw)` (of the file's bytes, for a path), parsed in a child process: the same value, or a
    ValueError with the same message. With `YAML_TEXT`, the YAML's values, or a ValueError (`NOT_JSON` for values
    JSON cannot carry)."""
    return ChildParse(raw, syntax).run()


async def loads_off_loop(raw: bytes) -> Any:
    """`loads(raw)` in a worker thread; a cancelled caller ends the child at once."""
    parse = ChildParse(raw)
    try:
        return await asyncio.to_thread(parse.run)
    finally:
        parse.stop()


if __name__ == "__main__":
    # The child's values live only until they are sent: the cyclic collector would walk them again and again.
    gc.disable()
    # The server's threads come first: on two cores, a parse that took a core from the thread holding the server's
    # interpreter lock made every other request wait for that thread's next time slice.
    if hasattr(os, "nice"):
        os.nice(10)
    child_main(sys.stdin.buffer, sys.stdout.buffer)
