"""Request validation that names what it rejects, and a JSON body parser that never lets bad bytes through."""

from __future__ import annotations

import json
import math
from collections.abc import AsyncGenerator
from typing import Any

from connexion.datastructures import MediaTypeDict
from connexion.exceptions import BadRequestProblem
from connexion.json_schema import Draft4RequestValidator
from connexion.uri_parsing import OpenAPIURIParser
from connexion.utils import is_null, is_nullable
from connexion.validators import VALIDATOR_MAP, JSONRequestBodyValidator, ParameterValidator
from jsonschema import Draft4Validator, Draft7Validator, ValidationError
from jsonschema.exceptions import best_match
from starlette.types import Scope

# Draft 4 knows no `date` format; the API's dates must be real ones, so use the checker that does.
FORMATS = Draft7Validator.FORMAT_CHECKER


class LenientURIParser(OpenAPIURIParser):  # type: ignore[misc]
    """Comma lists drop empty items, so `exclude=` is an empty list and `ids=1,2,` is `[1, 2]`."""

    @staticmethod
    def _split(value: str, param_defn: dict[str, Any], _in: str) -> list[str]:
        return [item for item in OpenAPIURIParser._split(value, param_defn, _in) if item != ""]


class NamingParameterValidator(ParameterValidator):  # type: ignore[misc]
    @staticmethod
    def validate_parameter(
        parameter_type: str, value: Any, param: dict[str, Any], param_name: str | None = None
    ) -> str | None:
        if is_nullable(param) and is_null(value):
            return None
        name = param["name"]
        if value is not None:
            schema = param.get("schema", param)
            try:
                Draft4Validator(schema, format_checker=FORMATS).validate(value)
            except ValidationError as error:
                return f"{parameter_type} parameter '{name}': {error.message}"
        elif param.get("required"):
            return f"{parameter_type} parameter '{name}' is required."
        return None


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _finite(value: str) -> float:
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{value} is too large for a number")
    return number


def _bounded_int(value: str) -> int:
    # Any integer is valid JSON and schema-valid, but one a float cannot hold breaks every sum it enters.
    if len(value.lstrip("-")) > 300:
        raise ValueError(f"{value[:20]}... is too large for a number")
    return int(value)


class StrictJSONBodyValidator(JSONRequestBodyValidator):  # type: ignore[misc]
    """Bodies must be UTF-8 JSON with finite numbers; anything else is a 400 that says why."""

    @property
    def _validator(self) -> Any:
        return Draft4RequestValidator(self._schema, format_checker=FORMATS)

    async def _parse(self, stream: AsyncGenerator[bytes, None], scope: Scope) -> Any:
        raw = b"".join([message async for message in stream])
        if not raw:
            return None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequestProblem(detail="the request body is not valid UTF-8.") from None
        if not text.strip():
            return None
        try:
            return json.loads(text, parse_constant=_reject_constant, parse_float=_finite, parse_int=_bounded_int)
        except ValueError as error:
            raise BadRequestProblem(detail=f"the request body is not valid JSON: {error}.") from None

    def _validate(self, body: Any) -> dict[str, Any] | None:
        if not self._nullable and body is None:
            raise BadRequestProblem(detail="the request body must not be empty.")
        try:
            self._validator.validate(body)
        except ValidationError as error:
            raise BadRequestProblem(detail=describe(error)) from None
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
        return f"{prefix}: {best.message}"
    return f"{prefix}: {error.message}"


VALIDATORS = {
    **VALIDATOR_MAP,
    "parameter": NamingParameterValidator,
    "body": MediaTypeDict({**VALIDATOR_MAP["body"], "*/*json": StrictJSONBodyValidator}),
}
