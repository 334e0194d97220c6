"""`proxy --record DIR`: the records seen in the target's answers, folded into a fixture folder like `snapshot`'s."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mock_server.data import fixtures
from mock_server.data.rebuild import Rebuilt, rebuild
from mock_server.data.snapshot import Taken, check_out, write_folder

# The lists a snapshot reads, by the name of the last fixed segment of an operation's path (`/deals/{id}` and
# `/deals` both hold deals). A search hit or a summary is not a whole record, so those paths record nothing.
RESOURCES = {
    "currencies": "currencies",
    "activityTypes": "activity_types",
    "activityFields": "activity_fields",
    "dealFields": "deal_fields",
    "filters": "filters",
    "deals": "deals",
    "activities": "activities",
    "products": "deal_products",
    "persons": "persons",
}


def resource_of(template: str) -> str | None:
    """The fixture resource an operation's answer holds, from its path template (`/deals/{id}/products`)."""
    fixed = [segment for segment in template.strip("/").split("/") if not re.fullmatch(r"\{\w+\}", segment)]
    if not fixed or fixed[-1] not in RESOURCES:
        return None
    if fixed[-1] == "products" and fixed[:-1] != ["deals"]:
        return None
    return RESOURCES[fixed[-1]]


class Recorder:
    """Records by resource and id (a record seen again is updated, never repeated) and every related object."""

    def __init__(self, out: Path, host: str, *, force: bool) -> None:
        check_out(out, force=force)
        self.out = out
        self.host = host
        self.force = force
        self.records: dict[str, dict[int, dict[str, Any]]] = {name: {} for name in RESOURCES.values()}
        self.taken = Taken()
        self.lock = threading.Lock()

    def see(self, template: str, method: str, status: int, envelope: Any) -> int:
        """Fold in a successful answer of the operation at `template`; how many records it held."""
        resource = resource_of(template)
        if resource is None or method == "DELETE" or not 200 <= status < 300 or not isinstance(envelope, dict):
            return 0
        data = envelope.get("data")
        found = [record for record in (data if isinstance(data, list) else [data])
                 if isinstance(record, dict) and isinstance(record.get("id"), int)]  # fmt: skip
        with self.lock:
            self.taken.relate(envelope)
            kept = self.records[resource]
            for record in found:
                kept.setdefault(record["id"], {}).update(record)
        return len(found)

    def count(self) -> int:
        with self.lock:
            return sum(len(records) for records in self.records.values())

    def rebuilt(self) -> Rebuilt:
        with self.lock:
            lists = {name: list(records.values()) for name, records in self.records.items()}
            related = {kind: dict(records) for kind, records in self.taken.related.items()}
        # A filter seen only in a list has no conditions (only its own read shows them): it cannot be loaded.
        lists["filters"] = [record for record in lists["filters"] if "conditions" in record]
        now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
        return rebuild(lists, related, api_user_id=None, host=self.host, now=now)

    def write(self) -> Rebuilt:
        """Write the fixture folder (all of it or nothing); `fixtures.FixtureError` when it would not load."""
        rebuilt = self.rebuilt()
        fixtures.validate(rebuilt.company, rebuilt.records, self.out)
        write_folder(self.out, rebuilt.company, rebuilt.records, force=True)
        return rebuilt
