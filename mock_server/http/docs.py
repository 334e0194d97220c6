"""The served spec (`openapi.json`, `openapi.yaml`) as bytes prepared once, with the document's `$ref`s kept.

Connexion answers each request for the spec by copying the document, validating it, resolving every `$ref`
into its place and encoding the result: over a megabyte and seconds of work on a busy machine, for a document
that never changes while the server runs. Swagger UI resolves references itself, so the document is served as
it was written, only its `servers` set to where the API is mounted (as Connexion does), encoded once per mount.
"""

from __future__ import annotations

from typing import Any

import orjson
import yaml
from connexion.middleware.swagger_ui import SwaggerUIAPI
from starlette.requests import Request
from starlette.responses import Response

# Mount points a document is prepared for: the API's own, and a few a proxy in front may add (`root_path`).
MAX_PREPARED_MOUNTS = 8


def as_mounted(document: dict[str, Any], base_path: str) -> dict[str, Any]:
    """The document with its one server at `base_path`, the rest of it shared, not copied."""
    return {**document, "servers": [{"url": base_path.rstrip("/") or "/"}]}


def json_bytes(document: dict[str, Any]) -> bytes:
    return orjson.dumps(document)


def yaml_bytes(document: dict[str, Any]) -> bytes:
    return yaml.dump(document, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), sort_keys=False,
                     allow_unicode=True).encode("utf-8")  # fmt: skip


class PreparedSwaggerUIAPI(SwaggerUIAPI):  # type: ignore[misc]
    """Connexion's Swagger UI API, answering for the spec from bytes made once per mount point."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._prepared: dict[tuple[str, str], bytes] = {}
        if self.options.openapi_spec_available:
            self.prepared(self.base_path, "json")  # made at start-up, not on the first request

    def prepared(self, base_path: str, form: str) -> bytes:
        key = (base_path, form)
        body = self._prepared.get(key)
        if body is None:
            document = as_mounted(self.specification.raw, base_path)
            body = json_bytes(document) if form == "json" else yaml_bytes(document)
            if len(self._prepared) < 2 * MAX_PREPARED_MOUNTS:
                self._prepared[key] = body
        return body

    async def _get_openapi_json(self, request: Request) -> Response:
        body = self.prepared(self._base_path_for_prefix(request), "json")
        return Response(content=body, status_code=200, media_type="application/json")

    async def _get_openapi_yaml(self, request: Request) -> Response:
        body = self.prepared(self._base_path_for_prefix(request), "yaml")
        return Response(content=body, status_code=200, media_type="text/yaml")
