"""The account generator: sizes, determinism by seed, validity, and deal values that follow their product lines."""

from __future__ import annotations

import gc
import json
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pytest

from mock_server import DEFAULT_FIXTURES
from mock_server.app import create_app
from mock_server.data.fixtures import load, validate
from mock_server.data.generate import generate_account, reference_time
from mock_server.domain.account import FixtureSet
from mock_server.domain.clock import parse_datetime
from mock_server.domain.money import line_sum, number
from mock_server.settings import Settings

KEPT = ("users", "pipelines", "stages", "currencies", "deal_fields", "activity_fields", "activity_types", "products",
        "filters")  # fmt: skip


@pytest.fixture(scope="module")
def base() -> FixtureSet:
    return load(DEFAULT_FIXTURES)


@pytest.fixture(scope="module")
def small(base: FixtureSet) -> FixtureSet:
    return generate_account(base, deals=300, seed=7, activities_per_deal=4, products_per_deal=3)


def test_sizes_follow_the_arguments(base: FixtureSet) -> None:
    account = generate_account(base, deals=1000, activities_per_deal=5, products_per_deal=2)
    sizes = {resource: len(records) for resource, records in account.records.items()}
    assert sizes["deals"] == 1000
    assert sizes["activities"] == 5000
    assert sizes["deal_products"] == 2000
    assert sizes["organizations"] == 100
    assert sizes["persons"] == 200


def test_same_seed_gives_identical_records(base: FixtureSet) -> None:
    first = generate_account(base, deals=200, seed=11)
    second = generate_account(base, deals=200, seed=11)
    assert json.dumps(first.records, sort_keys=True) == json.dumps(second.records, sort_keys=True)


def test_another_seed_gives_another_account(base: FixtureSet) -> None:
    first = generate_account(base, deals=200, seed=1)
    second = generate_account(base, deals=200, seed=2)
    assert first.records["deals"] != second.records["deals"]


def test_small_generated_set_passes_full_validation(small: FixtureSet) -> None:
    # The generator skips per-record schema checks, building records valid by construction; this holds it to that.
    checked = validate(small.company, small.records, "generated")
    assert len(checked.records["deals"]) == 300


def test_generated_set_is_served_with_valid_responses(small: FixtureSet, tmp_path: Path) -> None:
    for resource, records in {"company": small.company, **small.records}.items():
        (tmp_path / f"{resource}.json").write_text(json.dumps(records), encoding="utf-8")
    app = create_app(Settings(fixtures=tmp_path, validate_responses=True))
    with app.test_client() as client:
        headers = {"x-api-token": "generated"}
        deals = client.get("/v1/deals", params={"limit": 500, "status": "all_not_deleted"}, headers=headers)
        activities = client.get("/v1/activities", params={"limit": 500, "user_id": 0}, headers=headers)
    assert deals.status_code == 200, deals.text
    assert activities.status_code == 200, activities.text


def test_deal_value_is_the_sum_of_its_enabled_lines(small: FixtureSet) -> None:
    lines_by_deal: dict[int, list[dict[str, object]]] = {}
    for line in small.records["deal_products"]:
        lines_by_deal.setdefault(line["deal_id"], []).append(line)
    for deal in small.records["deals"]:
        enabled = [line for line in lines_by_deal[deal["id"]] if line["enabled_flag"]]
        assert deal["value"] == number(sum(line_sum(line) for line in enabled))


def test_some_lines_are_disabled(small: FixtureSet) -> None:
    assert {line["enabled_flag"] for line in small.records["deal_products"]} == {True, False}


def test_every_status_appears_even_in_a_tiny_account(base: FixtureSet) -> None:
    account = generate_account(base, deals=4)
    assert {deal["status"] for deal in account.records["deals"]} == {"open", "won", "lost", "deleted"}


