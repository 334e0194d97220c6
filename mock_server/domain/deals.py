"""Deals: defaults, references, status transitions, the change log, derived fields and list queries."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mock_server.domain import money
from mock_server.domain.clock import DATETIME_FORMAT, parse_datetime
from mock_server.domain.collection import Collection, Record
from mock_server.domain.related import Related, user_summary
from mock_server.errors import Invalid, NotFound

if TYPE_CHECKING:
    from mock_server.domain.account import Account

# Fields a client may set; everything else in a body is derived, read-only or a custom field.
WRITABLE = ("name", "origin_id", "channel", "channel_id", "add_time", "value", "currency", "user_id", "person_id",
            "org_id", "pipeline_id", "stage_id", "status", "won_time", "lost_time", "close_time",
            "expected_close_date", "probability", "lost_reason")  # fmt: skip
STATUS_TIMES = ("won_time", "lost_time", "close_time")
LIST_STATUSES = {"open", "won", "lost", "deleted"}
# Fields every deal carries that the mock never changes on its own (no mail, no marketing channels).
UNTRACKED: Record = {
    "origin_id": None,
    "channel": None,
    "channel_id": None,
    "last_incoming_mail_time": None,
    "last_outgoing_mail_time": None,
    "person_hidden": False,
}


@dataclasses.dataclass
class KeptRender:
    """A deal's render without its rotten time, the moment it goes (or went) rotten, and what callers derive from
    the render alone (such as its encoding), kept and dropped with it."""

    record: Record
    rotten: datetime | None
    rotten_stamp: str | None
    derived: dict[Any, Any] = dataclasses.field(default_factory=dict)


class Deals(Collection):
    def __init__(self, account: Account, records: Iterable[Record]) -> None:
        super().__init__("Deal", records, indexes=("person_id", "org_id", "stage_id"))
        self.account = account
        for deal in self.all():
            deal.setdefault("last_updated_by_user_id", None)

    # --- writes -------------------------------------------------------------------------------------------------

    def create(self, body: dict[str, Any]) -> Record:
        account = self.account
        now = account.clock.stamp()
        fields = {key: body[key] for key in WRITABLE if key in body}
        deal: Record = {
            "name": None,
            "value": 0,
            "currency": account.user["default_currency"],
            "user_id": account.user_id,
            "creator_user_id": account.user_id,
            "last_updated_by_user_id": account.user_id,
            "person_id": None,
            "org_id": None,
            "pipeline_id": None,
            "stage_id": None,
            "status": "open",
            "probability": None,
            "lost_reason": None,
            "add_time": now,
            "update_time": now,
            "stage_change_time": None,
            "close_time": None,
            "won_time": None,
            "first_won_time": None,
            "lost_time": None,
            "expected_close_date": None,
            **UNTRACKED,
            "active_flag": True,
        }
        self._check_references(fields)
        deal.update({key: value for key, value in fields.items() if key not in ("status", *STATUS_TIMES)})
        deal["value"] = money.number(deal["value"])
        deal.update(self._placement(fields, creating=True))
        deal.update(account.deal_fields.custom_values(body))
        if not deal["name"]:
            deal["name"] = self._default_name(deal)
        self.add(deal)
        status = fields.get("status", "open")
        if status != "open":
            self._apply_status(deal, status, fields, now)
        return deal

    def modify(self, deal_id: int, body: dict[str, Any]) -> Record:
        account = self.account
        deal = self.own(self.get(deal_id))
        now = account.clock.stamp()
        fields = {key: body[key] for key in WRITABLE if key in body}
        self._check_references(fields)
        changes = {key: value for key, value in fields.items() if key not in ("status", *STATUS_TIMES)}
        if "value" in changes:
            changes["value"] = money.number(changes["value"])
        if "name" in changes and not changes["name"]:
            raise Invalid("Deal name cannot be empty: give `name` at least one character.")
        changes.update(self._placement(fields, creating=False, current=deal))
        changes.update(account.deal_fields.custom_values(body))
        if changes.get("stage_id", deal["stage_id"]) != deal["stage_id"]:
            changes["stage_change_time"] = now
        self._log_and_apply(deal, changes, now)
        status: str = fields.get("status") or deal["status"]
        if status != deal["status"] or any(key in fields for key in STATUS_TIMES):
            self._apply_status(deal, status, fields, now)
        self.change(deal, {"update_time": now, "last_updated_by_user_id": account.user_id})
        return deal

    def remove(self, deal_ids: list[int]) -> list[int]:
        deals = [self.get(deal_id) for deal_id in deal_ids]  # every id must exist before anything changes
        now = self.account.clock.stamp()
        for deal in map(self.own, deals):
            self._log_and_apply(deal, {"status": "deleted", "active_flag": False, "update_time": now}, now)
        return [deal["id"] for deal in deals]

    def _apply_status(self, deal: Record, status: str, fields: dict[str, Any], now: str) -> None:
        changes: dict[str, Any] = {"status": status}
        if status == "won":
            changes["won_time"] = fields.get("won_time") or (now if deal["status"] != "won" else deal["won_time"])
            changes["close_time"] = fields.get("close_time") or changes["won_time"]
            changes["lost_time"] = None
            if deal["first_won_time"] is None:
                changes["first_won_time"] = changes["won_time"]
        elif status == "lost":
            changes["lost_time"] = fields.get("lost_time") or (now if deal["status"] != "lost" else deal["lost_time"])
            changes["close_time"] = fields.get("close_time") or changes["lost_time"]
            changes["won_time"] = None
        elif status == "open":
            changes.update(won_time=None, lost_time=None, close_time=None)
        elif status == "deleted":
            changes["active_flag"] = False
        self._log_and_apply(deal, changes, now)

    def _log_and_apply(self, deal: Record, changes: dict[str, Any], now: str) -> None:
        """Apply changes and keep one history entry per field that really changed (the deal's flow)."""
        log = self.account.deal_changes
        for key, new_value in changes.items():
            old_value = deal.get(key)
            if old_value == new_value or key in ("update_time", "last_updated_by_user_id", "active_flag"):
                continue
            log.append(
                {
                    "id": len(log) + 1,
                    "item_id": deal["id"],
                    "user_id": self.account.user_id,
                    "field_key": key,
                    "old_value": old_value,
                    "new_value": new_value,
                    "is_bulk_update_flag": False,
                    "log_time": now,
                    "change_source": "api",
                }
            )
        self.change(deal, changes)

    def _check_references(self, fields: dict[str, Any]) -> None:
        account = self.account
        for field in ("add_time", *STATUS_TIMES):
            if fields.get(field) is not None:
                try:
                    parse_datetime(fields[field])
                except ValueError:
                    message = f"{field} {fields[field]!r} is not a real date and time (YYYY-MM-DD HH:MM:SS)."
                    raise Invalid(message) from None
        for field, collection in (
            ("user_id", account.users),
            ("person_id", account.persons),
            ("org_id", account.organizations),
            ("stage_id", account.stages),
            ("pipeline_id", account.pipelines),
        ):
            if fields.get(field) is not None:
                collection.require(field, fields[field])
        if "currency" in fields:
            account.currencies.require_code("currency", fields["currency"])

    def _placement(self, fields: dict[str, Any], *, creating: bool, current: Record | None = None) -> Record:
        """Stage and pipeline: the stage decides the pipeline; a pipeline alone means its first stage."""
        account = self.account
        if fields.get("stage_id") is not None:
            stage = account.stages.get(fields["stage_id"])
            return {"stage_id": stage["id"], "pipeline_id": stage["pipeline_id"]}
        pipeline_id = fields.get("pipeline_id")
        if pipeline_id is None and creating:
            pipeline_id = account.default_pipeline()["id"]
        if pipeline_id is None or (current is not None and current["pipeline_id"] == pipeline_id):
            return {}
        stage = account.first_stage(pipeline_id)
        return {"stage_id": stage["id"], "pipeline_id": pipeline_id}

    def _default_name(self, deal: Record) -> str:
        if deal["org_id"] is not None:
            return f"{self.account.organizations.get(deal['org_id'])['name']} deal"
        if deal["person_id"] is not None:
            return f"{self.account.persons.get(deal['person_id'])['name']} deal"
        return "New deal"

    # --- reads --------------------------------------------------------------------------------------------------

    def get_any_status(self, deal_id: int) -> Record:
        deal = self.find(deal_id)
        if deal is None:
            raise NotFound(f"Deal with id {deal_id} not found.")
        return deal

    def query(
        self,
        *,
        status: str = "all_not_deleted",
        user_id: int | None = None,
        stage_id: int | None = None,
        among: Iterable[Record] | None = None,
    ) -> Iterator[Record]:
        """The deals of a list, lazily in id order: a page draws only as many as it shows. `among`: only those
        of these deals (stored records, in id order) that the list holds."""
        account = self.account
        if user_id is not None:
            account.users.require("user_id", user_id)
        if stage_id is not None:
            account.stages.require("stage_id", stage_id)
        if status == "deleted":
            wanted = {"deleted"}
        elif status in LIST_STATUSES:
            wanted = {status}
        else:
            wanted = {"open", "won", "lost"}
        # Deleted deals are inactive, so only the full scan sees them.
        if among is not None:
            records: Iterable[Record] = among
        elif stage_id is None or status == "deleted":
            records = self.all()
        else:
            records = self.where("stage_id", stage_id)
        return (
            deal
            for deal in records
            if deal["status"] in wanted
            and (stage_id is None or deal["stage_id"] == stage_id)
            and (user_id is None or deal["user_id"] == user_id)
        )

    def weighted_value(self, deal: Record, stage: Record | None = None) -> int | float:
        """Value × probability %; dividing first keeps a value near the float limit finite."""
        stage = stage if stage is not None else self.account.stages.find_any(deal["stage_id"]) or {}
        return money.number(float(deal["value"]) * (self._probability(deal, stage) / 100))

    def _probability(self, deal: Record, stage: Record) -> float:
        """The deal's own probability, else its stage's; pipelines that do not use probabilities count 100%."""
        if deal["probability"] is not None:
            return float(deal["probability"])
        pipeline = self.account.pipelines.find_any(deal["pipeline_id"]) or {}
        if not pipeline.get("deal_probability"):
            return 100.0
        return float(stage.get("deal_probability", 100))

    def render(self, deal: Record, related: Related | None = None) -> Record:
        """The deal as the list and the details show it, every derived field computed from current state.
        Callers get a copy they may add keys to."""
        kept, rotten_time = self.render_kept(deal, related)
        out = dict(kept.record)
        out["rotten_time"] = rotten_time
        return out

    def render_kept(self, deal: Record, related: Related | None = None) -> tuple[KeptRender, str | None]:
        """The kept render of the deal (shared: never to be changed) and its rotten time now."""
        return self.kept_renderer(related)(deal)

    def kept_renderer(self, related: Related | None = None) -> Callable[[Record], tuple[KeptRender, str | None]]:
        """`render_kept` for the deals of one answer, which sees one state and one moment: the kept renders are
        looked up and the clock read once, not once per deal. Renders are kept until the account changes; only the
        rotten time, which moves with the clock, is worked out on each call."""
        account = self.account
        kept: dict[int, KeptRender] = account.kept("deal_renders", dict)
        now = account.clock.now()

        def render(deal: Record) -> tuple[KeptRender, str | None]:
            entry = kept.get(deal["id"])
            if entry is None:
                entry = kept[deal["id"]] = KeptRender(*self._render(deal))
            rotten = entry.rotten
            if related is not None:
                related.add("user", deal["user_id"])
                related.add("user", deal["creator_user_id"])
                related.add("person", deal["person_id"])
                related.add("organization", deal["org_id"])
                related.add("stage", deal["stage_id"])
                related.add("pipeline", deal["pipeline_id"])
            return entry, entry.rotten_stamp if rotten is not None and rotten <= now else None

        return render

    def _render(self, deal: Record) -> tuple[Record, datetime | None, str | None]:
        """The render of `deal` without its rotten time, and the moment it goes (or went) rotten, if it does."""
        account = self.account
        users = account.users
        out = dict(deal)
        owner = users.find_any(deal["user_id"]) or {}
        creator = users.find_any(deal["creator_user_id"]) or {}
        out["user_id"] = {**user_summary(owner), "value": deal["user_id"]}
        out["creator_user_id"] = {**user_summary(creator), "value": deal["creator_user_id"]}
        out["created_by_user_id"] = deal["creator_user_id"]
        out["owner_name"] = owner.get("name")
        person = account.persons.find_any(deal["person_id"]) if deal["person_id"] is not None else None
        org = account.organizations.find_any(deal["org_id"]) if deal["org_id"] is not None else None
        out["person_id"] = account.person_value(person)
        out["person_name"] = person["name"] if person else None
        out["org_id"] = account.organization_value(org)
        out["org_name"] = org["name"] if org else None
        stage = account.stages.find_any(deal["stage_id"]) or {}
        out["stage_order_nbr"] = stage.get("order_nbr", 0)
        currency = account.currencies.by_code(deal["currency"])
        weighted = self.weighted_value(deal, stage)
        out["weighted_value"] = weighted
        out["weighted_value_currency"] = deal["currency"]
        out["value_formatted"] = currency.format(deal["value"])
        out["weighted_value_formatted"] = currency.format(weighted)
        out["rotten_time"] = None
        out.update(account.activities.deal_activity_fields(deal["id"]))
        out["products_count"] = len(account.deal_products.where("deal_id", deal["id"]))
        rotten = account.rotten_moment(deal, stage)
        return out, rotten, rotten.strftime(DATETIME_FORMAT) if rotten is not None else None
