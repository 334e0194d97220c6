"""The in-process harness: the same checks as `fintesk-mock check`, run against an ASGI app without a network."""

from __future__ import annotations

import copy
import tomllib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hypothesis
import hypothesis.errors
import schemathesis
import yaml
from hypothesis import HealthCheck, Phase
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.core.failures import FailureGroup

import contract_tests.checks  # noqa: F401  (registers the Fintesk checks)
import contract_tests.lists  # noqa: F401
from mock_server import SPEC_PATH
from mock_server.data.fixtures import SAFE_LOADER

CONFIG_PATH = Path(__file__).with_name("schemathesis.toml")
# Checks that only make sense with a history of calls, run by the stateful part.
STATEFUL_ONLY = {"use_after_free", "ensure_resource_availability"}
# Checks for server behaviour outside the spec's operations, or for other users' data (needs two auths).
NOT_APPLICABLE = {"unsupported_method", "missing_required_header", "object_level_authorization"}


@dataclass(frozen=True)
class Finding:
    operation: str
    check: str
    message: str


@dataclass
class Report:
    requests: Counter[str] = field(default_factory=Counter)
    findings: list[Finding] = field(default_factory=list)

    @property
    def failed_checks(self) -> set[str]:
        return {finding.check for finding in self.findings}

    def failures_of(self, check: str) -> list[Finding]:
        return [finding for finding in self.findings if finding.check == check]


def check_names() -> list[str]:
    load_all_checks()
    return [name for name in CHECKS.get_all_names() if name not in NOT_APPLICABLE]


# The header that asks the mock to refuse body fields an operation does not define (see `mock_server.control.unknown`).
STRICT_HEADERS = {"x-fintesk-mock-strict": "true"}


def load_schema(app: Any, token: str, operation_ids: Sequence[str] | None = None, *, strict: bool = False) -> Any:
    settings = tomllib.loads(CONFIG_PATH.read_text(encoding="utf-8"))
    # Naming the token's scheme tells Schemathesis the auth is given, so it generates no other credentials.
    settings["auth"] = {"openapi": {"api_key_header": {"api_key": token}}}
    if strict:
        settings["headers"] = STRICT_HEADERS
    config = schemathesis.Config.from_dict(settings)
    raw = yaml.load(SPEC_PATH.read_text(encoding="utf-8"), Loader=SAFE_LOADER)
    if strict:
        raw = closed_bodies(raw)
    if operation_ids is not None:
        raw["paths"] = only(raw["paths"], set(operation_ids))
    schema = schemathesis.openapi.from_dict(raw, config=config)
    schema.app = app  # every call goes into the app, no network
    return schema


def closed_bodies(raw: dict[str, Any]) -> dict[str, Any]:
    """The spec with every request body that names its fields closed to others (`additionalProperties: false`),
    custom field keys too: what the mock in strict mode accepts. Valid data then holds no undefined field, and
    invalid data may, which the strict mock must refuse."""
    spec = copy.deepcopy(raw)
    schemas = spec.get("components", {}).get("schemas", {})
    for item in spec["paths"].values():
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            for media in operation.get("requestBody", {}).get("content", {}).values():
                schema = media.get("schema", {})
                reference = schema.get("$ref", "")
                if reference.startswith("#/components/schemas/"):
                    schema = schemas[reference.rsplit("/", 1)[1]]
                if schema.get("properties"):
                    schema["additionalProperties"] = False
                    schema.pop("patternProperties", None)
    return spec


def only(paths: dict[str, Any], keep: set[str]) -> dict[str, Any]:
    """The spec's paths reduced to some operations, with links to the others removed (for focused runs)."""
    kept: dict[str, Any] = {}
    for path, item in paths.items():
        operations = {method: copy.deepcopy(op) for method, op in item.items() if op.get("operationId") in keep}
        for operation in operations.values():
            for response in operation.get("responses", {}).values():
                links = response.get("links", {})
                for name in [name for name, link in links.items() if link.get("operationId") not in keep]:
                    del links[name]
        if operations:
            kept[path] = {**{key: value for key, value in item.items() if key == "parameters"}, **operations}
    return kept


