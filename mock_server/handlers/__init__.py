"""One thin handler per operationId: parse, one domain call, envelope."""

from __future__ import annotations

import re
from collections.abc import Callable
from importlib import import_module
from typing import Any

MODULES = ("activities", "activity_types", "admin", "currencies", "deal_fields", "deal_products", "deals",
           "filter_helpers", "filters", "reports", "search", "pipelines", "products", "notes", "recents", "persons",
           "person_fields", "organizations", "organization_fields", "users", "webhooks")  # fmt: skip


def snake_case(operation_id: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", operation_id).lower()


def registry() -> dict[str, Callable[..., Any]]:
    """Every handler by the snake_case name of its operationId."""
    handlers: dict[str, Callable[..., Any]] = {}
    for name in MODULES:
        module = import_module(f"{__name__}.{name}")
        for attribute, value in vars(module).items():
            if (
                callable(value)
                and getattr(value, "__module__", None) == module.__name__
                and not attribute.startswith("_")
            ):
                handlers[attribute] = value
    return handlers
