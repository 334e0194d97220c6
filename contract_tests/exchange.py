"""One exchange (a request and the answer to it) checked against the spec: what the proxy does with each one.

The answer goes through the same checks as `fintesk-mock check` runs (Schemathesis' conformance checks and the
Fintesk checks), limited to those that judge a single exchange. With `probe`, the checks that ask the target again
(GET requests only: the rest of a list, an id that cannot exist, the record just written, a record just deleted)
run too. The request is checked against the operation's parameters and JSON body.
"""

from __future__ import annotations

import re
import threading
import tomllib
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import httpx
import schemathesis
import yaml
from jsonschema import Draft4Validator
from jsonschema.exceptions import best_match
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.core.failures import FailureGroup
from schemathesis.core.transport import Response
from starlette.types import Receive, Scope, Send

import contract_tests.checks  # noqa: F401  (registers the Fintesk checks)
import contract_tests.lists  # noqa: F401
from contract_tests.harness import CONFIG_PATH
from mock_server import SPEC_PATH
from mock_server.data.fixtures import SAFE_LOADER
from mock_server.http.validation import FORMATS, nullable_as_null_type

# Checks that judge an exchange from the exchange alone.
SINGLE = (
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "fintesk_envelope",
    "fintesk_related_objects",
    "fintesk_rate_limit_headers",
    "fintesk_identity",
    "fintesk_pagination",
    "fintesk_pagination_echo",
)
# Checks that send the target GET requests of their own to judge an exchange (with `--probe`).
PROBING = (
    "fintesk_pagination_complete",
    "fintesk_unknown_id_is_404",
    "fintesk_read_after_write",
    "fintesk_deleted_stay_deleted",
)
# Of the probing checks, those whose probe repeats the exchange's own method: run on GET exchanges only.
REPEATS_METHOD = frozenset({"fintesk_unknown_id_is_404"})
MAX_MESSAGE = 500
PROBE_TIMEOUT = 60  # seconds a probe waits for the target: a silent target never holds an exchange for longer


@dataclass(frozen=True)
class Violation:
    side: str  # "request" (the client's) or "response" (the target's)
    check: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"side": self.side, "check": self.check, "message": self.message}


@dataclass(frozen=True)
class Exchange:
    """What the proxy saw: the request as the client sent it (path under the API base) and the target's answer."""

    method: str
    path: str
    query_string: bytes
    content_type: str
    body: bytes
    response: httpx.Response