def test_deals_use_the_currencies_of_the_base_deals(base: FixtureSet, small: FixtureSet) -> None:
    used = Counter(deal["currency"] for deal in small.records["deals"])
    assert set(used) == {deal["currency"] for deal in base.records["deals"]}


def test_won_deals_sit_in_the_last_stage_of_their_pipeline(small: FixtureSet) -> None:
    last = {}
    for stage in sorted(small.records["stages"], key=lambda stage: stage["order_nbr"]):
        last[stage["pipeline_id"]] = stage["id"]
    won = [deal for deal in small.records["deals"] if deal["status"] == "won"]
    assert won and all(deal["stage_id"] == last[deal["pipeline_id"]] for deal in won)


def test_lost_deals_have_a_lost_reason_and_time(small: FixtureSet) -> None:
    lost = [deal for deal in small.records["deals"] if deal["status"] == "lost"]
    assert lost and all(deal["lost_reason"] and deal["lost_time"] == deal["close_time"] for deal in lost)


def test_dates_span_two_years_back_and_six_months_ahead(base: FixtureSet, small: FixtureSet) -> None:
    now = reference_time(base)
    added = [parse_datetime(deal["add_time"]) for deal in small.records["deals"]]
    due = [date.fromisoformat(activity["due_date"]) for activity in small.records["activities"]]
    assert now - timedelta(days=731) <= min(added) < now - timedelta(days=500)
    assert max(added) <= now
    assert now.date() + timedelta(days=90) < max(due) <= now.date() + timedelta(days=184)


def test_done_activities_are_in_the_past(base: FixtureSet, small: FixtureSet) -> None:
    now = reference_time(base).date()
    done = [activity for activity in small.records["activities"] if activity["done"] == 1]
    assert done and all(
        date.fromisoformat(activity["due_date"]) <= now and activity["marked_as_done_time"] for activity in done
    )


def test_the_base_catalogue_is_kept(base: FixtureSet, small: FixtureSet) -> None:
    assert {resource: small.records[resource] for resource in KEPT} == {
        resource: base.records[resource] for resource in KEPT
    }
    assert small.company == base.company


def test_generating_leaves_the_base_unchanged(base: FixtureSet) -> None:
    before = json.dumps(base.records, sort_keys=True)
    generate_account(base, deals=50)
    assert json.dumps(base.records, sort_keys=True) == before


def test_no_product_lines_leaves_a_plain_value(base: FixtureSet) -> None:
    account = generate_account(base, deals=20, products_per_deal=0)
    assert account.records["deal_products"] == []
    assert all(deal["value"] > 0 for deal in account.records["deals"])


def test_a_negative_count_is_refused(base: FixtureSet) -> None:
    with pytest.raises(ValueError, match="deals"):
        generate_account(base, deals=-1)


def test_deleted_deals_are_inactive_records(small: FixtureSet) -> None:
    deleted = [deal for deal in small.records["deals"] if deal["status"] == "deleted"]
    assert deleted
    assert all(deal["active_flag"] is False for deal in deleted)
    assert all(deal["active_flag"] is True for deal in small.records["deals"] if deal["status"] != "deleted")


def test_a_generated_deleted_deal_reads_as_404(base: FixtureSet) -> None:
    served = generate_account(base, deals=200, seed=3)  # what `serve --generate-deals 200 --seed 3` serves
    deleted = next(deal for deal in served.records["deals"] if deal["status"] == "deleted")
    with create_app(Settings(generate_deals=200, seed=3)).test_client() as client:
        headers = {"x-api-token": "generated"}
        assert client.get(f"/v1/deals/{deleted['id']}", headers=headers).status_code == 404
        listed = client.get("/v1/deals", params={"status": "deleted", "limit": 500}, headers=headers).json()["data"]
        assert deleted["id"] in [deal["id"] for deal in listed]


@pytest.mark.parametrize("enabled", [True, False])
def test_generating_leaves_the_collector_as_it_found_it(base: FixtureSet, enabled: bool) -> None:
    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        generate_account(base, deals=10)
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()
