"""One tenant's CRM account: a private copy of a fixture set with every resource's collection and rules."""

from __future__ import annotations

import copy
import operator
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar, cast

from mock_server.domain import money
from mock_server.domain.activities import Activities, ActivityTypes
from mock_server.domain.clock import Clock, parse_datetime
from mock_server.domain.collection import Collection, Record
from mock_server.domain.deal_products import DealProducts
from mock_server.domain.deals import Deals
from mock_server.domain.fields import Fields
from mock_server.domain.filters import Filters
from mock_server.domain.notes import Notes
from mock_server.domain.organizations import Organizations
from mock_server.domain.persons import Persons
from mock_server.domain.pipelines import Pipelines, Stages
from mock_server.domain.products import Products
from mock_server.domain.related import Related
from mock_server.domain.webhooks import Webhooks
from mock_server.errors import MissingReference


@dataclass(frozen=True)
class FixtureSet:
    """What an account starts from: the company and every resource's records (read and checked by `data`)."""

    path: Path
    company: dict[str, Any]
    records: dict[str, list[dict[str, Any]]]


class Currency:
    def __init__(self, record: Record) -> None:
        self.record = record
        self.code: str = record["code"]
        self.symbol: str = record["symbol"]
        self.decimals: int = record["decimal_points"]

    def format(self, amount: float) -> str:
        return money.formatted(float(amount), self.symbol, self.decimals)


class Currencies(Collection):
    def __init__(self, records: list[Record]) -> None:
        super().__init__("Currency", records)
        self._by_code = {record["code"]: Currency(record) for record in records}

    def by_code(self, code: str) -> Currency:
        # Deal data may carry a code the account no longer lists; format it with the code itself.
        return self._by_code.get(code) or Currency({"code": code, "symbol": f"{code} ", "decimal_points": 2})

    def require_code(self, field: str, code: str) -> Currency:
        currency = self._by_code.get(code)
        if currency is None or currency.record.get("active_flag") is False:
            raise MissingReference(field, code)
        return currency

    def search(self, term: str | None) -> list[Record]:
        needle = (term or "").casefold()
        return [
            record
            for record in self.active()
            if needle in record["code"].casefold() or needle in record["name"].casefold()
        ]


T = TypeVar("T")
# Views kept at once per account (renders, search indexes, kept searches); past it they are all built anew.
KEPT_VIEWS = 64

COLLECTION_NAMES = ("users", "pipelines", "stages", "organizations", "persons", "products", "currencies",
                    "deal_fields", "activity_fields", "person_fields", "organization_fields", "activity_types", "deals",
                    "activities", "deal_products", "notes", "filters", "product_fields")  # fmt: skip
_COLLECTIONS = operator.attrgetter(*COLLECTION_NAMES)


