"""Fintesk-specific checks, registered with Schemathesis so plain `schemathesis run` can use them too."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import schemathesis
from schemathesis import Case, CheckContext, Response

# Keys whose value names a record that `related_objects` must then hold, by the kind it names.
REFERENCES = {
    "user_id": "user",
    "creator_user_id": "user",
    "owner_id": "user",
    "person_id": "person",
    "org_id": "organization",
    "deal_id": "deal",
    "stage_id": "stage",
    "pipeline_id": "pipeline",
}
# Fields computed from the clock at read time: equal write and read values are not expected.
VOLATILE = {"age", "rotten_time", "average_time_to_won", "stay_in_pipeline_stages", "average_stage_progress"}
# write operationId -> (read operationId, how the read finds the record)
READS = {
    "addDeal": ("getDeal", "id"),
    "updateDeal": ("getDeal", "id"),
    "addActivity": ("getActivity", "id"),
    "updateActivity": ("getActivity", "id"),
    "addDealField": ("getDealField", "id"),
    "updateDealField": ("getDealField", "id"),
    "addFilter": ("getFilter", "id"),
    "updateFilter": ("getFilter", "id"),
    "addActivityType": ("getActivityTypes", "list"),
    "updateActivityType": ("getActivityTypes", "list"),
    "addDealProduct": ("getDealProducts", "deal_list"),
    "updateDealProduct": ("getDealProducts", "deal_list"),
}
# operationId -> the path parameter naming the one record the answer is about
IDENTITY = {
    "getDeal": "id", "updateDeal": "id", "getActivity": "id", "updateActivity": "id", "getDealField": "id",
    "updateDealField": "id", "deleteDealField": "id", "getFilter": "id", "updateFilter": "id",
    "updateActivityType": "id", "deleteActivityType": "id", "updateDealProduct": "product_attachment_id",
    "deleteDealProduct": "product_attachment_id",
}  # fmt: skip
# delete operationId -> the read by id that must then answer 404
GONE = {"deleteDeals": "getDeal", "deleteActivities": "getActivity", "deleteDealField": "getDealField"}
# create operationId -> the read by id another tenant must not be able to do
ISOLATED = {
    "addDeal": "getDeal",
    "addActivity": "getActivity",
    "addDealField": "getDealField",
    "addFilter": "getFilter",
}
# Body fields a write must take over as given (scalars the service stores unchanged).
ECHOED = {
    "addDeal": ("currency", "expected_close_date", "lost_reason", "origin_id", "channel", "channel_id", "user_id"),
    "updateDeal": ("name", "currency", "expected_close_date", "lost_reason", "origin_id", "channel", "channel_id"),
    "addActivity": ("subject", "due_date", "due_time", "duration", "note", "done"),
    "updateActivity": ("subject", "due_date", "due_time", "duration", "note", "done"),
    "addActivityType": ("name", "icon_key", "color", "order_nbr"),
    "updateActivityType": ("name", "icon_key", "color", "order_nbr"),
    "addDealField": ("name", "field_type", "add_visible_flag"),
    "updateDealField": ("name", "add_visible_flag"),
    "addFilter": ("name", "type", "conditions"),
    "updateFilter": ("conditions",),
    "addDealProduct": ("product_id", "item_price", "quantity", "discount", "discount_type", "tax", "tax_method",
                       "enabled_flag", "comments", "duration"),
    "updateDealProduct": ("item_price", "quantity", "discount", "discount_type", "tax", "tax_method",
                          "enabled_flag", "comments", "duration"),
}  # fmt: skip


def _body(response: Response) -> Any:
    try:
        return response.json()
    except (ValueError, json.JSONDecodeError):
        return None


@schemathesis.check
def fintesk_envelope(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """`success` is true exactly on 2xx, and error bodies have the Fintesk error shape."""
    body = _body(response)
    if not isinstance(body, dict):
        raise AssertionError(f"Expected a JSON object envelope, got {str(response.text)[:120]!r}")
    ok = 200 <= response.status_code < 300
    if body.get("success") is not ok:
        raise AssertionError(
            f"Expected `success: {str(ok).lower()}` on status {response.status_code}, got {body.get('success')!r}"
        )
    if ok:
        if "data" not in body:
            raise AssertionError("A success envelope must carry `data`")
        return None
    if not isinstance(body.get("error"), str) or not body["error"]:
        raise AssertionError("An error envelope must carry a non-empty `error` message")
    for key in ("data", "additional_data"):
        if body.get(key) is not None:
            raise AssertionError(f"An error envelope must have `{key}: null`, got {body[key]!r}")
    if "error_info" in body and not isinstance(body["error_info"], str):
        raise AssertionError("`error_info` must be a string")
    return None


def _items(data: Any) -> list[Any] | None:
    if isinstance(data, list):
        return data
    if isinstance(data, dict) and isinstance(data.get("items"), list):
        return list(data["items"])
    return None


@schemathesis.check
def fintesk_pagination(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """`more_items_in_collection` and `next_start` agree, a page holds at most `limit` items, `start` echoes."""
    body = _body(response)
    if not (200 <= response.status_code < 300) or not isinstance(body, dict):
        return None
    pagination = (body.get("additional_data") or {}).get("pagination")
    if not isinstance(pagination, dict):
        return None
    more, next_start = pagination.get("more_items_in_collection"), pagination.get("next_start")
    start, limit = pagination.get("start"), pagination.get("limit")
    if more and next_start is None:
        raise AssertionError("`more_items_in_collection` is true but `next_start` is missing")
    if not more and next_start is not None:
        raise AssertionError(f"`next_start` is {next_start} but `more_items_in_collection` is false")
    if more and isinstance(start, int) and isinstance(limit, int) and next_start != start + limit:
        raise AssertionError(f"`next_start` should be start + limit = {start + limit}, got {next_start}")
    asked = (case.query or {}).get("start")
    if isinstance(asked, int) and start != asked:
        raise AssertionError(f"`pagination.start` should echo the requested start {asked}, got {start}")
    items = _items(body.get("data"))
    if items is not None and isinstance(limit, int) and len(items) > limit:
        raise AssertionError(f"The page holds {len(items)} items, more than `limit` {limit}")
    return None


def _referenced(item: dict[str, Any]) -> Iterator[tuple[str, str, int]]:
    for key, kind in REFERENCES.items():
        value = item.get(key)
        if isinstance(value, dict):
            value = value.get("value")
        if isinstance(value, int) and not isinstance(value, bool):
            yield key, kind, value


@schemathesis.check
def fintesk_related_objects(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """Every user, person, organization, deal, stage and pipeline id in `data` is in `related_objects`."""
    body = _body(response)
    if not (200 <= response.status_code < 300) or not isinstance(body, dict):
        return None
    related = body.get("related_objects")
    if not isinstance(related, dict):
        return None
    data = body.get("data")
    records = data if isinstance(data, list) else [data]
    for record in records:
        if not isinstance(record, dict):
            continue
        for key, kind, record_id in _referenced(record):
            if str(record_id) not in (related.get(kind) or {}):
                raise AssertionError(
                    f"`{key}` {record_id} of record {record.get('id')} is missing from related_objects.{kind}"
                )
    return None


@schemathesis.check
def fintesk_rate_limit_headers(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """Rate-limit headers, when present, are integers and `remaining <= limit`."""
    values: dict[str, int] = {}
    for name in ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "x-daily-requests-left"):
        raw = response.headers.get(name)
        if raw is None:
            continue
        text = raw[0] if isinstance(raw, list) else raw
        try:
            values[name] = int(text)
        except ValueError:
            raise AssertionError(f"`{name}` must be an integer, got {text!r}") from None
    limit, remaining = values.get("x-ratelimit-limit"), values.get("x-ratelimit-remaining")
    if limit is not None and remaining is not None and not 0 <= remaining <= limit:
        raise AssertionError(f"`x-ratelimit-remaining` {remaining} is outside 0..{limit}")
    return None


@schemathesis.check
def fintesk_read_after_write(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """An add or update takes over the fields it was given, and a following read returns the same record."""
    operation_id = case.operation.definition.raw.get("operationId")
    body = _body(response)
    if operation_id not in READS or not (200 <= response.status_code < 300) or not isinstance(body, dict):
        return None
    written = body.get("data")
    if not isinstance(written, dict) or not isinstance(written.get("id"), int):
        return None
    request = case.body if isinstance(case.body, dict) else {}
    if request.get("status") == "deleted":
        return None
    for field in ECHOED.get(operation_id, ()):
        if field in request and request[field] not in ("", None) and written.get(field) != request[field]:
            raise AssertionError(f"`{field}` was sent as {request[field]!r} but the answer has {written.get(field)!r}")
    read = _read_back(case, response, operation_id, written)
    if read is None:
        raise AssertionError(f"The record {written['id']} written by {operation_id} cannot be read back")
    for key in written.keys() & read.keys() - VOLATILE:
        if written[key] != read[key]:
            raise AssertionError(f"`{key}` is {written[key]!r} after the write but {read[key]!r} when read back")
    return None


def _read_back(
    case: Case[Any], response: Response, operation_id: str, written: dict[str, Any]
) -> dict[str, Any] | None:
    read_id, mode = READS[operation_id]
    operation = case.operation.schema.find_operation_by_id(read_id)
    if mode == "id":
        read_case = operation.Case(path_parameters={"id": written["id"]}, query=_auth_query(response))
    elif mode == "deal_list":
        query = {"limit": 500, **_auth_query(response)}
        read_case = operation.Case(path_parameters={"id": case.path_parameters["id"]}, query=query)
    else:
        read_case = operation.Case(query=_auth_query(response))
    answer = read_case.call(headers=_auth_headers(response))
    payload = _body(answer)
    if answer.status_code != 200 or not isinstance(payload, dict):
        return None
    data = payload.get("data")
    if mode == "id":
        return data if isinstance(data, dict) else None
    return next((item for item in data or [] if isinstance(item, dict) and item.get("id") == written["id"]), None)


def _auth_headers(response: Response) -> dict[str, str]:
    sent = response.request.headers
    return {name: str(sent[name]) for name in ("x-api-token", "Authorization") if name in sent}


def _auth_query(response: Response) -> dict[str, str]:
    query = parse_qs(urlsplit(str(response.request.url)).query)
    return {"api_token": query["api_token"][0]} if "api_token" in query else {}


@schemathesis.check
def fintesk_identity(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """A read, update or delete of one record by id answers about that record, not another or a made-up one."""
    parameter = IDENTITY.get(case.operation.definition.raw.get("operationId"))
    body = _body(response)
    if parameter is None or not (200 <= response.status_code < 300) or not isinstance(body, dict):
        return None
    asked = (case.path_parameters or {}).get(parameter)
    data = body.get("data")
    if isinstance(data, dict) and str(data.get("id")) != str(asked):
        raise AssertionError(f"Asked for record {asked} but the answer is about record {data.get('id')!r}")
    return None


@schemathesis.check
def fintesk_tenant_isolation(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """A record one token creates is invisible to another token (set FINTESK_CHECK_OTHER_TOKEN to enable)."""
    other = os.environ.get("FINTESK_CHECK_OTHER_TOKEN")
    operation_id = case.operation.definition.raw.get("operationId")
    body = _body(response)
    if (
        not other
        or operation_id not in ISOLATED
        or response.status_code not in (200, 201)
        or not isinstance(body, dict)
    ):
        return None
    written = body.get("data")
    if not isinstance(written, dict) or not isinstance(written.get("id"), int):
        return None
    read = case.operation.schema.find_operation_by_id(ISOLATED[operation_id])
    answer = read.Case(path_parameters={"id": written["id"]}).call(headers={"x-api-token": other})
    if answer.status_code != 404:
        status = answer.status_code
        raise AssertionError(f"Record {written['id']} made by {operation_id} is visible to another token ({status})")
    return None


@schemathesis.check
def fintesk_deleted_stay_deleted(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """Every record a delete reports is gone: reading it by id is a 404 (bulk deletes included)."""
    operation_id = case.operation.definition.raw.get("operationId")
    body = _body(response)
    if operation_id not in GONE or not (200 <= response.status_code < 300) or not isinstance(body, dict):
        return None
    data = body.get("data") or {}
    ids = data.get("id") if isinstance(data, dict) else None
    read = case.operation.schema.find_operation_by_id(GONE[operation_id])
    for record_id in ids if isinstance(ids, list) else [ids]:
        if not isinstance(record_id, int):
            continue
        answer = read.Case(path_parameters={"id": record_id}, query=_auth_query(response))
        status = answer.call(headers=_auth_headers(response)).status_code
        if status != 404:
            raise AssertionError(f"Record {record_id} was reported deleted, but reading it answers {status}, not 404")
    return None


FINTESK_CHECKS = [
    fintesk_envelope,
    fintesk_pagination,
    fintesk_related_objects,
    fintesk_rate_limit_headers,
    fintesk_read_after_write,
    fintesk_identity,
    fintesk_tenant_isolation,
    fintesk_deleted_stay_deleted,
]
