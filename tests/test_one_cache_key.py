"""Every view kept between requests (renders, search indexes and hits, orders, whole answers) is kept by the one
key `Account.version()`: after a change of any collection, every read answers what a mock that keeps nothing
answers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from connexion import AsyncApp
from starlette.testclient import TestClient

from mock_server.app import create_app
from mock_server.domain.account import Account
from mock_server.settings import Settings

TOKEN = "one-key"
FROZEN = "2026-05-04 10:00:00"
# Every read of the API that answers from kept views, with the parameters that reach each kind of view.
READS = [
    "/deals?limit=500",
    "/deals?sort=value%20DESC,name%20ASC&limit=500",
    "/deals?filter_id=1&limit=500",
    "/deals?status=deleted",
    "/deals/1",
    "/deals/2/activities",
    "/deals/2/persons",
    "/deals/2/products",
    "/deals/2/flow",
    "/deals/summary",
    "/deals/timeline?start_date=2025-01-01&interval=quarter&amount=8&field_key=add_time",
    "/deals/search?term=deal",
    "/activities?user_id=0&limit=500",
    "/activities/1",
    "/itemSearch?term=Oy",
    "/itemSearch?term=ab&related=1",
    "/itemSearch?term=a&exact_match=0&item_types=person,organization,product",
    "/dealFields?limit=500",
    "/activityFields",
    "/activityTypes",
    "/filters",
    "/currencies",
    "/pipelines",
    "/pipelines/1",
    "/stages",
    "/stages/1",
    "/products",
    "/products/1",
    "/products/search?term=a",
    "/productFields",
    "/notes",
    "/recents?since_timestamp=2000-01-01%2000:00:00",
    "/persons?limit=500",
    "/persons/1",
    "/persons/search?term=an",
    "/organizations?limit=500",
    "/organizations/1",
    "/organizations/search?term=oy",
    "/personFields",
    "/organizationFields",
    "/users",
    "/users/me",
]
# What each collection's change is: a field every one of its records has, given a value no record has.
CHANGES: dict[str, tuple[str, Any]] = {
    "users": ("name", "Renamed user Oy"),
    "pipelines": ("name", "Renamed pipeline"),
    "stages": ("name", "Renamed stage"),
    "organizations": ("name", "Renamed Oy"),
    "persons": ("name", "Abby Renamed"),
    "products": ("name", "Renamed product Oy"),
    "currencies": ("name", "Renamed currency"),
    "deal_fields": ("name", "Renamed deal field"),
    "product_fields": ("name", "Renamed product field"),
    "person_fields": ("name", "Renamed person field"),
    "organization_fields": ("name", "Renamed organization field"),
    "activity_fields": ("name", "Renamed activity field"),
    "activity_types": ("name", "Renamed type"),
    "deals": ("name", "Renamed deal Oy"),
    "activities": ("subject", "Renamed activity"),
    "deal_products": ("comments", "Renamed line"),
    "notes": ("content", "Renamed note about Oy"),
    "filters": ("name", "Renamed filter"),
}


class Mock:
    """A mock app and a client of it, with the tenant's clock frozen."""

    def __init__(self, app: AsyncApp, client: TestClient) -> None:
        self.app = app
        self.client = client
        assert client.post("/__mock__/clock", json={"freeze": FROZEN}).status_code == 200

    def account(self) -> Account:
        account: Account = self.app.state["tenants"].for_token(TOKEN)
        return account


@pytest.fixture
def keeping() -> Iterator[Mock]:
    app = create_app(Settings())
    with app.test_client() as client:
        yield Mock(app, client)


@pytest.fixture
def forgetting() -> Iterator[Mock]:
    """A mock whose tenant keeps no view: every read builds what it answers afresh (and asks for no kept answer)."""

    def built_afresh(_name: str, build: Callable[[], Any]) -> Any:
        return build()

    app = create_app(Settings())
    with app.test_client(headers={"cache-control": "no-cache"}) as client:
        mock = Mock(app, client)
        mock.account().kept = built_afresh  # type: ignore[method-assign]
        yield mock


def answers(mock: Mock) -> list[tuple[str, int, Any]]:
    out = []
    for path in READS:
        response = mock.client.get("/v1" + path, headers={"x-api-token": TOKEN})
        out.append((path, response.status_code, response.json()))
    return out


def change(mock: Mock, name: str, number: int) -> None:
    """Change the first record of collection `name` of the tenant, as a write of the API would (own, then change)."""
    collection = mock.account().collections()[name]
    record = next(iter(collection.all()))
    field, value = CHANGES[name]
    assert field in record, f"{name}: its first record has no {field}"
    collection.change(collection.own(record), {field: f"{value} {number}"})


def test_every_change_of_every_collection_reaches_every_kept_view(keeping: Mock, forgetting: Mock) -> None:
    assert answers(keeping) == answers(forgetting)
    assert set(keeping.account().collections()) == set(CHANGES), "a collection this test does not change"
    for number, name in enumerate(CHANGES):
        before = answers(keeping)
        for mock in (keeping, forgetting):
            change(mock, name, number)
        after = answers(keeping)
        assert after == answers(forgetting), name
        assert after != before, f"changing {name} changed no read: the test reads none of it"


def test_a_view_kept_by_less_than_the_whole_account_is_caught(keeping: Mock, forgetting: Mock) -> None:
    """The check above has teeth: views kept by the deals' change count alone go stale when a user is renamed."""
    account = keeping.account()
    account.version = lambda: (account.deals.version,)  # type: ignore[method-assign]
    assert answers(keeping) == answers(forgetting)
    for mock in (keeping, forgetting):
        change(mock, "users", 0)
    assert answers(keeping) != answers(forgetting)