async def no_probes(scope: Scope, receive: Receive, send: Send) -> None:
    """Where a check's own request goes when probing is off: nowhere near the target (a 503, which the checks
    that only peek take as "no answer")."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    await send({"type": "http.response.start", "status": 503, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b'{"success":false,"error":"not probed"}'})


class Validator:
    """Checks exchanges against the spec. Safe to use from several threads at once."""

    def __init__(self, target: str, *, probe: bool = False) -> None:
        self.spec = yaml.load(SPEC_PATH.read_text(encoding="utf-8"), Loader=SAFE_LOADER)
        settings = tomllib.loads(CONFIG_PATH.read_text(encoding="utf-8"))
        settings["request-timeout"] = PROBE_TIMEOUT
        config = schemathesis.Config.from_dict(settings)
        self.schema = schemathesis.openapi.from_dict(self.spec, config=config)
        self.probe = probe
        if probe:
            self.schema.config.base_url = target.rstrip("/")
        else:
            self.schema.app = no_probes
        load_all_checks()
        names = [*SINGLE, *(PROBING if probe else ())]
        self.checks = [(name, CHECKS.get_by_names([name])[0]) for name in names]
        self.components = nullable_as_null_type(self.spec.get("components", {}))
        self._validators: dict[int, tuple[Any, Draft4Validator]] = {}
        self._lock = threading.Lock()

    def operation_of(self, method: str, path: str) -> Any:
        """The spec's operation for a request to `path` (under the API base), or None."""
        return self.schema.find_operation_by_path(method, path)

    def check(self, exchange: Exchange) -> tuple[str | None, list[Violation]]:
        """The exchange's operationId (None when the spec has no such operation) and its violations."""
        operation = self.operation_of(exchange.method, exchange.path)
        if operation is None:
            message = f"The spec has no operation {exchange.method} {exchange.path}"
            return None, [Violation("request", "unknown_operation", message)]
        path_parameters = _path_parameters(operation.path, exchange.path)
        raw = operation.definition.raw
        query = self._query(raw, operation.path, exchange.query_string)
        body = _json_body(exchange.body, exchange.content_type)
        violations = self._request(raw, operation.path, path_parameters, query, exchange, body)
        parts: dict[str, Any] = {"path_parameters": path_parameters, "query": query}
        if exchange.body and body is not _NOT_JSON:
            parts.update(body=body, media_type=exchange.content_type.split(";")[0].strip() or "application/json")
        case = operation.Case(**parts)
        response = Response.from_httpx(exchange.response, verify=True)
        for name, check in self.checks:
            if name in REPEATS_METHOD and exchange.method != "GET":
                continue
            try:
                case.validate_response(response, checks=[check])
            except FailureGroup as group:
                for failure in group.exceptions:
                    violations.append(Violation("response", name, _short(str(failure))))
            except AssertionError as failure:
                violations.append(Violation("response", name, _short(str(failure))))
        return raw.get("operationId"), violations

    # The request side: parameters and a JSON body, against the operation's schemas.

    def _parameters(self, raw: dict[str, Any], template: str) -> list[dict[str, Any]]:
        item = self.spec["paths"].get(template, {})
        return [self._resolve(parameter) for parameter in [*item.get("parameters", []), *raw.get("parameters", [])]]

    def _resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            found: Any = self.spec
            for part in node["$ref"].lstrip("#/").split("/"):
                found = found[part]
            node = found
        return node

    def _query(self, raw: dict[str, Any], template: str, query_string: bytes) -> dict[str, Any]:
        """The query as the operation reads it: numbers, booleans and comma lists parsed by their schemas."""
        schemas = {p["name"]: p.get("schema", {}) for p in self._parameters(raw, template) if p.get("in") == "query"}
        query: dict[str, Any] = {}
        for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
            query[name] = _coerce(value, self._resolve(schemas.get(name, {})), self)
        return query

    def _request(
        self,
        raw: dict[str, Any],
        template: str,
        path_parameters: dict[str, Any],
        query: dict[str, Any],
        exchange: Exchange,
        body: Any,
    ) -> list[Violation]:
        violations = []
        for parameter in self._parameters(raw, template):
            place, name = parameter.get("in"), parameter.get("name")
            values = {"path": path_parameters, "query": query}.get(str(place))
            if values is None:
                continue
            if name not in values:
                if parameter.get("required"):
                    violations.append(Violation("request", "parameters", f"The {place} parameter `{name}` is missing"))
                continue
            value = values[name]
            if place == "path":
                value = _coerce(str(value), self._resolve(parameter.get("schema", {})), self)
            error = self._invalid(parameter.get("schema", {}), value)
            if error is not None:
                violations.append(Violation("request", "parameters", f"The {place} parameter `{name}`: {error}"))
        content = (raw.get("requestBody") and self._resolve(raw["requestBody"])) or {}
        schema = (content.get("content", {}).get("application/json") or {}).get("schema")
        if not exchange.body:
            if content.get("required") and exchange.method in ("POST", "PUT", "PATCH"):
                violations.append(Violation("request", "body", "The operation needs a body and none was sent"))
        elif body is _NOT_JSON:
            if "json" in exchange.content_type:
                violations.append(Violation("request", "body", "The body is not valid JSON"))
        elif schema is not None:
            error = self._invalid(schema, body)
            if error is not None:
                violations.append(Violation("request", "body", f"The body: {error}"))
        return violations

    def _invalid(self, schema: dict[str, Any], value: Any) -> str | None:
        with self._lock:
            known = self._validators.get(id(schema))
            if known is None:
                root = {"allOf": [nullable_as_null_type(schema)], "components": self.components}
                known = self._validators[id(schema)] = (schema, Draft4Validator(root, format_checker=FORMATS))
        error = best_match(known[1].iter_errors(value))
        if error is None:
            return None
        where = "".join(f"[{part!r}]" for part in error.absolute_path)
        return _short(f"{where + ': ' if where else ''}{error.message}")


_NOT_JSON = object()


def _json_body(body: bytes, content_type: str) -> Any:
    if not body:
        return None
    if content_type and "json" not in content_type:
        return _NOT_JSON
    try:
        return httpx.Response(200, content=body).json()
    except ValueError:
        return _NOT_JSON


def _path_parameters(template: str, path: str) -> dict[str, Any]:
    pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
    match = re.fullmatch(pattern, path)
    if match is None:
        return {}
    return {name: int(value) if value.isdigit() else value for name, value in match.groupdict().items()}


def _coerce(value: str, schema: dict[str, Any], validator: Validator) -> Any:
    """A query or path value read as its schema's type; left as text when it is not one (the schema then says so)."""
    kind = schema.get("type")
    if kind == "array":
        items = validator._resolve(schema.get("items", {}))
        return [_coerce(item, items, validator) for item in value.split(",") if item != ""]
    try:
        if kind == "integer":
            return int(value)
        if kind == "number":
            number = float(value)
            return int(number) if number.is_integer() and "." not in value else number
    except ValueError:
        return value
    if kind == "boolean" and value in ("true", "false"):
        return value == "true"
    return value


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"
