"""Request validation that names what it rejects, and a JSON body parser that never lets bad bytes through.

Whether a value is valid is decided by a compiled validator (jsonschema-rs, built once per schema); only a value
it rejects is validated again by the `jsonschema` package, to word the message as before. A reject the second
validator does not confirm passes, so the compiled one never refuses what was accepted before.
"""

from __future__ import annotations

import asyncio
import copy
import gc
import re
from collections.abc import AsyncGenerator
from functools import cached_property
from typing import Any
from urllib.parse import parse_qsl

import jsonschema_rs
from connexion.datastructures import MediaTypeDict
from connexion.exceptions import BadRequestProblem
from connexion.json_schema import Draft4RequestValidator
from connexion.lifecycle import ConnexionRequest
from connexion.middleware.request_validation import (
    RequestValidationAPI,
    RequestValidationMiddleware,
    RequestValidationOperation,
)
from connexion.operations import AbstractOperation
from connexion.uri_parsing import OpenAPIURIParser
from connexion.utils import extract_content_type, is_null, is_nullable
from connexion.validators import VALIDATOR_MAP, JSONRequestBodyValidator, ParameterValidator
from jsonschema import Draft4Validator, Draft7Validator, ValidationError
from jsonschema.exceptions import best_match
from starlette.types import Message, Receive, Scope, Send

from mock_server.http import limits
from mock_server.http.asgi import read_request, replayed

# Draft 4 knows no `date` format; the API's dates must be real ones, so use the checker that does.
FORMATS = Draft7Validator.FORMAT_CHECKER


class LenientURIParser(OpenAPIURIParser):  # type: ignore[misc]
    """Comma lists drop empty items, so `exclude=` is an empty list and `ids=1,2,` is `[1, 2]`.

    The parameters' schemas are worked out once (Connexion builds the dict again for every parameter of every
    request), and a query is searched for `deepObject` keys only when a parameter has that style: otherwise
    Connexion's search finds none and returns the query as it was, at a tenth of a fresh read's cost."""

    @cached_property
    def param_schemas(self) -> dict[str, Any]:
        return {name: defn.get("schema", {}) for name, defn in self.param_defns.items()}

    @cached_property
    def has_deep_objects(self) -> bool:
        return any(defn.get("style") == "deepObject" for defn in self.param_defns.values())

    def _preprocess_deep_objects(self, query_data: dict[str, Any]) -> dict[str, Any]:
        if not self.has_deep_objects:
            return query_data
        return super()._preprocess_deep_objects(query_data)  # type: ignore[no-any-return]

    @staticmethod
    def _split(value: str, param_defn: dict[str, Any], _in: str) -> list[str]:
        return [item for item in OpenAPIURIParser._split(value, param_defn, _in) if item != ""]


# Validators per parameter schema of the spec (keyed by identity, holding the schema so the key stays its own).
_PARAMETER_VALIDATORS: dict[int, tuple[dict[str, Any], CompiledValidator]] = {}


class CyclicSchema(ValueError):
    """A schema that holds itself (a `$ref` to an enclosing schema, resolved in place): no compiled validator."""


def nullable_as_null_type(schema: Any) -> Any:
    """A copy of an OpenAPI 3.0 schema where `nullable: true` is said the JSON Schema way (a "null" type and a
    None in the enum), as Connexion's request validator reads it, for a validator that knows only JSON Schema.
    A schema that holds itself raises CyclicSchema.

    Connexion resolves each `$ref` in place, so one sub-schema may stand in many places (a deal body's custom
    fields: fifteen thousand nodes to walk, tens of milliseconds): each is converted once."""
    converted_ones: dict[int, Any] = {}  # id of a sub-schema -> its copy

    def convert(node: Any, within: frozenset[int]) -> Any:
        if isinstance(node, list):
            return [convert(item, within) for item in node]
        if not isinstance(node, dict):
            return node
        key = id(node)
        done = converted_ones.get(key)
        if done is not None:
            return done
        if key in within:
            raise CyclicSchema("the schema holds itself")
        inner = within | {key}
        converted = {name: convert(value, inner) for name, value in node.items()}
        if node.get("nullable") is True or node.get("x-nullable") is True:
            kind = converted.get("type")
            if isinstance(kind, str):
                converted["type"] = [kind, "null"]
            if isinstance(converted.get("enum"), list) and None not in converted["enum"]:
                converted["enum"] = [*converted["enum"], None]
        converted_ones[key] = converted
        return converted

    return convert(schema, frozenset())


