"""Fixture loading: the bundled set is valid, and a bad record stops start-up naming file, record and field."""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from mock_server import DEFAULT_FIXTURES
from mock_server.app import create_app
from mock_server.data import fixtures
from mock_server.data.fixtures import FixtureError, load
from mock_server.settings import Settings
from tests.conftest import assert_error

FIXTURE_RECORDS = load(DEFAULT_FIXTURES).records


@pytest.fixture
def fixture_copy(tmp_path: Path) -> Path:
    target = tmp_path / "fixtures"
    shutil.copytree(DEFAULT_FIXTURES, target)
    return target


def edit(folder: Path, resource: str, record_id: int, **changes: object) -> None:
    path = folder / f"{resource}.yaml"
    records = yaml.safe_load(path.read_text())
    record = next(item for item in records if item["id"] == record_id)
    for key, value in changes.items():
        if value is ...:
            del record[key]
        else:
            record[key] = value
    path.write_text(yaml.safe_dump(records, allow_unicode=True, sort_keys=False))


def test_bundled_fixtures_load_with_the_documented_sizes() -> None:
    fixture = load(DEFAULT_FIXTURES)
    sizes = {name: len(records) for name, records in fixture.records.items()}
    assert sizes["users"] >= 3
    assert sizes["pipelines"] == 2
    assert sizes["deals"] >= 50
    assert sizes["activities"] >= 100
    assert len({deal["currency"] for deal in fixture.records["deals"]}) >= 3
    assert {deal["status"] for deal in fixture.records["deals"]} == {"open", "won", "lost", "deleted"}


def test_wrong_type_names_file_record_and_field(fixture_copy: Path) -> None:
    edit(fixture_copy, "deals", 3, value="a lot")
    with pytest.raises(FixtureError) as caught:
        load(fixture_copy)
    message = str(caught.value)
    assert "deals.yaml" in message and "id 3" in message and "'value'" in message


def test_missing_field_names_the_field(fixture_copy: Path) -> None:
    edit(fixture_copy, "activities", 5, subject=...)
    with pytest.raises(FixtureError, match=r"activities\.yaml.*id 5.*'subject'"):
        load(fixture_copy)


def test_dangling_reference_names_the_target(fixture_copy: Path) -> None:
    edit(fixture_copy, "deals", 8, stage_id=999)
    with pytest.raises(FixtureError, match=r"deals\.yaml.*id 8.*'stage_id'.*999"):
        load(fixture_copy)


def test_duplicate_id_is_refused(fixture_copy: Path) -> None:
    edit(fixture_copy, "persons", 2, id=1)
    with pytest.raises(FixtureError, match=r"persons\.yaml.*'id'.*used twice"):
        load(fixture_copy)


def test_unknown_activity_type_is_refused(fixture_copy: Path) -> None:
    edit(fixture_copy, "activities", 7, type="teleport")
    with pytest.raises(FixtureError, match=r"activities\.yaml.*id 7.*'type'.*teleport"):
        load(fixture_copy)


def test_missing_file_is_named(fixture_copy: Path) -> None:
    (fixture_copy / "notes.yaml").unlink()
    with pytest.raises(FixtureError, match=r"notes\.yaml"):
        load(fixture_copy)


def test_unparsable_file_is_named(fixture_copy: Path) -> None:
    (fixture_copy / "users.yaml").write_text("- id: [unclosed\n")
    with pytest.raises(FixtureError, match=r"users\.yaml.*cannot be read"):
        load(fixture_copy)


def test_json_fixture_files_are_read(fixture_copy: Path) -> None:
    records = yaml.safe_load((fixture_copy / "notes.yaml").read_text())
    (fixture_copy / "notes.yaml").unlink()
    (fixture_copy / "notes.json").write_text(json.dumps(records))
    assert len(load(fixture_copy).records["notes"]) == len(records)


def test_app_refuses_to_start_on_a_bad_fixture(fixture_copy: Path) -> None:
    edit(fixture_copy, "users", 1, email=42)
    with pytest.raises(FixtureError, match=r"users\.yaml.*id 1.*'email'"):
        create_app(Settings(fixtures=fixture_copy))


def test_record_without_id_is_refused(fixture_copy: Path) -> None:
    path = fixture_copy / "persons.yaml"
    records = yaml.safe_load(path.read_text())
    del records[4]["id"]
    path.write_text(yaml.safe_dump(records, allow_unicode=True, sort_keys=False))
    with pytest.raises(FixtureError, match=r"persons\.yaml.*record #5.*'id'"):
        load(fixture_copy)


