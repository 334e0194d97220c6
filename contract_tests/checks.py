"""Fintesk-specific checks, registered with Schemathesis so plain `schemathesis run` can use them too."""

from __future__ import annotations

import json
import os
import threading
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
    **{f"{verb}{kind}": (f"get{kind}", "id") for verb in ("add", "update")
       for kind in ("Pipeline", "Stage", "Product", "ProductField", "Note")},
    "addPerson": ("getPerson", "id"),
    "updatePerson": ("getPerson", "id"),
    "addOrganization": ("getOrganization", "id"),
    "updateOrganization": ("getOrganization", "id"),
    "addPersonField": ("getPersonField", "id"),
    "updatePersonField": ("getPersonField", "id"),
    "addOrganizationField": ("getOrganizationField", "id"),
    "updateOrganizationField": ("getOrganizationField", "id"),
}  # fmt: skip
# operationId -> the path parameter naming the one record the answer is about
IDENTITY = {
    "getDeal": "id", "updateDeal": "id", "getActivity": "id", "updateActivity": "id", "getDealField": "id",
    "updateDealField": "id", "deleteDealField": "id", "getFilter": "id", "updateFilter": "id",
    "updateActivityType": "id", "deleteActivityType": "id", "updateDealProduct": "product_attachment_id",
    "deleteDealProduct": "product_attachment_id",
    **{f"{verb}{kind}": "id" for verb in ("get", "update", "delete")
       for kind in ("Pipeline", "Stage", "Product", "ProductField", "Note")},
    "deleteDeal": "id", "deleteActivity": "id", "deleteFilter": "id",
    "getPerson": "id", "updatePerson": "id", "deletePerson": "id",
    "getOrganization": "id", "updateOrganization": "id", "deleteOrganization": "id", "getPersonField": "id",
    "updatePersonField": "id", "deletePersonField": "id", "getOrganizationField": "id",
    "updateOrganizationField": "id", "deleteOrganizationField": "id", "getUser": "id",
}  # fmt: skip
# operationId -> the path parameter a probe replaces with an id no record of the account can have
PROBED = {
    **IDENTITY,
    **dict.fromkeys(("getDealActivities", "getDealUpdates", "getDealPersons", "getDealProducts"), "id"),
    **dict.fromkeys(
        (
            "getPersonDeals",
            "getPersonActivities",
            "mergePersons",
            "getOrganizationDeals",
            "getOrganizationActivities",
            "getOrganizationPersons",
            "mergeOrganizations",
        ),
        "id",
    ),  # fmt: skip
}
# How far past the largest id seen a probe goes: more records than an account adds while a run lasts.
BEYOND = 1_000_000
# delete operationId -> the read by id that must then answer 404
GONE = {
    "deleteDeals": "getDeal", "deleteActivities": "getActivity", "deleteDealField": "getDealField",
    "deleteDeal": "getDeal", "deleteActivity": "getActivity", "deleteFilter": "getFilter",
    "deleteFilters": "getFilter", "deleteStages": "getStage",
    **{f"delete{kind}": f"get{kind}" for kind in ("Pipeline", "Stage", "Product", "ProductField", "Note")},
    "deletePerson": "getPerson", "deletePersons": "getPerson", "deleteOrganization": "getOrganization",
    "deleteOrganizations": "getOrganization", "deletePersonField": "getPersonField",
    "deletePersonFields": "getPersonField", "deleteOrganizationField": "getOrganizationField",
    "deleteOrganizationFields": "getOrganizationField",
}  # fmt: skip
# create operationId -> the read by id another tenant must not be able to do
ISOLATED = {
    "addDeal": "getDeal",
    "addActivity": "getActivity",
    "addDealField": "getDealField",
    "addFilter": "getFilter",
    **{f"add{kind}": f"get{kind}" for kind in ("Pipeline", "Stage", "Product", "ProductField", "Note")},
    "addPerson": "getPerson",
    "addOrganization": "getOrganization",
    "addPersonField": "getPersonField",
    "addOrganizationField": "getOrganizationField",
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
    "addPerson": ("name", "first_name", "last_name", "label", "visible_to"),
    "updatePerson": ("name", "first_name", "last_name", "label", "visible_to"),
    "addOrganization": ("name", "address", "label", "visible_to"),
    "updateOrganization": ("name", "address", "label", "visible_to"),
    "addPersonField": ("name", "field_type", "add_visible_flag"),
    "updatePersonField": ("name", "add_visible_flag"),
    "addOrganizationField": ("name", "field_type", "add_visible_flag"),
    "updateOrganizationField": ("name", "add_visible_flag"),
}  # fmt: skip


