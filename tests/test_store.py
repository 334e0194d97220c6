"""The data folder: every tenant kept in SQLite, written before each write's answer, read back exactly."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from mock_server.app import create_app
from mock_server.cli import main
from mock_server.data.store import FILE_NAME, Store, StoreError, tenant_key
from mock_server.settings import Settings
from tests.conftest import Api

TOKEN = "store-token-alpha"


def served(folder: Path, **settings: Any) -> TestClient:
    return create_app(Settings(data_dir=folder, **settings)).test_client()


def restarted(folder: Path, **settings: Any) -> Iterator[TestClient]:
    """The first server's store is closed, as a killed process's would be; a second server opens the folder."""
    with served(folder, **settings) as client:
        yield client


def export(client: TestClient, token: str = TOKEN) -> dict[str, Any]:
    response = client.get(f"/__mock__/tenants/{token}/state")
    assert response.status_code == 200
    return dict(response.json())


def close_store(client: TestClient) -> None:
    store = client.app.state["tenants"].store  # type: ignore[attr-defined]
    store.close()


def every_kind_of_write(api: Api) -> None:
    """Creates, updates that refile records, deletes, a bulk delete, custom fields (random keys, dropped values),
    activities, product lines, filters, webhooks, and the persons, organizations, pipelines, stages, products, notes
    and fields beyond the reference."""
    deal = api.data("POST", "/deals", json={"name": "Kept deal", "person_id": 1, "value": 10})
    api.data("PUT", f"/deals/{deal['id']}", json={"value": 25, "person_id": 2, "stage_id": 3})
    api.data("PUT", "/deals/1", json={"status": "won"})
    api.data("DELETE", "/deals", params={"ids": "2,3"})
    field = api.data("POST", "/dealFields", json={"name": "Region", "field_type": "enum",
                                                   "options": [{"label": "North"}, {"label": "South"}]})  # fmt: skip
    api.data("PUT", f"/deals/{deal['id']}", json={field["key"]: field["options"][0]["id"]})
    other = api.data("POST", "/dealFields", json={"name": "Doomed", "field_type": "varchar"})
    api.data("PUT", "/deals/5", json={other["key"]: "soon gone"})
    api.data("DELETE", f"/dealFields/{other['id']}")
    activity = api.data("POST", "/activities", json={"subject": "Call", "type": "call", "deal_id": deal["id"]})
    api.data("PUT", f"/activities/{activity['id']}", json={"done": 1, "deal_id": 1})
    api.data("POST", f"/deals/{deal['id']}/products", json={"product_id": 4, "item_price": 780, "quantity": 2})
    value_field = next(field for field in api.data("GET", "/dealFields") if field["key"] == "value")
    big = {"object": "deal", "field_id": str(value_field["id"]), "operator": ">", "value": 5}
    conditions = {"glue": "and", "conditions": [{"glue": "and", "conditions": [big]},
                                                {"glue": "or", "conditions": []}]}  # fmt: skip
    api.data("POST", "/filters", json={"name": "Big", "type": "deals", "conditions": conditions})
    hook = {"subscription_url": "http://127.0.0.1:9/hooks", "event_action": "*", "event_object": "deal"}
    gone = api.data("POST", "/webhooks", json=hook)
    api.data("POST", "/webhooks", json={**hook, "version": "1.0", "http_auth_user": "u"})
    assert api.delete(f"/webhooks/{gone['id']}").status_code == 200
    # The rest of the CRM: contacts, the catalogue, notes and their fields.
    org = api.data("POST", "/organizations", json={"name": "Kept Oy"})
    person = api.data("POST", "/persons", json={"name": "Kept Person", "org_id": org["id"],
                                                "email": [{"value": "kept@example.com"}]})  # fmt: skip
    api.data("PUT", f"/persons/{person['id']}/merge", json={"merge_with_id": 1})
    api.data("DELETE", "/organizations/2")
    pipeline = api.data("POST", "/pipelines", json={"name": "Kept pipeline"})
    stage = api.data("POST", "/stages", json={"name": "Kept stage", "pipeline_id": pipeline["id"]})
    api.data("PUT", f"/stages/{stage['id']}", json={"rotten_flag": True, "rotten_days": 5})
    product = api.data("POST", "/products", json={"name": "Kept product", "prices": [{"currency": "EUR", "price": 9}]})
    api.data("PUT", f"/products/{product['id']}", json={"code": "KP-1"})
    note = api.data("POST", "/notes", json={"content": "Kept note", "deal_id": deal["id"]})
    api.data("PUT", f"/notes/{note['id']}", json={"pinned_to_deal_flag": 1})
    api.data("POST", "/personFields", json={"name": "Kept person field", "field_type": "varchar"})
    api.data("POST", "/organizationFields", json={"name": "Kept org field", "field_type": "double"})
    api.data("POST", "/productFields", json={"name": "Kept product field", "field_type": "text"})


def test_every_write_is_read_back_exactly_after_a_restart(tmp_path: Path) -> None:
    with served(tmp_path) as client:
        every_kind_of_write(Api(client, TOKEN))
        before = export(client)
        close_store(client)
    for client in restarted(tmp_path):
        assert export(client) == before
        # ids, option ids and random keys go on where they were
        deal = Api(client, TOKEN).data("POST", "/deals", json={"name": "Next", "person_id": 1})
        assert deal["id"] == before["sequences"]["deals"] + 1


def test_every_write_survives_a_state_export_and_a_checked_import_into_another_tenant() -> None:
    with create_app(Settings()).test_client() as client:
        every_kind_of_write(Api(client, TOKEN))
        state = export(client)
        imported = client.put("/__mock__/tenants/copy/state", json=state)
        assert imported.status_code == 200, imported.text
        assert export(client, "copy") == state
        assert client.post("/__mock__/reset", json={"token": "copy"}).status_code == 200
        assert export(client, "copy")["records"]["persons"] != state["records"]["persons"]


def test_an_account_with_an_empty_resource_is_read_back(tmp_path: Path) -> None:
    with served(tmp_path, generate_deals=3) as client:  # a generated account has no notes
        assert export(client)["records"]["notes"] == []
        Api(client, TOKEN).data("POST", "/deals", json={"name": "Kept", "person_id": 1})
        before = export(client)
        close_store(client)
    for client in restarted(tmp_path, generate_deals=3):
        assert export(client) == before


def test_a_tenant_only_read_is_not_written(tmp_path: Path) -> None:
    with served(tmp_path) as client:
        assert client.get("/v1/deals", headers={"x-api-token": TOKEN}).status_code == 200
        store = client.app.state["tenants"].store  # type: ignore[attr-defined]
        assert store.stored_keys() == []


def test_reads_never_touch_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with served(tmp_path) as client:
        api = Api(client, TOKEN)
        api.data("POST", "/deals", json={"name": "Written", "person_id": 1})
        touched: list[str] = []
        for name in ("save", "replace", "forget", "load", "stored_keys", "_transaction"):
            original = getattr(Store, name)
            monkeypatch.setattr(Store, name, lambda *a, _n=name, _o=original, **k: touched.append(_n) or _o(*a, **k))
        for path in ("/deals", "/deals/1", "/activities", "/dealFields", "/itemSearch?term=Oy", "/deals/1/flow"):
            assert api.get(path).status_code == 200, path
        assert touched == []


def test_a_refused_write_is_not_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with served(tmp_path) as client:
        api = Api(client, TOKEN)
        api.data("POST", "/deals", json={"name": "Written", "person_id": 1})
        saves: list[str] = []
        monkeypatch.setattr(Store, "save", lambda self, key, account: saves.append(key))
        assert api.post("/deals", json={"name": "No person", "person_id": 999}).status_code == 404
        assert api.put("/deals/999", json={"name": "Ghost"}).status_code == 404
        assert saves == []
        api.data("POST", "/deals", json={"name": "Next", "person_id": 1})
        assert saves == [tenant_key(TOKEN)]


def test_a_write_whose_commit_fails_is_not_acknowledged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with served(tmp_path) as client:
        api = Api(client, TOKEN)

        def failing(self: Store, key: str, account: Any) -> None:
            raise sqlite3.OperationalError("disk I/O error")

        monkeypatch.setattr(Store, "save", failing)
        assert api.post("/deals", json={"name": "Lost", "person_id": 1}).status_code == 500


def test_control_plane_changes_are_kept(tmp_path: Path) -> None:
    with served(tmp_path) as client:
        for token in ("gone", "imported", "loaded", "scenario"):
            Api(client, token).data("POST", "/deals", json={"name": f"by {token}", "person_id": 1})
        state = export(client, "gone")
        assert client.post("/__mock__/reset", json={"token": "gone"}).status_code == 200
        assert client.put("/__mock__/tenants/imported/state", json=state).status_code == 200
        assert client.post("/__mock__/tenants/loaded/load", json={"fixtures": "default"}).status_code == 200
        response = client.post("/__mock__/scenarios/deleted-and-lost-deals", json={"token": "scenario"})
        assert response.status_code == 200
        expected = {token: export(client, token) for token in ("imported", "loaded", "scenario")}
        close_store(client)
    for client in restarted(tmp_path):
        for token, state in expected.items():
            assert export(client, token) == state, token
        names = [deal["name"] for deal in export(client, "gone")["records"]["deals"]]
        assert "by gone" not in names
        assert "by gone" in [deal["name"] for deal in expected["imported"]["records"]["deals"]]


def test_reset_of_every_tenant_is_kept(tmp_path: Path) -> None:
    with served(tmp_path) as client:
        Api(client, TOKEN).data("POST", "/deals", json={"name": "Forgotten", "person_id": 1})
        assert client.post("/__mock__/reset", json={}).status_code == 200
        close_store(client)
    for client in restarted(tmp_path):
        assert "Forgotten" not in [deal["name"] for deal in export(client)["records"]["deals"]]
        assert client.app.state["tenants"].store.stored_keys() == []  # type: ignore[attr-defined]


def test_seed_and_scenario_for_every_tenant_are_kept(tmp_path: Path) -> None:
    with served(tmp_path) as client:
        assert client.post("/__mock__/seed", json={"seed": 11}).status_code == 200
        assert client.post("/__mock__/scenarios/deleted-and-lost-deals", json={}).status_code == 200
        expected = export(client, "newcomer")
        close_store(client)
    for client in restarted(tmp_path):
        assert export(client, "newcomer") == expected
        assert client.app.state["tenants"].seed == 11  # type: ignore[attr-defined]


def test_the_folder_holds_no_token(tmp_path: Path) -> None:
    with served(tmp_path) as client:
        Api(client, TOKEN).data("POST", "/deals", json={"name": "Kept", "person_id": 1})
        close_store(client)
    stored = b"".join(path.read_bytes() for path in tmp_path.iterdir())
    assert b"Kept" in stored and TOKEN.encode() not in stored


def test_a_second_server_on_the_same_folder_is_refused(tmp_path: Path) -> None:
    first = Store(tmp_path)
    with pytest.raises(StoreError, match=FILE_NAME):
        Store(tmp_path)
    first.close()
    Store(tmp_path).close()


# --- a folder that cannot be read stops start-up, naming the file ---------------------------------------------


@pytest.fixture
def written(tmp_path: Path) -> Path:
    """A data folder with one tenant written, its server gone."""
    with served(tmp_path) as client:
        Api(client, TOKEN).data("POST", "/deals", json={"name": "Kept", "person_id": 1})
        close_store(client)
    return tmp_path / FILE_NAME


def start_up_error(folder: Path) -> str:
    with pytest.raises(StoreError) as error:
        create_app(Settings(data_dir=folder))
    message = str(error.value)
    assert str(folder / FILE_NAME) in message and "\n" not in message
    return message


def test_garbled_file_stops_start_up(written: Path) -> None:
    data = bytearray(written.read_bytes())
    data[:100] = b"\xa5" * 100
    written.write_bytes(bytes(data))
    assert "cannot be read" in start_up_error(written.parent)


def test_truncated_file_stops_start_up(written: Path) -> None:
    data = written.read_bytes()
    written.write_bytes(data[: len(data) // 2])
    start_up_error(written.parent)


def test_newer_format_stops_start_up(written: Path) -> None:
    with closing(sqlite3.connect(written)) as db:
        db.execute("PRAGMA user_version=99")
    assert "newer" in start_up_error(written.parent)


def test_a_record_that_is_not_json_stops_start_up(written: Path) -> None:
    with closing(sqlite3.connect(written)) as db, db:
        db.execute("UPDATE records SET record = '{\"id\": 1, ' WHERE resource = 'deals' AND id = 1")
    assert "not JSON" in start_up_error(written.parent)


def test_a_record_that_is_not_a_record_stops_start_up(written: Path) -> None:
    with closing(sqlite3.connect(written)) as db, db:
        db.execute("UPDATE records SET record = '[1, 2]' WHERE resource = 'deals' AND id = 1")
    assert "deals" in start_up_error(written.parent)


def test_a_record_of_a_missing_resource_stops_start_up(written: Path) -> None:
    with closing(sqlite3.connect(written)) as db, db:
        db.execute("UPDATE records SET resource = 'gadgets' WHERE resource = 'deals' AND id = 1")
    assert "records" in start_up_error(written.parent)


def test_serve_names_the_damaged_file_on_one_line(written: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    written.write_bytes(b"not a database at all" * 100)
    monkeypatch.setattr(
        "mock_server.cli.run_server", lambda *args, **kwargs: pytest.fail("a damaged folder was served")
    )
    result = CliRunner().invoke(main, ["serve", "--data-dir", str(written.parent)])
    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()
    assert line.startswith("Error: cannot start: ") and str(written) in line and "restore it from a copy" in line