def has_unfilled_parameter(case: Any) -> bool:
    """Whether a stateful step left a parameter without a value: a link whose source answer lacks the value
    (seen with `DELETE /deals?ids=` from a create) sends the request without it. Such a request is not
    schema-valid, so `positive_data_acceptance` does not apply; every other check still does."""
    values = [*(case.query or {}).values(), *(case.path_parameters or {}).values()]
    return any(value is None for value in values)


class Harness:
    """Runs generated requests for chosen operations against `app` and records which checks fail."""

    def __init__(
        self,
        app: Any,
        token: str,
        checks: Iterable[str] | None = None,
        operation_ids: Sequence[str] | None = None,
        *,
        strict: bool = False,
    ) -> None:
        self.schema = load_schema(app, token, operation_ids, strict=strict)
        self.headers = {"x-api-token": token, **(STRICT_HEADERS if strict else {})}
        names = list(checks) if checks is not None else check_names()
        self.checks = [(name, CHECKS.get_by_names([name])[0]) for name in names]

    def validate(self, report: Report, case: Any, response: Any, recorder: Any = None) -> None:
        report.requests[case.operation.label] += 1
        for name, check in self.checks:
            if name == "positive_data_acceptance" and has_unfilled_parameter(case):
                continue
            try:
                case.validate_response(response, checks=[check], headers=self.headers, recorder=recorder)
            except FailureGroup as group:
                for failure in group.exceptions:
                    report.findings.append(Finding(case.operation.label, name, str(failure).strip()[:500]))

    def run(self, operation_ids: Sequence[str] | None = None, *, max_examples: int = 10, seed: int = 0) -> Report:
        """Each operation on its own: examples and generated cases, positive and negative."""
        report = Report()
        for result in self.schema.get_all_operations():
            operation = result.ok()
            if operation_ids is not None and operation.definition.raw.get("operationId") not in operation_ids:
                continue
            self._run_operation(report, operation, max_examples, seed)
        return report

    def _run_operation(self, report: Report, operation: Any, max_examples: int, seed: int) -> None:
        @hypothesis.given(case=operation.as_strategy())
        @hypothesis.settings(
            max_examples=max_examples,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.explicit, Phase.generate],
            derandomize=True,
        )
        @hypothesis.seed(seed)
        def exercise(case: Any) -> None:
            self.validate(report, case, case.call(headers=self.headers))

        exercise()

    def call(self, operation_id: str, **parts: Any) -> Report:
        """One request built by hand (path_parameters, query, body), checked like the generated ones."""
        report = Report()
        case = self.schema.find_operation_by_id(operation_id).Case(**parts)
        self.validate(report, case, case.call(headers=self.headers))
        return report

    def run_stateful(self, *, max_examples: int = 20, steps: int = 8, seed: int = 0) -> Report:
        """Chains of calls along the spec's links: create, read, update, list, delete."""
        report = Report()
        harness = self

        class Workflow(self.schema.as_state_machine()):  # type: ignore[misc]
            def get_call_kwargs(self, case: Any) -> dict[str, Any]:
                return {"headers": harness.headers}

            def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
                harness.validate(report, case, response, recorder=getattr(self, "recorder", None))

        settings = hypothesis.settings(
            max_examples=max_examples,
            stateful_step_count=steps,
            phases=[Phase.generate],
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        # Generation follows the server's answers (ids it returns), so Hypothesis may call a run flaky when
        # it replays a prefix; like Schemathesis' own runner, start that run over with another seed.
        for attempt in range(3):
            try:
                hypothesis.seed(seed + attempt)(Workflow).run(settings=settings)
                break
            except hypothesis.errors.Flaky:
                continue
        return report
