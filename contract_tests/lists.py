"""Fintesk checks of paginated lists: a page agrees with itself, with the request and with the collection."""

from __future__ import annotations

from typing import Any

import schemathesis
from schemathesis import Case, CheckContext, Response

from contract_tests.checks import auth_headers, body_of, items_of

# The reference: `limit` is 100 when not given and at most 500.
DEFAULT_LIMIT = 100
MAX_LIMIT = 500


def page_of(response: Response) -> tuple[dict[str, Any], list[Any]] | None:
    """The pagination block and the items of a successful list answer, or None for any other answer."""
    body = body_of(response)
    if not (200 <= response.status_code < 300) or not isinstance(body, dict):
        return None
    pagination = (body.get("additional_data") or {}).get("pagination")
    items = items_of(body.get("data"))
    if not isinstance(pagination, dict) or items is None:
        return None
    return pagination, items


def takes_paging(case: Case[Any]) -> bool:
    """Whether the operation lets the caller choose the page (a list that always answers whole has no say)."""
    return {"start", "limit"} <= {parameter.name for parameter in case.operation.query}


def _asked(case: Case[Any], name: str, default: int) -> int | None:
    value = (case.query or {}).get(name, default)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@schemathesis.check
def fintesk_pagination(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """`more_items_in_collection` and `next_start` agree, and a page holds at most `limit` items."""
    page = page_of(response)
    if page is None:
        return None
    pagination, items = page
    more, next_start = pagination.get("more_items_in_collection"), pagination.get("next_start")
    start, limit = pagination.get("start"), pagination.get("limit")
    if more and next_start is None:
        raise AssertionError("`more_items_in_collection` is true but `next_start` is missing")
    if not more and next_start is not None:
        raise AssertionError(f"`next_start` is {next_start} but `more_items_in_collection` is false")
    if more and isinstance(start, int) and isinstance(limit, int) and next_start != start + limit:
        raise AssertionError(f"`next_start` should be start + limit = {start + limit}, got {next_start}")
    if isinstance(limit, int) and len(items) > limit:
        raise AssertionError(f"The page holds {len(items)} items, more than `limit` {limit}")
    return None


def _peek(case: Case[Any], response: Response, start: int) -> tuple[dict[str, Any], list[Any]] | None:
    """The page of one item at `start` of the same list, asked the way the checked request was."""
    probe = case.operation.Case(
        path_parameters=dict(case.path_parameters or {}), query={**(case.query or {}), "start": start, "limit": 1}
    )
    return page_of(probe.call(headers=auth_headers(response)))


def _changed(case: Case[Any], response: Response, more: bool) -> bool:
    """Whether the collection changed under the check (another worker's write): the same page now says otherwise."""
    again = page_of(case.call(headers=auth_headers(response)))
    return again is not None and bool(again[0].get("more_items_in_collection")) != more


@schemathesis.check
def fintesk_pagination_complete(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """A page tells the truth about its collection. Walking: where a page says no more items follow, the same list
    is empty; where it says more follow, `next_start` is where they begin, none skipped. Comparing: a page of two or
    more items, asked again with limit 1, says more items follow from start + 1."""
    page = page_of(response)
    if page is None or not takes_paging(case):
        return None
    pagination, items = page
    start, more = pagination.get("start"), bool(pagination.get("more_items_in_collection"))
    next_start = pagination.get("next_start") if more else None
    if not isinstance(start, int) or (more and not isinstance(next_start, int)):
        return None  # fintesk_pagination_echo and fintesk_pagination report these
    following = start + len(items)
    if next_start is not None and next_start < following:
        raise AssertionError(f"`next_start` {next_start} points back into this page, which ends at {following}")
    ahead = _peek(case, response, following)
    if ahead is not None:
        if not more and ahead[1] and not _changed(case, response, more):
            raise AssertionError(f"The page says no more items follow, but the list still has records from {following}")
        if next_start == following and not ahead[1] and not _changed(case, response, more):
            raise AssertionError(f"The page says more items follow from {next_start}, but the list is empty there")
        if next_start is not None and next_start > following and ahead[1]:
            raise AssertionError(f"`next_start` is {next_start}, so the records from {following} on would be skipped")
    first = _peek(case, response, start) if len(items) > 1 else None
    if first is not None and first[0].get("limit") == 1:  # a server that ignores limit is fintesk_pagination_echo's
        said = first[0]
        if not said.get("more_items_in_collection") and not _changed(case, response, more):
            raise AssertionError(
                f"This page holds {len(items)} items from start {start}, but the first of them alone "
                "(limit 1) is reported as the last item of the list"
            )
        if said.get("more_items_in_collection") and said.get("next_start") != start + 1:
            raise AssertionError(
                f"Asked from start {start} with limit 1, the list says more items follow but gives "
                f"`next_start` {said.get('next_start')!r}, not {start + 1}"
            )
    return None


@schemathesis.check
def fintesk_pagination_echo(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """`pagination.start` is the requested start and `pagination.limit` the requested limit (default 100, cap 500);
    a request that left the limit at its default is followed by one asking for a single item."""
    page = page_of(response)
    if page is None or not takes_paging(case):
        return None
    pagination, items = page
    start, limit = _asked(case, "start", 0), _asked(case, "limit", DEFAULT_LIMIT)
    if start is not None and pagination.get("start") != start:
        answered = pagination.get("start")
        raise AssertionError(f"`pagination.start` should echo the requested start {start}, got {answered}")
    if limit is not None and pagination.get("limit") != min(limit, MAX_LIMIT):
        expected = min(limit, MAX_LIMIT)
        raise AssertionError(f"`pagination.limit` should be {expected} for a requested limit of {limit}, got "
                             f"{pagination.get('limit')}")  # fmt: skip
    if limit == DEFAULT_LIMIT and start is not None and items:
        single = _peek(case, response, start)
        if single is not None and (single[0].get("limit") != 1 or len(single[1]) > 1):
            raise AssertionError(
                f"Asked for limit 1, the list answers {len(single[1])} items and `pagination.limit` "
                f"{single[0].get('limit')!r}: the limit is ignored"
            )
    return None
