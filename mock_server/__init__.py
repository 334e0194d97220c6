"""Fintesk Mock: a stateful mock of the Fintesk CRM API v2 served from its OpenAPI document."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # typed as what `__getattr__` below hands out
    from mock_server.interception import intercept as intercept

__version__ = "0.2.0"

# The spec and the bundled fixtures are package data (`bundled/`), found through the installed package: in a
# checkout `bundled/` links to the top-level spec/ and fixtures/ folders, in a wheel it holds their copies.
BUNDLED = Path(str(files(__name__))) / "bundled"
SPEC_PATH = BUNDLED / "spec" / "openapi.yaml"
ADMIN_SPEC_PATH = BUNDLED / "spec" / "admin.yaml"
FIXTURES_ROOT = BUNDLED / "fixtures"
DEFAULT_FIXTURES = FIXTURES_ROOT / "default"


def __getattr__(name: str) -> object:
    # `mock_server.intercept` without making every `import mock_server` load httpx and urllib3.
    if name == "intercept":
        from mock_server.interception import intercept

        return intercept
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
