"""mock_server.http.docs: the specs served as written, from bytes made once, and Swagger UI for both APIs."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from connexion.spec import Specification
from starlette.testclient import TestClient

from mock_server import ADMIN_SPEC_PATH, SPEC_PATH
from mock_server.app import create_app
from mock_server.http import docs
from mock_server.settings import Settings
from tests.server import running_server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
# Virtual time: Chromium runs the page's scripts and fetches until they are idle, fast-forwarding its clock.
VIRTUAL_TIME_MS = 60_000
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def document(path: Path) -> dict[str, Any]:
    return dict(yaml.safe_load(path.read_text(encoding="utf-8")))


SERVED = [("/v1/openapi.json", SPEC_PATH, "/v1"), ("/__mock__/openapi.json", ADMIN_SPEC_PATH, "/__mock__")]


@pytest.mark.parametrize(("url", "path", "base"), SERVED)
def test_openapi_json__is_the_document_as_written_with_its_refs(
    client: TestClient, url: str, path: Path, base: str
) -> None:
    response = client.get(url)

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {**document(path), "servers": [{"url": base}]}
    assert '"$ref"' in response.text


def test_openapi_yaml__is_the_same_document(client: TestClient) -> None:
    response = client.get("/v1/openapi.yaml")

    assert response.status_code == 200
    assert yaml.safe_load(response.text) == client.get("/v1/openapi.json").json()


def test_openapi_json__is_encoded_at_start_up_and_never_per_request(monkeypatch: pytest.MonkeyPatch) -> None:
    encoded: list[str] = []
    monkeypatch.setattr(docs, "json_bytes", lambda document: encoded.append(document["info"]["title"]) or b"{}")
    monkeypatch.setattr(Specification, "clone", lambda _self: pytest.fail("the spec was copied for a request"))
    with create_app(Settings()).test_client() as client:
        at_start = list(encoded)
        bodies = [client.get(url).content for url in ("/v1/openapi.json", "/__mock__/openapi.json") * 3]

    assert len(at_start) == 2  # the API's and the control plane's
    assert encoded == at_start
    assert bodies == [b"{}"] * 6


def test_admin_docs__serves_swagger_ui_for_the_control_plane(client: TestClient) -> None:
    response = client.get("/__mock__/docs/")

    assert response.status_code == 200
    assert "swagger-ui" in response.text
    assert 'url: "/__mock__/openapi.json"' in response.text
    assert client.get("/__mock__/docs", follow_redirects=False).headers["location"] == "/__mock__/docs/"


def operation_ids(spec: dict[str, Any]) -> set[str]:
    """Swagger UI's element id of each operation of the spec, under each of its tags."""
    return {
        f"operations-{swagger_ui_id(tag)}-{item[method]['operationId']}"
        for item in spec["paths"].values() for method in item if method in HTTP_METHODS
        for tag in item[method].get("tags", ["default"])
    }  # fmt: skip


def swagger_ui_id(name: str) -> str:
    """A tag as Swagger UI writes it into element ids: blanks become `_`, then it is escaped as CSS escapes an
    identifier (a backslash before each ASCII character other than letters, digits, `-` and `_`)."""
    return "".join(
        char if char.isalnum() or char in "-_" or ord(char) >= 0x80 else f"\\{char}" for char in name.replace(" ", "_")
    )


def rendered_dom(url: str) -> str:
    assert CHROMIUM is not None
    with tempfile.TemporaryDirectory() as profile:
        completed = subprocess.run(
            [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--virtual-time-budget={VIRTUAL_TIME_MS}",
             "--dump-dom", url],
            capture_output=True, text=True, timeout=180, check=False,
        )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-2000:]
    return completed.stdout


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed: Swagger UI cannot be rendered headless")
def test_swagger_ui__renders_every_tag_and_operation_of_both_apis_in_chromium() -> None:
    with running_server() as base_url:
        pages = {path: rendered_dom(f"{base_url}{docs_path}") for docs_path, path in
                 (("/v1/docs/", SPEC_PATH), ("/__mock__/docs/", ADMIN_SPEC_PATH))}  # fmt: skip

    for path, dom in pages.items():
        spec = document(path)
        tags = {tag["name"] for tag in spec["tags"]}
        assert set(re.findall(r'data-tag="([^"]+)"', dom)) == tags, path.name
        shown = set(re.findall(r'id="(operations-(?!tag-)[^"]+)"', dom))
        assert shown == operation_ids(spec), path.name