def body_of(response: Response) -> Any:
    try:
        return response.json()
    except (ValueError, json.JSONDecodeError):
        return None


@schemathesis.check
def fintesk_envelope(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """`success` is true exactly on 2xx, and error bodies have the Fintesk error shape."""
    body = body_of(response)
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


def items_of(data: Any) -> list[Any] | None:
    if isinstance(data, list):
        return data
    if isinstance(data, dict) and isinstance(data.get("items"), list):
        return list(data["items"])
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
    body = body_of(response)
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
    body = body_of(response)
    if operation_id not in READS or not (200 <= response.status_code < 300) or not isinstance(body, dict):
        return None
    written = body.get("data")
    if not isinstance(written, dict) or not isinstance(written.get("id"), int):
        return None
    request = case.body if isinstance(case.body, dict) else {}
    if request.get("status") == "deleted":
        return None
    for field in ECHOED.get(operation_id, ()):
        if field in request and request[field] not in ("", None) and _plain(written.get(field)) != request[field]:
            raise AssertionError(f"`{field}` was sent as {request[field]!r} but the answer has {written.get(field)!r}")
    read = _read_back(case, response, operation_id, written)
    if read is None:
        raise AssertionError(f"The record {written['id']} written by {operation_id} cannot be read back")
    for key in written.keys() & read.keys() - VOLATILE:
        if written[key] != read[key]:
            raise AssertionError(f"`{key}` is {written[key]!r} after the write but {read[key]!r} when read back")
    return None


def _plain(value: Any) -> Any:
    """A reference the answer expands (`user_id` as the user plus `value`, its id) compares by the id it names."""
    return value["value"] if isinstance(value, dict) and "value" in value else value


def _read_back(
    case: Case[Any], response: Response, operation_id: str, written: dict[str, Any]
) -> dict[str, Any] | None:
    read_id, mode = READS[operation_id]
    operation = case.operation.schema.find_operation_by_id(read_id)
    if mode == "id":
        read_case = operation.Case(path_parameters={"id": written["id"]}, query=auth_query(response))
    elif mode == "deal_list":
        query = {"limit": 500, **auth_query(response)}
        read_case = operation.Case(path_parameters={"id": case.path_parameters["id"]}, query=query)
    else:
        read_case = operation.Case(query=auth_query(response))
    answer = read_case.call(headers=auth_headers(response))
    payload = body_of(answer)
    if answer.status_code != 200 or not isinstance(payload, dict):
        return None
    data = payload.get("data")
    if mode == "id":
        return data if isinstance(data, dict) else None
    return next((item for item in data or [] if isinstance(item, dict) and item.get("id") == written["id"]), None)


def auth_headers(response: Response) -> dict[str, str]:
    sent = response.request.headers
    return {name: str(sent[name]) for name in ("x-api-token", "Authorization") if name in sent}


def auth_query(response: Response) -> dict[str, str]:
    query = parse_qs(urlsplit(str(response.request.url)).query)
    return {"api_token": query["api_token"][0]} if "api_token" in query else {}


@schemathesis.check
def fintesk_identity(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """A read, update or delete of one record by id answers about that record, not another or a made-up one."""
    parameter = IDENTITY.get(case.operation.definition.raw.get("operationId"))
    body = body_of(response)
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
    body = body_of(response)
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
    body = body_of(response)
    if operation_id not in GONE or not (200 <= response.status_code < 300) or not isinstance(body, dict):
        return None
    data = body.get("data") or {}
    ids = data.get("id") if isinstance(data, dict) else None
    read = case.operation.schema.find_operation_by_id(GONE[operation_id])
    for record_id in ids if isinstance(ids, list) else [ids]:
        if not isinstance(record_id, int):
            continue
        answer = read.Case(path_parameters={"id": record_id}, query=auth_query(response))
        status = answer.call(headers=auth_headers(response)).status_code
        if status != 404:
            raise AssertionError(f"Record {record_id} was reported deleted, but reading it answers {status}, not 404")
    return None


class IdHorizon:
    """The largest record id the run has seen in answers that list or create records (never in one that echoes
    an id it was asked for, so a server that invents records cannot move it)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.largest = 0

    def learn(self, data: Any) -> None:
        records = items_of(data)
        ids = [record_id for record in records or [data] if (record_id := _record_id(record)) is not None]
        if ids:
            with self.lock:
                self.largest = max(self.largest, *ids)


def _record_id(record: Any) -> int | None:
    if isinstance(record, dict) and isinstance(record.get("item"), dict):
        record = record["item"]  # a search result wraps the record
    value = record.get("id") if isinstance(record, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


HORIZON = IdHorizon()


@schemathesis.check
def fintesk_unknown_id_is_404(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """A read, update or delete of an id well past the largest the run has seen answers 404 in the error envelope."""
    operation_id = case.operation.definition.raw.get("operationId")
    body = body_of(response)
    if not (200 <= response.status_code < 300) or not isinstance(body, dict):
        return None
    if operation_id not in IDENTITY:
        HORIZON.learn(body.get("data"))
    parameter = PROBED.get(operation_id)
    if parameter is None or parameter not in (case.path_parameters or {}):
        return None
    unknown = HORIZON.largest + BEYOND
    probe = case.operation.Case(
        path_parameters={**case.path_parameters, parameter: unknown},
        query=dict(case.query or {}),
        body=case.body,
        media_type=case.media_type,
    )
    answer = probe.call(headers=auth_headers(response))
    asked = f"{case.method.upper()} {probe.formatted_path}"
    if answer.status_code != 404:
        raise AssertionError(
            f"`{asked}` names a record well past the largest id seen ({HORIZON.largest}), so none can exist, "
            f"but it answered {answer.status_code}, not 404"
        )
    payload = body_of(answer)
    if not isinstance(payload, dict) or payload.get("success") is not False or not payload.get("error"):
        raise AssertionError(f"`{asked}` answered 404 without the Fintesk error envelope: {answer.text[:120]!r}")
    return None


# The field a strict run adds to a write's body: no operation defines it.
UNDEFINED_FIELD = "fintesk_check_undefined_field"
STRICT_HEADER = "x-fintesk-mock-strict"


@schemathesis.check
def fintesk_strict_refuses_undefined_fields(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """In a strict run (the request asked the mock for strict mode), a write that was accepted is refused with a
    400 naming the field once its body carries a field the operation does not define. Other runs: nothing."""
    sent = response.request.headers
    if str(sent.get(STRICT_HEADER, "")).lower() != "true" or not (200 <= response.status_code < 300):
        return None
    if not isinstance(case.body, dict) or case.method.upper() not in ("POST", "PUT", "PATCH"):
        return None
    probe = case.operation.Case(
        path_parameters=dict(case.path_parameters or {}),
        query=dict(case.query or {}),
        body={**case.body, UNDEFINED_FIELD: 1},
        media_type=case.media_type,
    )
    answer = probe.call(headers={**auth_headers(response), STRICT_HEADER: "true"})
    payload = body_of(answer)
    error = payload.get("error") if isinstance(payload, dict) else None
    if answer.status_code != 400 or not isinstance(error, str) or UNDEFINED_FIELD not in error:
        raise AssertionError(
            f"`{case.method.upper()} {probe.formatted_path}` with the undefined body field `{UNDEFINED_FIELD}` in "
            f"strict mode answered {answer.status_code} {answer.text[:160]!r}, not a 400 naming the field"
        )
    return None
