"""Fintesk Mock: a stateful mock of the Fintesk CRM API v2 served from its OpenAPI document."""

from __future__ import annotations

from pathlib import Path

__version__ = "0.1.0"

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SPEC_PATH = PROJECT_ROOT / "spec" / "openapi.yaml"
ADMIN_SPEC_PATH = PROJECT_ROOT / "spec" / "admin.yaml"
DEFAULT_FIXTURES = PROJECT_ROOT / "fixtures" / "default"
