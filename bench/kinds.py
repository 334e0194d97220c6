"""The request kinds the benchmark sends, with paths relative to the API base (`/v1` on the mock, `/` on Prism)."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True)
class RequestKind:
    key: str
    method: str
    path: str
    body: dict[str, Any] | None = None
    # Sent with `Cache-Control: no-cache`: the mock works the answer out afresh instead of repeating a kept one.
    fresh: bool = False

    @property
    def label(self) -> str:
        return f"{self.method} /v1{self.path}" + (" no-cache" if self.fresh else "")

    @property
    def headers(self) -> dict[str, str]:
        return {"cache-control": "no-cache"} if self.fresh else {}

    def worked_out(self) -> RequestKind:
        """This read, asked with `Cache-Control: no-cache`."""
        return replace(self, key=f"{self.key}_fresh", fresh=True)

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

# The request kinds of the targets. A repeated read is answered from the mock's kept answer (see docs/behaviour.md,
# "Repeated reads"), as any client repeating it would be answered.
KINDS: tuple[RequestKind, ...] = (
    RequestKind("list_deals", "GET", "/deals?limit=100"),
    RequestKind("get_deal", "GET", f"/deals/{DEAL_ID}"),
    RequestKind("list_activities", "GET", "/activities?limit=100"),
    RequestKind("search", "GET", f"/itemSearch?term={SEARCH_TERM}"),
    RequestKind("filter_deals", "GET", f"/deals?filter_id={FILTER_ID}"),
    RequestKind("update_deal", "PUT", f"/deals/{DEAL_ID}", {"value": 1500}),
    RequestKind("add_deal", "POST", "/deals", {"name": "Bench deal", "person_id": 1, "value": 1000, "currency": "EUR"}),
)
BY_KEY = {kind.key: kind for kind in KINDS}
# The same reads worked out afresh on every request: what a read costs when its answer cannot be repeated.
FRESH_KINDS: tuple[RequestKind, ...] = tuple(kind.worked_out() for kind in KINDS if not kind.is_write)
# What each server is asked, reads first so that they measure the account as loaded, not as grown by the writes;
# the update before the creates, which add thousands of deals and take the account past the big-account bound
# (see `http.big_accounts`), so that it too is measured on the bundled account.
MEASURED: tuple[RequestKind, ...] = (
    *(kind for kind in KINDS if not kind.is_write),
    *FRESH_KINDS,
    *(kind for kind in KINDS if kind.is_write),
)
# What the scale runs measure at each account size: the reads that grow with the account, worked out afresh so
# that their growth shows, and one write.
SCALE_KINDS: tuple[RequestKind, ...] = (
    *(BY_KEY[key].worked_out() for key in ("list_deals", "get_deal", "filter_deals", "search")),
    BY_KEY["add_deal"],
)