def without_unused_components(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema without the spec's `components`, which Connexion attaches to a body's schema for `$ref`s to
    resolve against, when no `$ref` is left to resolve (Connexion resolved them in place). Compiled with the
    schema, the API's components (450 kB) made a body's first validation hold the event loop for 30 ms."""
    if "components" not in schema:
        return schema
    rest = {key: value for key, value in schema.items() if key != "components"}
    return rest if not _has_ref(rest, set()) else schema


def _has_ref(node: Any, seen: set[int]) -> bool:
    if isinstance(node, list):
        return any(_has_ref(item, seen) for item in node)
    if not isinstance(node, dict) or id(node) in seen:
        return False
    seen.add(id(node))
    return "$ref" in node or any(_has_ref(value, seen) for value in node.values())


class CompiledValidator:
    """A schema's compiled validator, and the `jsonschema` one that words the error when it rejects a value. A
    schema that holds itself (a `$ref` to an enclosing schema) cannot be handed to the compiled validator: the
    `jsonschema` one decides alone."""

    def __init__(self, schema: dict[str, Any], explainer: Any) -> None:
        try:
            compiled_schema = nullable_as_null_type(without_unused_components(schema))
            self.compiled: Any = jsonschema_rs.Draft4Validator(compiled_schema, validate_formats=True)
        except CyclicSchema:
            self.compiled = None
        self.explainer = explainer

    def error(self, value: Any) -> ValidationError | None:
        """None for a valid value, else the first error `jsonschema` finds (the one its `validate` raises)."""
        if self.compiled is not None and self.compiled.is_valid(value):
            return None
        return next(iter(self.explainer.iter_errors(value)), None)


def parameter_validator(schema: dict[str, Any]) -> CompiledValidator:
    kept = _PARAMETER_VALIDATORS.get(id(schema))
    if kept is None or kept[0] is not schema:
        explainer = Draft4Validator(schema, format_checker=FORMATS)
        kept = _PARAMETER_VALIDATORS[id(schema)] = (schema, CompiledValidator(schema, explainer))
    return kept[1]


class NamingParameterValidator(ParameterValidator):  # type: ignore[misc]
    """Connexion's parameter validation, with messages that name the parameter. An operation's query is first
    checked whole by one compiled validator of all its parameters (one call instead of one per parameter, most of
    the cost of validating a read); only a query it rejects is checked parameter by parameter, which finds and
    words the error exactly as before."""

    @cached_property
    def _query_validator(self) -> CompiledValidator:
        query = self.parameters.get("query", [])
        schema: dict[str, Any] = {
            "type": "object",
            "properties": {param["name"]: param.get("schema", param) for param in query},
        }
        required = [param["name"] for param in query if param.get("required")]
        if required:  # draft 4 wants at least one name in a `required` list
            schema["required"] = required
        return CompiledValidator(schema, Draft4Validator(schema, format_checker=FORMATS))

    def _query_is_valid(self, request: ConnexionRequest) -> bool:
        try:
            return self._query_validator.error(request.query_params) is None
        except (ValueError, TypeError, OverflowError):  # a value the compiled validator cannot take
            return False

    def validate_request(self, request: ConnexionRequest) -> None:
        if self.strict_validation or not self._query_is_valid(request):
            super().validate_request(request)
            return
        for kind, check in (("path", self.validate_path_parameter), ("header", self.validate_header_parameter),
                            ("cookie", self.validate_cookie_parameter)):  # fmt: skip
            for param in self.parameters.get(kind, []):
                error = check(param, request)
                if error:
                    raise BadRequestProblem(detail=error)

    @staticmethod
    def validate_parameter(
        parameter_type: str, value: Any, param: dict[str, Any], param_name: str | None = None
    ) -> str | None:
        if is_nullable(param) and is_null(value):
            return None
        name = param["name"]
        if value is not None:
            error = parameter_validator(param.get("schema", param)).error(value)
            if error is not None:
                return f"{parameter_type} parameter '{name}': {shortened(error.message)}"
        elif param.get("required"):
            return f"{parameter_type} parameter '{name}' is required."
        return None


class StrictJSONBodyValidator(JSONRequestBodyValidator):  # type: ignore[misc]
    """Bodies must be UTF-8 JSON with finite numbers; anything else is a 400 that says why."""

    @cached_property
    def _validator(self) -> CompiledValidator:
        return CompiledValidator(self._schema, Draft4RequestValidator(self._schema, format_checker=FORMATS))

    async def _parse(self, stream: AsyncGenerator[bytes, None], scope: Scope) -> Any:
        chunks = [chunk async for chunk in stream if chunk]
        if len(chunks) == 1:
            raw = chunks[0]  # joining it with the stream's closing b"" would copy it whole
        elif sum(map(len, chunks)) <= THREADED_PARSE_BYTES:
            raw = b"".join(chunks)
        else:  # hundreds of megabytes: joined in a worker thread (bytes.join lets the lock go while it copies)
            raw = await asyncio.to_thread(b"".join, chunks)
        if not raw.strip():
            # An operation whose body has a default (the control plane's `{}`) takes a blank body as that default.
            body = copy.deepcopy(self._schema.get("default"))
            scope.setdefault("extensions", {})[PARSED_BODY] = body
            return body
        try:
            if len(raw) <= THREADED_PARSE_BYTES:
                body = limits.loads(raw)
            else:  # a state import: seconds for hundreds of megabytes, so not on the event loop
                body = await asyncio.to_thread(parse_big, raw)
        except ValueError as error:
            raise BadRequestProblem(detail=f"{error}.") from None
        # The handler's request would parse the same bytes again (a second or two for a big import): hand it this.
        scope.setdefault("extensions", {})[PARSED_BODY] = body
        return body

    @cached_property
    def defined_fields(self) -> tuple[frozenset[str], tuple[re.Pattern[str], ...]] | None:
        """The top-level fields the body's schema names (also in its `allOf`/`anyOf`/`oneOf` parts) and the
        patterns of its `patternProperties`; None when it names none (a body of any shape)."""
        parts = [self._schema, *(part for key in ("allOf", "anyOf", "oneOf") for part in self._schema.get(key, []))]
        names = frozenset(name for part in parts if isinstance(part, dict) for name in part.get("properties", {}))
        patterns = tuple(re.compile(pattern) for part in parts if isinstance(part, dict)
                         for pattern in part.get("patternProperties", {}))  # fmt: skip
        return (names, patterns) if names or patterns else None

    def undefined_fields(self, body: Any) -> list[str]:
        """The top-level fields of a valid body that its schema does not define (it accepts and ignores them)."""
        defined = self.defined_fields
        if defined is None or not isinstance(body, dict):
            return []
        names, patterns = defined
        return [key for key in body if key not in names and not any(pattern.search(key) for pattern in patterns)]

    def _validate(self, body: Any) -> dict[str, Any] | None:
        if not self._nullable and body is None:
            raise BadRequestProblem(detail="the request body must not be empty.")
        error = self._validator.error(body)
        if error is not None:
            raise BadRequestProblem(detail=describe(error))
        return None


def describe(error: ValidationError) -> str:
    """A message that names the field and what would be accepted, also for `anyOf` alternatives."""
    where = ".".join(str(part) for part in error.absolute_path)
    prefix = f"body field '{where}'" if where else "body"
    if error.validator == "anyOf" and error.context:
        missing = [str(sub.message).split("'")[1] for sub in error.context if sub.validator == "required"]
        if len(missing) == len(error.context):
            return f"{prefix}: give at least one of {', '.join(f'`{name}`' for name in missing)}."
        best = best_match(error.context)
        return f"{prefix}: {shortened(best.message)}"
    form = error.schema.get("x-pattern-form") if error.validator == "pattern" else None
    if isinstance(form, str):  # the spec says in words what its pattern accepts
        return f"{prefix}: {shortened(repr(error.instance))} is not {form}."
    return f"{prefix}: {shortened(error.message)}"


MAX_MESSAGE = 300


def shortened(message: str) -> str:
    """A validator's message cut to a readable size: it quotes the refused value, which may be megabytes long."""
    if len(message) <= MAX_MESSAGE:
        return message
    return f"{message[: MAX_MESSAGE - 80]}...{message[-60:]}"


class PreparedValidationOperation(RequestValidationOperation):  # type: ignore[misc]
    """Connexion's request validation of one operation, with its URI parser, parameter validator and body
    validators made once. Connexion makes each of them again on every request (and a `MediaTypeDict` of the
    accepted types), though they depend only on the operation and the request's media type and charset."""

    def __init__(self, next_app: Any, *, operation: AbstractOperation, **kwargs: Any) -> None:
        super().__init__(next_app, operation=operation, **kwargs)
        # (media type, charset) -> the body validator, or None where the operation takes no body of that type
        self._bodies: dict[tuple[str, str], Any] = {}

    @cached_property
    def parameters(self) -> ParameterValidator:
        operation = self._operation
        return self._validator_map["parameter"](
            operation.parameters,
            uri_parser=operation._uri_parser_class(operation.parameters, operation.body_definition()),
            strict_validation=self.strict_validation,
            security_query_params=self.security_query_params,
        )

    @cached_property
    def bodyless(self) -> bool:
        """Whether the operation takes no body: it accepts any content type and has no body to validate."""
        operation = self._operation
        return not operation.consumes and not operation.request_body

    def body_validator(self, mime_type: str, encoding: str) -> Any:
        """The validator for a body of this type, as Connexion builds it; raises for a type the operation refuses."""
        key = (mime_type, encoding)
        if key in self._bodies:
            return self._bodies[key]
        self.validate_mime_type(mime_type)
        operation, validator = self._operation, None
        schema = operation.body_schema(mime_type)
        try:
            body_validator = self._validator_map["body"][mime_type] if schema else None
        except KeyError:  # no validator for this type: Connexion passes the body through unchecked
            body_validator = None
        if body_validator is not None:
            validator = body_validator(
                schema=schema,
                required=operation.request_body.get("required", False),
                nullable=is_nullable(operation.body_definition(mime_type)),
                encoding=encoding,
                strict_validation=self.strict_validation,
                uri_parser=operation.uri_parser_class(operation.parameters, operation.body_definition()),
            )
        if len(self._bodies) < MAX_KEPT_BODY_TYPES:  # the header is the client's: keep only a few
            self._bodies[key] = validator
        return validator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        parameters = self.parameters
        request = ConnexionRequest(scope, uri_parser=parameters.uri_parser)
        request._query_params = parameters.uri_parser.resolve_query(query_lists(scope.get("query_string", b"")))
        parameters.validate_request(request)
        # The handler's request parses the same query with a parser of the same parameters: hand it this parse.
        scope.setdefault("extensions", {})[PARSED_QUERY] = request.query_params
        if self.bodyless:  # no body validator whatever the content type: a read's usual case, decided once
            await self.next_app(scope, receive, send)
            return
        mime_type, encoding = self.extract_content_type(scope["headers"])
        validator = self.body_validator(mime_type, encoding)
        if validator is not None:
            receive, scope = await with_length(receive, scope)
            receive, scope = await validator.wrap_receive(receive, scope=scope)
            if isinstance(validator, StrictJSONBodyValidator):
                undefined = validator.undefined_fields(scope.get("extensions", {}).get(PARSED_BODY))
                if undefined:  # for `unknown.UnknownFieldsMiddleware` to report, or refuse
                    scope.setdefault("state", {})[UNDEFINED_FIELDS] = undefined
            if extract_content_type(scope["headers"]) is None:
                # Validation took a body without a type for the operation's own (JSON); the handler must read it
                # as that too, not as raw bytes.
                scope = {**scope, "headers": [*scope["headers"], (b"content-type", mime_type.encode("latin-1"))]}
        await self.next_app(scope, receive, send)


async def with_length(receive: Receive, scope: Scope) -> tuple[Receive, Scope]:
    """A body sent in chunks (`Transfer-Encoding`, no `Content-Length`) read whole and given the length header
    Connexion's body validation goes by: without one, it takes the body for missing. (The body's size is
    bounded before this, by `LimitsMiddleware`.) Any other request is left as it is."""
    names = {name for name, _ in scope["headers"]}
    if b"content-length" in names or b"transfer-encoding" not in names:
        return receive, scope
    messages, pieces = await read_request(receive)
    if messages[-1]["type"] != "http.request":  # the client went away: let the validator meet that as it would
        return replayed(messages, receive), scope
    # A state import of hundreds of megabytes is joined in a worker thread (bytes.join lets the lock go).
    size = sum(map(len, pieces))
    body = b"".join(pieces) if size <= THREADED_PARSE_BYTES else await asyncio.to_thread(b"".join, pieces)
    headers = [(name, value) for name, value in scope["headers"] if name != b"transfer-encoding"]
    headers.append((b"content-length", str(len(body)).encode("latin-1")))
    whole: Message = {"type": "http.request", "body": body, "more_body": False}
    return replayed([whole], receive), {**scope, "headers": headers}


def parse_big(raw: bytes) -> Any:
    """A body of megabytes, parsed with the cyclic garbage collector paused. The parse makes millions of objects
    that all survive it, so each collection it would set off frees nothing and walks every object made so far again;
    on a state of hundreds of megabytes those walks cost several times the parse itself.

    Pausing is process-wide; a second big parse that ends first turns the collector back on early, which only makes
    this one slower. Nothing is lost: whatever became garbage meanwhile is collected once it is back on."""
    gc.disable()
    try:
        return limits.loads(raw)
    finally:
        gc.enable()


def query_lists(query_string: bytes) -> dict[str, list[str]]:
    """The query's values by name, in the order sent: what Connexion's request reads from Starlette's query
    parameters before its URI parser resolves them, without building the multidict first."""
    lists: dict[str, list[str]] = {}
    for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        lists.setdefault(name, []).append(value)
    return lists


MAX_KEPT_BODY_TYPES = 16
# Bodies bigger than this are parsed in a worker thread.
THREADED_PARSE_BYTES = 1024 * 1024
# Where request validation leaves the query and the JSON body it parsed and validated, for the handler's arguments.
PARSED_QUERY = "fintesk_parsed_query"
PARSED_BODY = "fintesk_parsed_body"
# Where it leaves (in the request's state) the top-level fields of a valid body that the operation does not define.
UNDEFINED_FIELDS = "fintesk_undefined_fields"


class PreparedValidationAPI(RequestValidationAPI):  # type: ignore[misc]
    def make_operation(self, operation: AbstractOperation) -> RequestValidationOperation:
        return PreparedValidationOperation(
            self.next_app, operation=operation, strict_validation=self.strict_validation,
            validator_map=self.validator_map,
        )  # fmt: skip


class PreparedValidationMiddleware(RequestValidationMiddleware):  # type: ignore[misc]
    """Connexion's request validation middleware, each operation's validators made once (see above)."""

    api_cls = PreparedValidationAPI


VALIDATORS = {
    **VALIDATOR_MAP,
    "parameter": NamingParameterValidator,
    "body": MediaTypeDict({**VALIDATOR_MAP["body"], "*/*json": StrictJSONBodyValidator}),
}
