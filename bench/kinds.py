"""The request kinds the benchmark sends, with paths relative to the API base (`/v1` on the mock, `/` on Prism)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RequestKind:
    key: str
    method: str
    path: str
    body: dict[str, Any] | None = None

    @property
    def label(self) -> str:
        return f"{self.method} /v1{self.path}"

    @property
    def is_write(self) -> bool:
        return self.method != "GET"

    def body_text(self) -> str:
        return json.dumps(self.body) if self.body is not None else ""


TOKEN = "bench-token"
# Deal 1 is open in the fixtures and in every generated account (generated deals 2-4 are won, lost, deleted).
DEAL_ID = 1
# Filter 1 is the fixtures' "Big open deals"; generated accounts keep the fixtures' filters.
FILTER_ID = 1
# "Oy" is a company suffix both in the fixtures and among generated organizations and deal names.
SEARCH_TERM = "Oy"

# Reads come before writes so that the reads measure the account as loaded, not as grown by the writes.
KINDS: tuple[RequestKind, ...] = (
    RequestKind("list_deals", "GET", "/deals?limit=100"),
    RequestKind("get_deal", "GET", f"/deals/{DEAL_ID}"),
    RequestKind("list_activities", "GET", "/activities?limit=100"),
    RequestKind("search", "GET", f"/itemSearch?term={SEARCH_TERM}"),
    RequestKind("filter_deals", "GET", f"/deals?filter_id={FILTER_ID}"),
    RequestKind("add_deal", "POST", "/deals", {"name": "Bench deal", "person_id": 1, "value": 1000, "currency": "EUR"}),
    RequestKind("update_deal", "PUT", f"/deals/{DEAL_ID}", {"value": 1500}),
)
BY_KEY = {kind.key: kind for kind in KINDS}
# What the scale runs measure at each account size: the reads that grow with the account, and one write.
SCALE_KINDS: tuple[RequestKind, ...] = tuple(
    BY_KEY[key] for key in ("list_deals", "get_deal", "filter_deals", "search", "add_deal")
)
