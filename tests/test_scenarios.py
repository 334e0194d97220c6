"""Named scenarios: every file loads and validates, each keeps its promise, and bad files are named precisely."""

from __future__ import annotations

import re
import unicodedata
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from mock_server.control.faults import Faults
from mock_server.control.scenarios import SCENARIOS_DIR, Scenario, UnknownScenario, load_scenario, scenario_names
from mock_server.data.fixtures import FixtureError, validate
from mock_server.data.generate import reference_time
from mock_server.domain.clock import parse_datetime
from mock_server.domain.money import line_sum, number

REQUIRED = ("rate-limited", "flaky-server", "slow-network", "deleted-and-lost-deals", "unicode-and-long-names",
            "big-account", "deal-with-many-products")  # fmt: skip
NAMES = [name for name, _ in scenario_names()]
EMOJI = re.compile("[\U0001f300-\U0001faff]")


def scenario(name: str) -> Scenario:
    return _cache.get(name) or _cache.setdefault(name, load_scenario(name))


_cache: dict[str, Scenario] = {}


def write(folder: Path, name: str, document: dict[str, Any]) -> None:
    (folder / f"{name}.yaml").write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")


def test_every_required_scenario_exists() -> None:
    assert set(REQUIRED) <= set(NAMES)


def test_names_are_sorted_with_one_line_descriptions() -> None:
    listed = scenario_names()
    assert [name for name, _ in listed] == sorted(NAMES)
    assert all(description and "\n" not in description for _, description in listed)


@pytest.mark.parametrize("name", NAMES)
def test_scenario_data_passes_full_validation(name: str) -> None:
    fixture = scenario(name).fixture
    validate(fixture.company, fixture.records, name)


@pytest.mark.parametrize("name", NAMES)
def test_scenario_faults_are_accepted_by_the_fault_registry(name: str) -> None:
    faults = Faults()
    for spec in scenario(name).faults:
        faults.add(dict(spec))
    assert len(faults.list()) == len(scenario(name).faults)


def test_rate_limited_sets_a_low_rate_limit() -> None:
    limit = scenario("rate-limited").rate_limit
    assert limit is not None and 0 < limit <= 10


def test_other_scenarios_leave_the_rate_limit_alone() -> None:
    assert scenario("flaky-server").rate_limit is None


def test_flaky_server_has_probabilistic_5xx_faults_on_every_v1_path() -> None:
    faults = scenario("flaky-server").faults
    assert faults and all(fault["kind"] == "status" and 500 <= fault["status"] <= 599 for fault in faults)
    assert all(0 < fault["probability"] < 1 and fault["path"] == "/v1/*" for fault in faults)


def test_slow_network_delays_every_v1_request_by_300_to_800_ms() -> None:
    faults = scenario("slow-network").faults
    assert faults and all(fault["kind"] == "delay" and 300 <= fault["delay_ms"] <= 800 for fault in faults)
    # The last delay has no probability, so a request no earlier delay picked is still delayed.
    assert faults[-1].get("probability") is None


def test_deleted_and_lost_has_many_deals_deleted_within_30_days() -> None:
    fixture = scenario("deleted-and-lost-deals").fixture
    since = reference_time(fixture) - timedelta(days=30)
    deleted = [deal for deal in fixture.records["deals"] if deal["status"] == "deleted"]
    recent = [deal for deal in deleted if parse_datetime(deal["update_time"]) >= since]
    assert len(recent) >= 15


def test_deleted_and_lost_has_many_lost_deals_all_with_a_reason() -> None:
    lost = [deal for deal in scenario("deleted-and-lost-deals").fixture.records["deals"] if deal["status"] == "lost"]
    assert len(lost) >= 15
    assert all(deal["lost_reason"] and deal["lost_time"] for deal in lost)


@pytest.mark.parametrize("resource", ["deals", "persons", "organizations", "activities"])
def test_unicode_scenario_has_long_and_emoji_names_in(resource: str) -> None:
    key = "subject" if resource == "activities" else "name"
    names = [record[key] for record in scenario("unicode-and-long-names").fixture.records[resource]]
    assert any(len(name) > 255 for name in names)
    assert any(EMOJI.search(name) for name in names)


def test_unicode_scenario_has_right_to_left_text_and_combining_marks() -> None:
    names = [deal["name"] for deal in scenario("unicode-and-long-names").fixture.records["deals"]]
    assert any(unicodedata.bidirectional(character) in ("R", "AL") for name in names for character in name)
    assert any(unicodedata.combining(character) for name in names for character in name)


def test_changes_replace_records_with_the_same_id() -> None:
    organizations = scenario("unicode-and-long-names").fixture.records["organizations"]
    assert [org["name"] for org in organizations if org["id"] == 20] == ["Espoo Robotics Oy 🤖"]


def test_many_products_has_one_deal_with_200_lines_of_every_kind() -> None:
    records = scenario("deal-with-many-products").fixture.records
    deal_id, count = max(_line_counts(records["deal_products"]).items(), key=lambda item: item[1])
    lines = [line for line in records["deal_products"] if line["deal_id"] == deal_id]
    assert count >= 200
    assert {line["discount_type"] for line in lines} == {"percentage", "amount"}
    assert {line["tax_method"] for line in lines} == {"exclusive", "inclusive", "none"}
    assert {line["enabled_flag"] for line in lines} == {True, False}


