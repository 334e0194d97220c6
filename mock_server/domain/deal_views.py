"""Per-deal reads beyond the record itself: details (age, time in stages, activities), persons and sorting."""

from __future__ import annotations

import calendar
import operator
from collections.abc import Callable, Iterable
from datetime import datetime
from itertools import chain
from typing import TYPE_CHECKING, Any

from mock_server.domain.clock import parse_datetime
from mock_server.domain.collection import Record
from mock_server.domain.related import Related, user_summary
from mock_server.errors import Invalid

if TYPE_CHECKING:
    from mock_server.domain.account import Account


def span(start: datetime, end: datetime) -> Record:
    """A duration as the service shows it: calendar parts plus the total in seconds."""
    seconds = max(0, int((end - start).total_seconds()))
    if end < start:
        start = end
    months = (end.year - start.year) * 12 + end.month - start.month
    if (end.day, end.time()) < (start.day, start.time()):
        months -= 1
    years, months = divmod(max(months, 0), 12)
    anchor_month = start.month - 1 + months + years * 12
    anchor = start.replace(year=start.year + anchor_month // 12, month=anchor_month % 12 + 1, day=1)
    # The same day of the month as the start, or the month's last day when it is shorter (Jan 31 -> Feb 28).
    anchor = anchor.replace(day=min(start.day, calendar.monthrange(anchor.year, anchor.month)[1]))
    rest = max(0, int((end - anchor).total_seconds())) if anchor <= end else 0
    days, rest = divmod(rest, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return {"y": years, "m": months, "d": days, "h": hours, "i": minutes, "s": secs, "total_seconds": seconds}


def stage_times(account: Account, deal: Record) -> Record:
    """Seconds the deal has spent in each stage, from its change log, and the order it visited them."""
    moves = [change for change in account.changes_of(deal["id"]) if change["field_key"] == "stage_id"]
    first_stage = moves[0]["old_value"] if moves else deal["stage_id"]
    visits: list[tuple[int, str]] = [(first_stage, deal["add_time"])]
    visits += [(change["new_value"], change["log_time"]) for change in moves]
    end = deal["close_time"] or account.clock.stamp()
    times: dict[str, int] = {}
    for (stage_id, entered), (_, left) in zip(visits, [*visits[1:], (None, end)], strict=True):
        seconds = max(0, int((parse_datetime(left) - parse_datetime(entered)).total_seconds()))
        times[str(stage_id)] = times.get(str(stage_id), 0) + seconds
    order = list(dict.fromkeys(stage_id for stage_id, _ in visits))
    return {"times_in_stages": times, "order_of_stages": order}


def deal_details(account: Account, deal: Record, related: Related) -> Record:
    details = account.deals.render(deal, related)
    now = account.clock.now()
    added = parse_datetime(deal["add_time"])
    details["age"] = span(added, now)
    won = parse_datetime(deal["won_time"]) if deal["won_time"] else None
    details["average_time_to_won"] = span(added, won) if won else span(added, added)
    stages = account.stages.where("pipeline_id", deal["pipeline_id"])
    details["average_stage_progress"] = round(100 * details["stage_order_nbr"] / len(stages), 2) if stages else 0
    details["stay_in_pipeline_stages"] = stage_times(account, deal)
    upcoming, last = account.activities.next_and_last(deal["id"])
    details["next_activity"] = account.activities.render(upcoming) if upcoming else None
    details["last_activity"] = account.activities.render(last) if last else None
    return details


def deal_persons(account: Account, deal_id: int) -> list[Record]:
    """The deal's contact person first, then every participant of its activities."""
    deal = account.deals.get(deal_id)
    ids: dict[int, None] = {}
    if deal["person_id"] is not None:
        ids[deal["person_id"]] = None
    for activity in account.activities.where("deal_id", deal_id):
        if activity["person_id"] is not None:
            ids[activity["person_id"]] = None
        for participant in activity["participants"] or []:
            if isinstance(participant.get("person_id"), int):
                ids[participant["person_id"]] = None
    persons = [person for person in (account.persons.find(pid) for pid in ids) if person is not None]
    return [render_person(account, person) for person in persons]


def render_person(account: Account, person: Record) -> Record:
    owner = account.users.find_any(person["owner_id"]) or {}
    org = account.organizations.find_any(person["org_id"]) if person["org_id"] is not None else None
    return {
        "id": person["id"],
        "name": person["name"],
        "person_name": person["name"],
        "first_name": person["first_name"],
        "last_name": person["last_name"],
        "first_char": person["name"][:1].lower(),
        "label": person.get("label"),
        "email": [dict(entry) for entry in person["email"]],
        "phone": [dict(entry) for entry in person["phone"]],
        "company_id": account.company["id"],
        "org_name": org["name"] if org else None,
        "owner_name": owner.get("name"),
        "owner_id": {**user_summary(owner), "value": person["owner_id"]},
        "org_id": account.organization_value(org),
        "active_flag": person["active_flag"],
        "created_by_user_id": person.get("created_by_user_id", person["owner_id"]),
        "last_updated_by_user_id": person.get("last_updated_by_user_id"),
        "add_time": person["add_time"],
        "update_time": person.get("update_time") or person["add_time"],
    }


def sort_deals(account: Account, records: Iterable[Record], sort: str) -> Iterable[Record]:
    """Order by `"field ASC, other DESC"`; fields are built-in deal keys or custom field keys."""
    deals = list(records)
    keys = {field["key"] for field in account.deal_fields.active()}
    ordered: Iterable[Record] = deals
    clauses = [clause.split() for clause in sort.split(",") if clause.strip()]
    for clause in reversed(clauses):
        field = clause[0]
        direction = clause[1].upper() if len(clause) > 1 else "ASC"
        if field not in keys and any(field in deal for deal in deals):
            keys.add(field)  # a key of the stored deals that no field names
        if field not in keys or direction not in ("ASC", "DESC") or len(clause) > 2:
            raise Invalid(f"sort: cannot sort by '{' '.join(clause)}'; use a deal field key followed by ASC or DESC.")
        drawn = list(ordered)  # the order of the clauses after this one, which this one keeps among its ties
        present = [deal for deal in drawn if deal.get(field) is not None]
        missing = [deal for deal in drawn if deal.get(field) is None]
        key = _sort_key(field, [deal[field] for deal in present])
        ordered = chain(sorted(present, key=key, reverse=direction == "DESC"), missing)
    return ordered


# Integers below this in size are floats exactly.
EXACT = 2**53


def _sort_key(field: str, values: list[Any]) -> Callable[[Record], Any]:
    """The key that sorts deals by `field`: numbers before text, text without case. When the values are all numbers
    or all text, the key is the value itself (or its casefold): the same order as `_sortable`, at a fraction of
    the cost on a big account (comparing tuples is what a sort spends its time on, holding the GIL)."""
    if all(isinstance(value, float) or (isinstance(value, int) and -EXACT < value < EXACT) for value in values):
        # As floats every one compares exactly as before, and a sort of floats alone takes its fast path.
        return lambda deal: float(deal[field])
    if all(isinstance(value, bool | int | float) for value in values):
        return operator.itemgetter(field)
    if all(isinstance(value, str) for value in values):
        return lambda deal: deal[field].casefold()
    return lambda deal: _sortable(deal[field])


def _sortable(value: Any) -> tuple[int, Any]:
    if isinstance(value, bool | int | float):
        return (0, value)
    return (1, str(value).casefold())
