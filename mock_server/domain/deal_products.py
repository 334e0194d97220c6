"""Products attached to deals: line sums, list totals, and the deal value they make up."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from mock_server.domain import money
from mock_server.domain.collection import Collection, Page, Record, paginate
from mock_server.domain.related import Related, user_summary
from mock_server.errors import NotFound

if TYPE_CHECKING:
    from mock_server.domain.account import Account

WRITABLE = ("product_id", "item_price", "quantity", "discount", "discount_type", "duration", "duration_unit", "tax",
            "tax_method", "enabled_flag", "comments", "product_variation_id")  # fmt: skip


class DealProducts(Collection):
    def __init__(self, account: Account, records: Iterable[Record]) -> None:
        super().__init__("Product attachment", records, indexes=("deal_id",))
        self.account = account
        for line in self.all():
            deal = account.deals.find_any(line["deal_id"]) or {}
            line.setdefault("active_flag", True)
            line.setdefault("created_by_user_id", deal.get("user_id", account.user_id))
            line.setdefault("last_updated_by_user_id", None)

    def of_deal(self, deal_id: int) -> list[Record]:
        self.account.deals.get(deal_id)
        return sorted(self.where("deal_id", deal_id), key=lambda line: (line["order_nbr"], line["id"]))

    def listing(
        self, deal_id: int, start: int, limit: int, with_product: bool, related: Related
    ) -> tuple[Page, Record]:
        """A page of the deal's lines and the totals of all its lines."""
        deal = self.account.deals.get(deal_id)
        related.add("deal", deal_id)
        lines = self.of_deal(deal_id)
        for line in lines:
            product = self.account.products.find_any(line["product_id"])
            related.add("user", product["owner_id"] if product else None)
        page = paginate(lines, start, limit, lambda line: self.render(line, with_product=with_product))
        return page, self.totals(lines, deal["currency"])

    def attach(self, deal_id: int, body: dict[str, Any]) -> Record:
        account = self.account
        account.deals.get(deal_id)
        account.products.require("product_id", body["product_id"])
        now = account.clock.stamp()
        line: Record = {
            "deal_id": deal_id,
            "product_id": None,
            "item_price": 0,
            "quantity": 1,
            "discount": 0,
            "discount_type": "percentage",
            "duration": 1,
            "duration_unit": None,
            "tax": 0,
            # The reference names no default; prices that already contain their tax change no sum.
            "tax_method": "inclusive",
            "enabled_flag": True,
            "comments": None,
            "order_nbr": len(self.where("deal_id", deal_id)) + 1,
            "product_variation_id": None,
            "active_flag": True,
            "created_by_user_id": account.user_id,
            "last_updated_by_user_id": account.user_id,
            "add_time": now,
            "last_edit": now,
        }
        line.update({key: body[key] for key in WRITABLE if key in body})
        money.line_sum(line)  # an amount too large to sum is refused before anything is stored
        self.add(line)
        self._revalue(deal_id)
        return line

    def modify(self, deal_id: int, line_id: int, body: dict[str, Any]) -> Record:
        line = self._line(deal_id, line_id)
        if body.get("product_id") is not None:
            self.account.products.require("product_id", body["product_id"])
        changes = {key: body[key] for key in WRITABLE if key in body and (key != "product_id" or body[key])}
        changes.update(last_edit=self.account.clock.stamp(), last_updated_by_user_id=self.account.user_id)
        money.line_sum({**line, **changes})
        self.change(line, changes)
        self._revalue(deal_id)
        return line

    def detach(self, deal_id: int, line_id: int) -> int:
        line = self._line(deal_id, line_id)
        self.change(line, {"active_flag": False, "last_edit": self.account.clock.stamp()})
        self._revalue(deal_id)
        return line_id

    def _line(self, deal_id: int, line_id: int) -> Record:
        self.account.deals.get(deal_id)
        line = self.get(line_id)
        if line["deal_id"] != deal_id:
            # A line of another deal is as unknown here as a missing one.
            raise NotFound(f"{self.label} with id {line_id} not found on deal {deal_id}.")
        return self.own(line)

    def _revalue(self, deal_id: int) -> None:
        """A deal with products is worth the sum of its enabled lines."""
        deal = self.account.deals.own(self.account.deals.get(deal_id))
        total = sum(money.line_sum(line) for line in self.where("deal_id", deal_id) if line["enabled_flag"])
        self.account.deals.change(deal, {"value": money.number(total), "update_time": self.account.clock.stamp()})

    def totals(self, lines: list[Record], currency_code: str) -> Record:
        currency = self.account.currencies.by_code(currency_code)
        enabled = [line for line in lines if line["enabled_flag"]]
        quantity = money.number(sum(float(line["quantity"]) for line in enabled))
        total = money.number(sum(money.line_sum(line) for line in enabled))
        return {
            "products_quantity_total": quantity,
            "products_sum_total": total,
            "products_quantity_total_formatted": f"{quantity:,}",
            "products_sum_total_formatted": currency.format(total),
        }

    def render(self, line: Record, *, with_product: bool = False) -> Record:
        account = self.account
        deal = account.deals.find_any(line["deal_id"]) or {}
        product = account.products.find_any(line["product_id"]) or {}
        out = dict(line)
        total = money.line_sum(line)
        out.update(
            name=product.get("name"),
            update_time=line["last_edit"] or line["add_time"],
            sum=total,
            currency=deal.get("currency"),
            company_id=account.company["id"],
            sum_formatted=account.currencies.by_code(deal.get("currency", "")).format(total),
            quantity_formatted=f"{money.number(line['quantity']):,}",
        )
        if with_product:
            owner = account.users.find_any(product.get("owner_id", 0)) or {}
            out["product"] = {
                "id": product.get("id"),
                "name": product.get("name"),
                "code": product.get("code"),
                "unit": product.get("unit"),
                "tax": product.get("tax"),
                "selectable": product.get("selectable"),
                "active_flag": product.get("active_flag", True),
                "prices": [dict(price) for price in product.get("prices", [])],
                "owner_id": {**user_summary(owner), "value": product.get("owner_id")},
            }
        return out