def test_many_products_deal_is_worth_its_enabled_lines() -> None:
    records = scenario("deal-with-many-products").fixture.records
    deal_id = max(_line_counts(records["deal_products"]).items(), key=lambda item: item[1])[0]
    deal = next(deal for deal in records["deals"] if deal["id"] == deal_id)
    enabled = [line for line in records["deal_products"] if line["deal_id"] == deal_id and line["enabled_flag"]]
    assert deal["value"] == number(sum(line_sum(line) for line in enabled))


def test_big_account_has_thousands_of_deals_from_a_seed() -> None:
    document = yaml.safe_load((SCENARIOS_DIR / "big-account.yaml").read_text(encoding="utf-8"))
    assert "seed" in document["generate"]
    assert len(scenario("big-account").fixture.records["deals"]) >= 1000


def test_big_account_is_the_same_on_every_load() -> None:
    assert load_scenario("big-account").fixture.records["deals"] == scenario("big-account").fixture.records["deals"]


def test_unknown_name_lists_the_known_scenarios() -> None:
    with pytest.raises(UnknownScenario) as caught:
        load_scenario("no-such-scenario")
    message = str(caught.value)
    assert "no-such-scenario" in message and all(name in message for name in REQUIRED)


def test_a_name_with_a_path_is_unknown() -> None:
    with pytest.raises(UnknownScenario):
        load_scenario("../default/deals")


def test_bad_field_type_names_file_and_field(tmp_path: Path) -> None:
    write(tmp_path, "broken", {"description": "Broken.", "rate_limit": "fast"})
    with pytest.raises(FixtureError, match=r"broken\.yaml: .*field 'rate_limit'"):
        load_scenario("broken", tmp_path)


def test_unknown_field_names_file_and_field(tmp_path: Path) -> None:
    write(tmp_path, "broken", {"description": "Broken.", "fault": []})
    with pytest.raises(FixtureError, match=r"broken\.yaml: field 'fault' is not a scenario field"):
        load_scenario("broken", tmp_path)


def test_bad_fault_names_file_and_field(tmp_path: Path) -> None:
    write(tmp_path, "broken", {"description": "Broken.", "faults": [{"kind": "status", "probability": 2}]})
    with pytest.raises(FixtureError, match=r"broken\.yaml: .*field 'faults\.0\.probability'"):
        load_scenario("broken", tmp_path)


def test_missing_description_is_named(tmp_path: Path) -> None:
    write(tmp_path, "broken", {"rate_limit": 5})
    with pytest.raises(FixtureError, match=r"broken\.yaml: .*field 'description'"):
        load_scenario("broken", tmp_path)


def test_bad_changed_record_names_file_resource_record_and_field(tmp_path: Path) -> None:
    deal = {**scenario("deal-with-many-products").fixture.records["deals"][0], "id": 500, "value": "a lot"}
    write(tmp_path, "broken", {"description": "Broken.", "changes": {"deals": [deal]}})
    with pytest.raises(FixtureError, match=r"broken\.yaml: changes\.deals: record #1 \(id 500\): field 'value'"):
        load_scenario("broken", tmp_path)


def test_changed_record_with_an_unknown_reference_is_named(tmp_path: Path) -> None:
    deal = {**scenario("deal-with-many-products").fixture.records["deals"][0], "id": 500, "person_id": 9999}
    write(tmp_path, "broken", {"description": "Broken.", "changes": {"deals": [deal]}})
    with pytest.raises(FixtureError, match=r"broken\.yaml: deals: record id 500: field 'person_id'"):
        load_scenario("broken", tmp_path)


def test_changes_to_an_unknown_resource_are_named(tmp_path: Path) -> None:
    write(tmp_path, "broken", {"description": "Broken.", "changes": {"leads": []}})
    with pytest.raises(FixtureError, match=r"broken\.yaml: field 'changes\.leads' is not a resource"):
        load_scenario("broken", tmp_path)


def test_unknown_fixture_folder_is_named(tmp_path: Path) -> None:
    write(tmp_path, "broken", {"description": "Broken.", "fixtures": "nowhere"})
    with pytest.raises(FixtureError, match=r"broken\.yaml: field 'fixtures': .*'nowhere'.*default"):
        load_scenario("broken", tmp_path)


def test_a_scenario_without_fixtures_starts_from_the_default_account(tmp_path: Path) -> None:
    write(tmp_path, "plain", {"description": "Plain."})
    loaded = load_scenario("plain", tmp_path)
    assert len(loaded.fixture.records["deals"]) == len(scenario("rate-limited").fixture.records["deals"])
    assert loaded.faults == [] and loaded.rate_limit is None


def _line_counts(lines: list[dict[str, Any]]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for line in lines:
        counts[line["deal_id"]] = counts.get(line["deal_id"], 0) + 1
    return counts
