"""Pipelines and their stages: writes, the rules on deleting them, and the deal totals their details show."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from mock_server.domain import money
from mock_server.domain.collection import Collection, Record
from mock_server.errors import Invalid

if TYPE_CHECKING:
    from mock_server.domain.account import Account

PIPELINE_WRITABLE = ("name", "order_nbr", "deal_probability")
STAGE_WRITABLE = ("name", "pipeline_id", "order_nbr", "deal_probability", "rotten_flag", "rotten_days")


def url_title(name: str) -> str:
    """The pipeline's name as a URL segment: lowercase words joined by dashes."""
    return re.sub(r"[^0-9a-z]+", "-", name.casefold()).strip("-")


class Pipelines(Collection):
    def __init__(self, account: Account, records: Iterable[Record]) -> None:
        super().__init__("Pipeline", records)
        self.account = account

    def ordered(self) -> list[Record]:
        return sorted(self.active(), key=lambda pipeline: (pipeline["order_nbr"], pipeline["id"]))

    def create(self, body: dict[str, Any]) -> Record:
        account = self.account
        now = account.clock.stamp()
        order = max((pipeline["order_nbr"] for pipeline in self.active()), default=0) + 1
        pipeline: Record = {
            "name": body["name"],
            "order_nbr": body.get("order_nbr", order),
            "active_flag": True,
            "deal_probability": int(body.get("deal_probability", 1)),
            "add_time": now,
            "update_time": now,
        }
        return self.add(pipeline)

    def modify(self, pipeline_id: int, body: dict[str, Any]) -> Record:
        pipeline = self.own(self.get(pipeline_id))
        changes: Record = {key: body[key] for key in PIPELINE_WRITABLE if key in body}
        if "deal_probability" in changes:
            changes["deal_probability"] = int(changes["deal_probability"])
        changes["update_time"] = self.account.clock.stamp()
        self.change(pipeline, changes)
        return pipeline

    def remove(self, pipeline_id: int) -> Record:
        """Marks the pipeline and its stages deleted; refused while a deal (not deleted) is in it, and for the last
        pipeline, which new deals without a pipeline go to."""
        account = self.account
        pipeline = self.get(pipeline_id)
        held = [deal["id"] for deal in account.deals.all()
                if deal["pipeline_id"] == pipeline_id and deal["status"] != "deleted"]  # fmt: skip
        if held:
            raise Invalid(_holding("Pipeline", pipeline_id, held))
        if not any(other["id"] != pipeline_id for other in self.active()):
            raise Invalid(f"Pipeline {pipeline_id} is the only pipeline; add another before deleting it.")
        now = account.clock.stamp()
        for stage in account.stages.where("pipeline_id", pipeline_id):
            account.stages.change(account.stages.own(stage), {"active_flag": False, "update_time": now})
        pipeline = self.own(pipeline)
        self.change(pipeline, {"active_flag": False, "update_time": now})
        return pipeline

    def render(self, pipeline: Record) -> Record:
        return {**pipeline, "url_title": url_title(pipeline["name"])}


