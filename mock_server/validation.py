"""Request validation that names the parameter it rejects, for error messages a user can act on."""

from __future__ import annotations

from typing import Any

from connexion.utils import is_null, is_nullable
from connexion.validators import VALIDATOR_MAP, ParameterValidator
from jsonschema import Draft4Validator, ValidationError


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
                Draft4Validator(schema, format_checker=Draft4Validator.FORMAT_CHECKER).validate(value)
            except ValidationError as error:
                return f"{parameter_type} parameter '{name}': {error.message}"
        elif param.get("required"):
            return f"{parameter_type} parameter '{name}' is required."
        return None


VALIDATORS = {**VALIDATOR_MAP, "parameter": NamingParameterValidator}