def test_unquoted_time_is_named_like_any_wrong_type(fixture_copy: Path) -> None:
    # YAML reads an unquoted `2024-01-01 09:00:00` as a timestamp, not the string a fixture time is.
    edit(fixture_copy, "deals", 4, add_time=datetime(2024, 1, 1, 9, 0))
    assert "add_time: 2024-01-01 09:00:00\n" in (fixture_copy / "deals.yaml").read_text()
    with pytest.raises(FixtureError, match=r"deals\.yaml.*id 4.*'add_time'.*not of type 'string'"):
        load(fixture_copy)


@pytest.fixture
def small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lists are checked a few records at a time, so the bundled set spans many parts."""
    monkeypatch.setattr(fixtures, "PART", 3)


@pytest.mark.usefixtures("small_parts")
def test_a_dangling_user_or_a_duplicate_id_in_a_later_part_is_refused(fixture_copy: Path) -> None:
    edit(fixture_copy, "deals", 30, user_id=77)
    with pytest.raises(FixtureError, match=r"deals\.yaml: record id 30: field 'user_id': users has no record"):
        load(fixture_copy)
    edit(fixture_copy, "deals", 30, user_id=1, id=3)
    with pytest.raises(FixtureError, match=r"deals\.yaml.*\(id 3\): field 'id': id 3 is used twice"):
        load(fixture_copy)


@pytest.mark.usefixtures("small_parts")
def test_bad_record_in_a_later_part_is_named(fixture_copy: Path) -> None:
    edit(fixture_copy, "activities", 50, done="yes")
    with pytest.raises(FixtureError, match=r"activities\.yaml: record #\d+ \(id 50\): field 'done'"):
        load(fixture_copy)


@pytest.mark.usefixtures("small_parts")
def test_id_used_in_two_parts_is_refused(fixture_copy: Path) -> None:
    edit(fixture_copy, "activities", 40, id=2)
    with pytest.raises(FixtureError, match=r"activities\.yaml.*\(id 2\): field 'id': id 2 is used twice"):
        load(fixture_copy)


@pytest.mark.usefixtures("small_parts")
def test_dangling_reference_in_a_later_part_names_its_record(fixture_copy: Path) -> None:
    edit(fixture_copy, "activities", 60, deal_id=9999)
    with pytest.raises(FixtureError, match=r"activities\.yaml: record id 60: field 'deal_id': deals has no record"):
        load(fixture_copy)


@pytest.mark.usefixtures("small_parts")
def test_bundled_fixtures_load_alike_in_small_parts() -> None:
    assert load(DEFAULT_FIXTURES).records == FIXTURE_RECORDS


def test_loading_a_set_with_an_unquoted_time_is_a_400_naming_the_field(tmp_path: Path) -> None:
    shutil.copytree(DEFAULT_FIXTURES, tmp_path / "mine")
    shutil.copytree(DEFAULT_FIXTURES, tmp_path / "timed")
    edit(tmp_path / "timed", "activities", 3, add_time=datetime(2024, 1, 1, 9, 0))
    with create_app(Settings(fixtures=tmp_path / "mine")).test_client() as client:
        response = client.post("/__mock__/tenants/t/load", json={"fixtures": "timed"})
    assert_error(response, 400, "activities.yaml", "id 3", "'add_time'")


def as_json(folder: Path) -> None:
    """The fixture files of `folder` written as JSON instead of YAML."""
    for path in folder.glob("*.yaml"):
        path.with_suffix(".json").write_text(json.dumps(yaml.safe_load(path.read_text()), default=str))
        path.unlink()


def test_a_loaded_set_of_json_files_is_read_and_a_cut_one_is_named(tmp_path: Path) -> None:
    shutil.copytree(DEFAULT_FIXTURES, tmp_path / "mine")
    shutil.copytree(DEFAULT_FIXTURES, tmp_path / "big")
    as_json(tmp_path / "big")
    edit_json = tmp_path / "big" / "deals.json"
    deals = json.loads(edit_json.read_text())
    deals[0]["name"] = "Read from JSON"
    edit_json.write_text(json.dumps(deals))
    with create_app(Settings(fixtures=tmp_path / "mine")).test_client() as client:
        loaded = client.post("/__mock__/tenants/t/load", json={"fixtures": "big"})
        assert loaded.status_code == 200, loaded.text
        deal = client.get(f"/v1/deals/{deals[0]['id']}", headers={"x-api-token": "t"}).json()["data"]
        assert deal["name"] == "Read from JSON"
        edit_json.write_text(json.dumps(deals)[:-1])  # cut short
        refused = client.post("/__mock__/tenants/t/load", json={"fixtures": "big"})
    assert_error(refused, 400, "deals.json", "cannot be read")
