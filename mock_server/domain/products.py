"""Products: writes with their prices per currency and custom fields, lists, and the deals they are sold in."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from mock_server.domain import money
from mock_server.domain.collection import Collection, Record
from mock_server.domain.related import user_summary
from mock_server.errors import Invalid

if TYPE_CHECKING:
    from mock_server.domain.account import Account

WRITABLE = ("name", "code", "unit", "tax", "selectable", "owner_id")
PRICE_KEYS = ("price", "cost", "overhead_cost")


class Products(Collection):
    def __init__(self, account: Account, records: Iterable[Record]) -> None:
        super().__init__("Product", records)
        self.account = account

    def create(self, body: dict[str, Any]) -> Record:
        account = self.account
        now = account.clock.stamp()
        fields = self._fields(body)
        product: Record = {
            "name": body["name"],
            "code": None,
            "unit": None,
            "tax": 0,
            "selectable": True,
            "active_flag": True,
            "owner_id": account.user_id,
            # Without prices a product costs 0 in the company's currency.
            "prices": [{"currency": account.company["default_currency"], "price": 0, "cost": 0, "overhead_cost": 0}],
            "add_time": now,
            "update_time": now,
        }
        product.update(fields)
        product.update(account.product_fields.custom_values(body))
        return self.add(product)

    def modify(self, product_id: int, body: dict[str, Any]) -> Record:
        account = self.account
        product = self.get(product_id)
        changes = self._fields(body)
        changes.update(account.product_fields.custom_values(body))
        changes["update_time"] = account.clock.stamp()
        product = self.own(product)
        self.change(product, changes)
        return product

    def remove(self, product_id: int) -> Record:
        """Marks the product deleted; the deals it was sold in keep their product lines."""
        product = self.own(self.get(product_id))
        self.change(product, {"active_flag": False, "update_time": self.account.clock.stamp()})
        return product

    def _fields(self, body: dict[str, Any]) -> Record:
        fields: Record = {key: body[key] for key in WRITABLE if key in body}
        if "name" in fields and not fields["name"]:
            raise Invalid("name: a product's name cannot be empty.")
        if fields.get("owner_id") is not None:
            self.account.users.require("owner_id", fields["owner_id"])
        elif "owner_id" in fields:
            raise Invalid("owner_id: a product always has an owner; give a user id.")
        if "tax" in fields:
            fields["tax"] = money.number(fields["tax"])
        if "prices" in body:
            fields["prices"] = self._prices(body["prices"])
        return fields

    def _prices(self, given: Any) -> list[Record]:
        """One price per currency: `currency` (a currency of the account), `price`, `cost` and `overhead_cost`."""
        if not isinstance(given, list):
            raise Invalid(f"prices: expected a list of prices, one per currency, not {given!r}.")
        prices: list[Record] = []
        seen: set[str] = set()
        for number, entry in enumerate(given):
            where = f"prices[{number}]"
            if not isinstance(entry, dict) or not isinstance(entry.get("currency"), str):
                raise Invalid(f"{where}: each price needs a `currency` code and a `price`.")
            code = entry["currency"]
            if code in seen:
                raise Invalid(f"{where}.currency: {code!r} is priced twice; a product has one price per currency.")
            seen.add(code)
            self.account.currencies.require_code(f"{where}.currency", code)
            price: Record = {"currency": code}
            for key in PRICE_KEYS:
                value = entry.get(key, 0)
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise Invalid(f"{where}.{key}: expected a number, not {value!r}.")
                price[key] = money.number(value)
            prices.append(price)
        return prices

    # --- reads --------------------------------------------------------------------------------------------------

    def query(
        self, *, user_id: int | None = None, ids: list[int] | None = None, first_char: str | None = None
    ) -> Iterator[Record]:
        """Active products in id order, of one owner, among some ids, or whose name starts with a letter."""
        if user_id is not None:
            self.account.users.require("user_id", user_id)
        wanted = set(ids) if ids else None
        initial = first_char.casefold() if first_char else None
        return (
            product
            for product in self.active()
            if (user_id is None or product["owner_id"] == user_id)
            and (wanted is None or product["id"] in wanted)
            and (initial is None or product["name"].casefold().startswith(initial))
        )

    def deal_ids(self, product_id: int) -> set[int]:
        return {line["deal_id"] for line in self.account.deal_products.all() if line["product_id"] == product_id}

    def render(self, product: Record) -> Record:
        """The product with its owner expanded, as the product lines of deals show it."""
        owner = self.account.users.find_any(product["owner_id"]) or {}
        out = copy.deepcopy(product)
        out["owner_id"] = {**user_summary(owner), "value": product["owner_id"]}
        return out