class Stages(Collection):
    def __init__(self, account: Account, records: Iterable[Record]) -> None:
        super().__init__("Stage", records, indexes=("pipeline_id",))
        self.account = account

    def ordered(self, pipeline_id: int | None = None) -> list[Record]:
        """Active stages by pipeline order, then by their order within the pipeline."""
        pipelines = self.account.pipelines
        if pipeline_id is not None:
            pipelines.require("pipeline_id", pipeline_id)
        stages = self.active() if pipeline_id is None else iter(self.where("pipeline_id", pipeline_id))

        def key(stage: Record) -> tuple[int, int, int, int]:
            pipeline = pipelines.find_any(stage["pipeline_id"]) or {}
            return pipeline.get("order_nbr", 0), stage["pipeline_id"], stage["order_nbr"], stage["id"]

        return sorted(stages, key=key)

    def create(self, body: dict[str, Any]) -> Record:
        account = self.account
        account.pipelines.require("pipeline_id", body["pipeline_id"])
        now = account.clock.stamp()
        siblings = self.where("pipeline_id", body["pipeline_id"])
        stage: Record = {
            "pipeline_id": body["pipeline_id"],
            "name": body["name"],
            "order_nbr": body.get("order_nbr", max((stage["order_nbr"] for stage in siblings), default=0) + 1),
            "deal_probability": body.get("deal_probability", 100),
            "rotten_flag": body.get("rotten_flag", False),
            "rotten_days": body.get("rotten_days"),
            "active_flag": True,
            "add_time": now,
            "update_time": now,
        }
        return self.add(stage)

    def modify(self, stage_id: int, body: dict[str, Any]) -> Record:
        account = self.account
        stage = self.get(stage_id)
        changes: Record = {key: body[key] for key in STAGE_WRITABLE if key in body}
        if changes.get("pipeline_id", stage["pipeline_id"]) != stage["pipeline_id"]:
            account.pipelines.require("pipeline_id", changes["pipeline_id"])
            held = self.deal_ids(stage_id)
            if held:
                raise Invalid(
                    f"Stage {stage_id} holds deals {_listed(held)}: a deal's pipeline is its stage's, so move them "
                    "to another stage (PUT /deals/{id} with stage_id) before moving the stage to another pipeline."
                )
        changes["update_time"] = account.clock.stamp()
        stage = self.own(stage)
        self.change(stage, changes)
        return stage

    def remove(self, stage_ids: list[int]) -> list[int]:
        """Marks the stages deleted; every id must name a stage that holds no deal (not deleted) before any is."""
        stages = [self.get(stage_id) for stage_id in stage_ids]
        for stage in stages:
            held = self.deal_ids(stage["id"])
            if held:
                raise Invalid(_holding("Stage", stage["id"], held))
        now = self.account.clock.stamp()
        for stage in map(self.own, stages):
            self.change(stage, {"active_flag": False, "update_time": now})
        return [stage["id"] for stage in stages]

    def deal_ids(self, stage_id: int) -> list[int]:
        """The deals in the stage that are not deleted."""
        return [deal["id"] for deal in self.account.deals.where("stage_id", stage_id) if deal["status"] != "deleted"]

    def render(self, stage: Record) -> Record:
        """A stage with the name and probability setting of its pipeline, as the list and the details show it."""
        pipeline = self.account.pipelines.find_any(stage["pipeline_id"]) or {}
        return {
            **stage,
            "pipeline_name": pipeline.get("name"),
            "pipeline_deal_probability": bool(pipeline.get("deal_probability")),
        }


def deals_summary(account: Account, deals: Iterable[Record]) -> Record:
    """Totals of open deals: per stage and currency (count, value, weighted value, formatted), per currency, and
    the count, as a pipeline's or a stage's details show them."""
    per_stages: dict[str, dict[str, Record]] = {}
    per_currency: dict[str, Record] = {}
    count = 0
    for deal in deals:
        if deal["status"] != "open":
            continue
        count += 1
        currency = deal["currency"]
        entry = per_stages.setdefault(str(deal["stage_id"]), {}).setdefault(
            currency, {"count": 0, "value": 0, "weighted_value": 0}
        )
        entry["count"] += 1
        entry["value"] = money.number(entry["value"] + deal["value"])
        entry["weighted_value"] = money.number(entry["weighted_value"] + account.deals.weighted_value(deal))
        total = per_currency.setdefault(currency, {"count": 0, "value": 0})
        total["count"] += 1
        total["value"] = money.number(total["value"] + deal["value"])
    for by_currency in per_stages.values():
        for code, entry in by_currency.items():
            formatter = account.currencies.by_code(code)
            entry["value_formatted"] = formatter.format(entry["value"])
            entry["weighted_value_formatted"] = formatter.format(entry["weighted_value"])
    return {
        "per_stages": per_stages,
        "per_currency": {code: total["value"] for code, total in per_currency.items()},
        "total_count": count,
        "per_currency_full": per_currency,
    }


def _listed(ids: list[int]) -> str:
    shown = ", ".join(str(deal_id) for deal_id in ids[:10])
    return shown + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")


def _holding(kind: str, record_id: int, held: list[int]) -> str:
    return (
        f"{kind} {record_id} still holds deals {_listed(held)}; move them to another stage (PUT /deals/{{id}} with "
        f"stage_id) or delete them first."
    )