class Account:
    """A tenant's state. Every request of one token reads and writes exactly one Account."""

    def __init__(
        self, fixture: FixtureSet, clock: Clock, user_id: int, seed: int = 0, *, copy_records: bool = True
    ) -> None:
        """`seed` drives everything random in the account (custom field keys); tenants derive theirs from the
        server's seed and their token, so a run is reproducible. Without `copy_records` the account keeps the
        fixture's own record dicts: only for an account that is forked and never changed itself."""
        data = copy.deepcopy(fixture.records) if copy_records else fixture.records
        self.clock = clock
        self.company: dict[str, Any] = copy.deepcopy(fixture.company)
        self.user_id = user_id
        self.random = random.Random(seed)
        # Counts the draws from `random`, so that a store can tell its state changed without reading it whole.
        self.random_draws = 0
        self.deal_changes: list[Record] = []
        # Views built from the records (renders, search indexes), kept while `version()` stays the same.
        self._kept: tuple[tuple[int, ...], dict[str, Any]] = ((), {})
        # deal_changes by deal id, brought up to date on each read (the log only grows, or is replaced whole).
        self._changes_by_deal: tuple[list[Record], int, dict[int, list[Record]]] | None = None
        self.users = Collection("User", data["users"])
        self.pipelines = Pipelines(self, data["pipelines"])
        self.stages = Stages(self, data["stages"])
        self.organizations = Organizations(self, data["organizations"])
        self.persons = Persons(self, data["persons"])
        self.products = Products(self, data["products"])
        self.currencies = Currencies(data["currencies"])
        self.deal_fields = Fields(self, "Deal field", data["deal_fields"])
        self.activity_fields = Fields(self, "Activity field", data["activity_fields"])
        self.person_fields = Fields(self, "Person field", data["person_fields"], holder="persons")
        self.organization_fields = Fields(
            self, "Organization field", data["organization_fields"], holder="organizations"
        )
        self.activity_types = ActivityTypes(self, data["activity_types"])
        self.deals = Deals(self, data["deals"])
        self.activities = Activities(self, data["activities"])
        self.deal_products = DealProducts(self, data["deal_products"])
        self.notes = Notes(self, data["notes"])
        self.filters = Filters(self, data["filters"])
        # Fixture folders and states made before products had fields hold none.
        self.product_fields = Fields(self, "Product field", data.get("product_fields", []), holder="products")
        # Not a fixture resource: an account starts without subscriptions; they live in exports and data folders.
        self.webhooks = Webhooks()
        self._last_option_id = max(
            (option["id"] for fields in (self.deal_fields, self.activity_fields, self.person_fields,
                                         self.organization_fields, self.product_fields)
             for field in fields.all() for option in field["options"] or []),
            default=0,
        )  # fmt: skip

    def fork(self, user_id: int, seed: int, clock: Clock) -> Account:
        """A new account equal to this one, sharing its records until it changes them; this one must stay as is."""
        account = copy.copy(self)
        account.clock = clock
        account.company = copy.deepcopy(self.company)
        account.user_id = user_id
        account.random = random.Random(seed)
        account.deal_changes = list(self.deal_changes)  # entries never change once logged
        account._changes_by_deal = None
        account._kept = ((), {})
        account.webhooks = self.webhooks.fork()
        for name, collection in self.collections().items():
            clone = collection.fork()
            if hasattr(clone, "account"):
                clone.account = account
            setattr(account, name, clone)
        return account

    def version(self) -> tuple[int, ...]:
        """Changes whenever anything a read can see changes: each collection's count of changes, and the change log
        (which only grows, or is replaced whole)."""
        log = self.deal_changes
        hooks = self.webhooks
        return (*[collection.version for collection in _COLLECTIONS(self)], len(log), id(log), id(hooks), hooks.version)

    def kept(self, name: str, build: Callable[[], T]) -> T:
        """`build()`, kept until anything in the account changes. The one rule for every view kept between
        requests: its key is the whole account's `version()`, so no view can miss a change of what it read."""
        version = self.version()
        stamp, views = self._kept
        if stamp != version:
            views = {}
            self._kept = (version, views)
        if name not in views:
            if len(views) >= KEPT_VIEWS:
                views.clear()
            views[name] = build()
        return cast(T, views[name])

    def changes_of(self, deal_id: int) -> list[Record]:
        """The logged changes of one deal in log order, without reading the changes of every other deal."""
        log = self.deal_changes
        indexed = self._changes_by_deal
        if indexed is None or indexed[0] is not log or indexed[1] > len(log):
            indexed = (log, 0, {})
        by_deal = indexed[2]
        for change in log[indexed[1] :]:
            by_deal.setdefault(change["item_id"], []).append(change)
        self._changes_by_deal = (log, len(log), by_deal)
        return by_deal.get(deal_id, [])

    def collections(self) -> dict[str, Collection]:
        """Every resource's collection under its fixture name, in the fixture set's order."""
        return dict(zip(COLLECTION_NAMES, _COLLECTIONS(self), strict=True))

    @property
    def last_option_id(self) -> int:
        """The newest option id handed out; the next option gets the one after it."""
        return self._last_option_id

    @last_option_id.setter
    def last_option_id(self, option_id: int) -> None:
        self._last_option_id = option_id

    @property
    def user(self) -> Record:
        return self.users.get(self.user_id)

    def related(self) -> Related:
        return Related(self)

    def random_hex(self, length: int) -> str:
        """`length` random hex digits from the account's seeded generator (custom field keys)."""
        self.random_draws += 1
        return "".join(self.random.choice("0123456789abcdef") for _ in range(length))

    def next_option_id(self) -> int:
        """Option ids of enum and set fields are unique across the account."""
        self._last_option_id += 1
        return self._last_option_id

    def default_pipeline(self) -> Record:
        return min(self.pipelines.active(), key=lambda pipeline: (pipeline["order_nbr"], pipeline["id"]))

    def first_stage(self, pipeline_id: int) -> Record:
        stages = self.stages.where("pipeline_id", pipeline_id)
        if not stages:
            raise MissingReference("pipeline_id", pipeline_id)
        return min(stages, key=lambda stage: (stage["order_nbr"], stage["id"]))

    def person_value(self, person: Record | None) -> Record | None:
        """A deal's `person_id` expanded the way the service shows it."""
        if person is None:
            return None
        return {
            "name": person["name"],
            "email": [dict(entry) for entry in person["email"]],
            "phone": [dict(entry) for entry in person["phone"]],
            "owner_id": person["owner_id"],
            "value": person["id"],
        }

    def organization_value(self, org: Record | None) -> Record | None:
        if org is None:
            return None
        return {
            "name": org["name"],
            "address": org["address"],
            "people_count": len(self.persons.where("org_id", org["id"])),
            "owner_id": org["owner_id"],
            "value": org["id"],
        }

    def rotten_moment(self, deal: Record, stage: Record) -> datetime | None:
        """When an open deal goes rotten: its stage's rotten_days after it entered the stage (past or not)."""
        if deal["status"] != "open" or not stage.get("rotten_flag") or stage.get("rotten_days") is None:
            return None
        entered = parse_datetime(deal["stage_change_time"] or deal["add_time"])
        return entered + timedelta(days=stage["rotten_days"])
