"""Which operations of spec/openapi.yaml a contract run tests, and whether they leave the stateful phase anything."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

import yaml

from mock_server import SPEC_PATH
from mock_server.data.fixtures import SAFE_LOADER

METHODS = ("get", "put", "post", "delete", "patch")
# The extension that marks an operation the reference does not have (its value names the public source).
BEYOND_REFERENCE = "x-beyond-reference"


class SelectionError(ValueError):
    """A selection naming an operation or tag the spec does not have, or choosing nothing."""


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    tags: frozenset[str]
    beyond_reference: bool = False


@cache
def spec_operations() -> tuple[Operation, ...]:
    spec = yaml.load(SPEC_PATH.read_text(encoding="utf-8"), Loader=SAFE_LOADER)
    return tuple(
        Operation(
            operation["operationId"],
            method.upper(),
            frozenset(operation.get("tags", ())),
            BEYOND_REFERENCE in operation,
        )
        for item in spec["paths"].values()
        for method, operation in item.items()
        if method in METHODS
    )


def _unknown(kind: str, option: str, asked: Iterable[str], known: Iterable[str]) -> None:
    missing = sorted(set(asked) - set(known))
    if missing:
        raise SelectionError(
            f"{option}: unknown {kind} {', '.join(missing)}; the spec has: {', '.join(sorted(set(known)))}"
        )


def select(
    *,
    include_operation: Iterable[str] = (),
    include_tag: Iterable[str] = (),
    exclude_operation: Iterable[str] = (),
    read_only: bool = False,
    reference_only: bool = False,
) -> list[str]:
    """The operationIds chosen: those named or tagged (all when neither is given), minus the excluded ones,
    only GETs when read-only, and only the reference's own operations (none marked `x-beyond-reference`) when
    reference-only. Unknown names are an error that lists the known ones."""
    operations = spec_operations()
    ids = [operation.operation_id for operation in operations]
    _unknown("operationId", "--include-operation", include_operation, ids)
    _unknown("operationId", "--exclude-operation", exclude_operation, ids)
    _unknown("tag", "--include-tag", include_tag, [tag for operation in operations for tag in operation.tags])
    named, tagged, excluded = set(include_operation), set(include_tag), set(exclude_operation)
    chosen = [
        operation.operation_id
        for operation in operations
        if (not (named or tagged) or operation.operation_id in named or operation.tags & tagged)
        and operation.operation_id not in excluded
        and (not read_only or operation.method == "GET")
        and not (reference_only and operation.beyond_reference)
    ]
    if not chosen:
        raise SelectionError(
            "the selection leaves no operation to check"
            + (" (read-only: GET only)" * read_only)
            + (" (reference-only: no operation marked x-beyond-reference)" * reference_only)
        )
    return chosen


def has_links(operation_ids: Iterable[str]) -> bool:
    """Whether Schemathesis finds links (written in the spec or inferred) among these operations, that is whether
    its stateful phase has anything to do."""
    import schemathesis
    from schemathesis.core.errors import NoLinksFound

    schema = schemathesis.openapi.from_path(str(SPEC_PATH)).include(operation_id=list(operation_ids))
    try:
        schema.as_state_machine()()
    except NoLinksFound:
        return False
    return True
