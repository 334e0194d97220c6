"""Turn API answers back into fixture records; rebuild a record from what others show of it only where no answer
held the record itself (a target that does not list it, a recording that never saw it)."""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mock_server.data.fixtures import DATE, DATETIME, REFERENCES, RESOURCES, SCHEMAS

Record = dict[str, Any]

# Keys the mock and the service work out on every read; a fixture record holds what they are worked out from.
DEAL_DERIVED = {"created_by_user_id", "owner_name", "person_name", "org_name", "stage_order_nbr", "weighted_value",
                "weighted_value_currency", "value_formatted", "weighted_value_formatted", "rotten_time",
                "next_activity_id", "next_activity_date", "next_activity_time", "next_activity_subject",
                "next_activity_type", "next_activity_duration", "next_activity_note", "last_activity_id",
                "last_activity_date", "products_count"}  # fmt: skip
ACTIVITY_DERIVED = {"deal_name", "person_name", "org_name", "owner_name", "assigned_to_user_id", "company_id"}
# What persons and organizations show worked out from deals, activities and notes.
CONTACT_COUNTS = {"open_deals_count", "closed_deals_count", "won_deals_count", "lost_deals_count", "activities_count",
                  "done_activities_count", "undone_activities_count", "notes_count", "next_activity_id",
                  "next_activity_date", "next_activity_time", "last_activity_id", "last_activity_date"}  # fmt: skip
# Per resource read whole: the keys a read works out, and the references it may expand into objects.
WHOLE_DERIVED = {
    "persons": {"person_name", "first_char", "company_id", "org_name", "owner_name", *CONTACT_COUNTS},
    "organizations": {"company_id", "owner_name", "people_count", *CONTACT_COUNTS},
    "users": {"is_you", "activated", "created", "modified", "last_login", "has_created_company", "company_id",
              "company_name", "company_domain"},
    "pipelines": {"url_title"},
    "stages": {"pipeline_name", "pipeline_deal_probability"},
    "products": set(),
    "notes": {"deal", "person", "organization", "user"},
}  # fmt: skip
REFERENCE_KEYS = ("owner_id", "org_id", "person_id", "user_id", "deal_id", "pipeline_id")
LINE_DERIVED = {"name", "update_time", "sum", "currency", "company_id", "sum_formatted", "quantity_formatted",
                "product"}  # fmt: skip
FILTER_KEYS = ("id", "name", "type", "user_id", "active_flag", "temporary_flag", "add_time", "update_time",
               "conditions")  # fmt: skip
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
KINDS = {"user": "users", "person": "persons", "organization": "organizations", "stage": "stages",
         "pipeline": "pipelines", "product": "products"}  # fmt: skip


@dataclass
class Rebuilt:
    """A fixture set, and sentences saying what could not be read and what it got instead."""

    company: Record
    records: dict[str, list[Record]]
    defaults: list[str] = field(default_factory=list)


def ref(value: Any) -> int | None:
    """An id as lists show it: a number, or an expanded object carrying it as `value` (or `id`)."""
    if isinstance(value, dict):
        value = value.get("value", value.get("id"))
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def is_time(value: Any) -> bool:
    try:
        datetime.strptime(value, TIME_FORMAT)
    except (TypeError, ValueError):
        return False
    return True


def by_id(records: Iterable[Record]) -> list[Record]:
    return sorted(records, key=lambda record: record["id"])


def whole(resource: str, raw: Record) -> Record:
    """A record as its own list or read shows it, as a fixture holds it: without what a read works out, with ids
    where the read expands a reference into an object."""
    record = {key: value for key, value in raw.items() if key not in WHOLE_DERIVED[resource]}
    for key in REFERENCE_KEYS:
        if isinstance(record.get(key), dict):
            record[key] = ref(record[key])
    return record


class Builder:
    """Collects every view of a record the answers held, then fills in what no view showed."""

    def __init__(self, lists: dict[str, list[Record]], related: dict[str, dict[int, Record]], now: str) -> None:
        self.lists = lists
        self.now = now
        self.defaults: list[str] = []
        # kind -> id -> what was seen of it: the whole record where an answer held it, else every view of it (the
        # first view of each key wins). `listed`: the ids of the records seen whole.
        self.seen: dict[str, dict[int, Record]] = {kind: {} for kind in KINDS}
        self.listed: dict[str, set[int]] = {kind: set() for kind in KINDS}
        self.rebuilt: set[str] = set()  # the kinds of which a record was rebuilt from what others show of it
        for kind, resource in KINDS.items():
            for raw in lists.get(resource) or []:
                if isinstance(raw, dict) and isinstance(raw.get("id"), int):
                    self.seen[kind][raw["id"]] = whole(resource, raw)
                    self.listed[kind].add(raw["id"])
        for kind, records in related.items():
            for record in records.values():
                self.see(kind, record)

    def see(self, kind: str, view: Any, record_id: int | None = None) -> None:
        if kind not in self.seen or not isinstance(view, dict):
            return
        record_id = record_id if record_id is not None else ref(view.get("id"))
        if record_id is None or record_id in self.listed[kind]:
            return
        known = self.seen[kind].setdefault(record_id, {"id": record_id})
        for key, value in view.items():
            if key not in ("value", "id"):
                known.setdefault(key, value)

    # --- records read from lists ---------------------------------------------------------------------------------

    def deals(self) -> list[Record]:
        deals = []
        for raw in self.lists["deals"]:
            for key, kind in (("user_id", "user"), ("creator_user_id", "user"), ("person_id", "person"),
                              ("org_id", "organization")):  # fmt: skip
                self.see(kind, raw.get(key), ref(raw.get(key)))
            deal = {key: value for key, value in raw.items() if key not in DEAL_DERIVED}
            for key in ("user_id", "creator_user_id", "person_id", "org_id"):
                deal[key] = ref(raw.get(key))
            deals.append(deal)
        return by_id(deals)

    def activities(self, deal_ids: set[int]) -> list[Record]:
        activities, orphans = [], 0
        for raw in self.lists["activities"]:
            activity = {key: value for key, value in raw.items() if key not in ACTIVITY_DERIVED}
            if activity.get("deal_id") is not None and activity["deal_id"] not in deal_ids:
                activity["deal_id"], orphans = None, orphans + 1
            activities.append(activity)
        if orphans:
            self.defaults.append(f"activities: {orphans} were on deals the API no longer lists; their deal_id is null.")
        return by_id(activities)

    def deal_products(self) -> list[Record]:
        lines = []
        for raw in self.lists["deal_products"]:
            product = raw.get("product")
            if isinstance(product, dict):
                self.see("user", product.get("owner_id"), ref(product.get("owner_id")))
                self.see("product", {**product, "owner_id": ref(product.get("owner_id"))}, raw.get("product_id"))
            lines.append({key: value for key, value in raw.items() if key not in LINE_DERIVED})
        return by_id(lines)

    def filters(self) -> list[Record]:
        return by_id({key: raw.get(key) for key in FILTER_KEYS} for raw in self.lists["filters"])

    # --- records rebuilt from what referred to them --------------------------------------------------------------

    def rebuild(self, kind: str, wanted: Iterable[int | None], fill: Record, placeholder: str) -> list[Record]:
        """Every record of `kind` seen or `wanted`, with `fill`'s keys where no view showed them."""
        ids = set(self.seen[kind]) | {record_id for record_id in wanted if record_id is not None}
        records: list[Record] = []
        unseen: list[int] = []
        for record_id in sorted(ids):
            view = self.seen[kind].get(record_id)
            if record_id in self.listed[kind]:
                records.append(self.seen[kind][record_id])
                continue
            self.rebuilt.add(kind)
            if view is None:
                unseen.append(record_id)
                view = {"id": record_id, "name": f"{placeholder} {record_id}"}
            # What a view showed wins, except a null where the default has a value (a user's email, say).
            known = {key: value for key, value in view.items() if value is not None or fill.get(key) is None}
            records.append({**known, **{key: value for key, value in fill.items() if key not in known}})
        if unseen:
            shown = ", ".join(str(record_id) for record_id in unseen[:10]) + (" ..." if len(unseen) > 10 else "")
            self.defaults.append(f"{kind}s {shown}: referred to but never shown; named '{placeholder} <id>'.")
        return records

    def stage_rules(self, pipelines: dict[int, Record]) -> dict[int, Record]:
        """Stage probabilities and rotting, told by the deals: lists show each deal's weighted and rotten time."""
        rules: dict[int, Record] = {}
        for raw in self.lists["deals"]:
            stage_id, value = raw.get("stage_id"), raw.get("value")
            pipeline = pipelines.get(raw.get("pipeline_id") or 0, {})
            if stage_id in self.listed["stage"]:
                continue
            rule = rules.setdefault(stage_id, {}) if isinstance(stage_id, int) else {}
            weighted = raw.get("weighted_value")
            if (pipeline.get("deal_probability") and raw.get("probability") is None and isinstance(value, int | float)
                    and value and isinstance(weighted, int | float)):  # fmt: skip
                probability = round(weighted / value * 100, 2)
                rule.setdefault("deal_probability", int(probability) if probability.is_integer() else probability)
            entered = str(raw.get("stage_change_time") or raw.get("add_time"))
            if is_time(raw.get("rotten_time")) and is_time(entered):
                days = datetime.strptime(raw["rotten_time"], TIME_FORMAT) - datetime.strptime(entered, TIME_FORMAT)
                rule.setdefault("rotten_days", round(days.total_seconds() / 86400))
                rule["rotten_flag"] = True
        return rules


def rebuild(
    lists: dict[str, list[Record]],
    related: dict[str, dict[int, Record]],
    *,
    api_user_id: int | None,
    host: str,
    now: str,
    me: Record | None = None,
) -> Rebuilt:
    """The fixture set of an account read through its API; `defaults` says what could not be read.

    `lists` holds what the API listed, by fixture resource; a resource it leaves out was not read, and its records
    are rebuilt from what the others show. `me` is the token's user with its company (`GET /users/me`)."""
    builder = Builder(lists, related, now)
    deals = builder.deals()
    deal_ids = {deal["id"] for deal in deals}
    activities = builder.activities(deal_ids)
    lines = builder.deal_products()
    notes = by_id(whole("notes", raw) for raw in lists.get("notes") or [])
    orphans = [note for note in notes if note.get("deal_id") is not None and note["deal_id"] not in deal_ids]
    for note in orphans:
        note["deal_id"] = None
    if orphans:
        builder.defaults.append(f"notes: {len(orphans)} were on deals the API no longer lists; their deal_id is null.")
    currencies = by_id(lists["currencies"])
    me = me or {}
    own_currency = me.get("default_currency")
    currency = own_currency if isinstance(own_currency, str) else _company_currency(deals, currencies)
    user_id = api_user_id
    if user_id is None:
        user_id = min([*builder.seen["user"], *(deal["user_id"] for deal in deals if deal["user_id"])], default=1)
        builder.defaults.append(f"api user: the token owns no deal or activity; the fixture acts as user {user_id}.")
    records: dict[str, list[Record]] = {"deals": deals, "activities": activities, "deal_products": lines,
                                        "filters": builder.filters(), "notes": notes}  # fmt: skip
    records.update(_pipelines_and_stages(builder, deals))
    records.update(_people(builder, records, user_id))
    owners = [user_id, *(deal[key] for deal in deals for key in ("user_id", "creator_user_id"))]
    owners += [record.get(key) for resource in ("activities", "filters", "persons", "organizations", "products",
                                                "notes") for record in records[resource]
               for key in ("user_id", "owner_id")]  # fmt: skip
    user_fill = {"email": "", "active_flag": True, "is_admin": False, "default_currency": currency, "add_time": now}
    records["users"] = builder.rebuild("user", owners, user_fill, "User")
    if "user" in builder.rebuilt:
        builder.defaults.append(f"users: some not read whole; rebuilt from what other records show, default currency "
                                f"{currency} where none is shown.")  # fmt: skip
    used = [deal["currency"] for deal in deals] + [user["default_currency"] for user in records["users"]]
    records["currencies"] = currencies + _missing_currencies(currencies, used, builder)
    activity_types = by_id(lists["activity_types"])
    records["activity_types"] = activity_types + _missing_types(activity_types, activities, builder)
    records.update(deal_fields=by_id(lists["deal_fields"]), activity_fields=by_id(lists["activity_fields"]))
    for resource in ("person_fields", "organization_fields", "product_fields"):
        records[resource] = by_id(lists.get(resource) or [])
    unread = [resource for resource in ("notes", "person_fields", "organization_fields", "product_fields")
              if resource not in lists]  # fmt: skip
    if unread:
        builder.defaults.append(f"{', '.join(unread)}: not read; written empty.")
    if not isinstance(me.get("company_name"), str):
        builder.defaults.append(f"company: not read (GET /users/me); named 'Snapshot of {host}', default currency "
                                f"{currency} (the most used by deals).")  # fmt: skip
    builder.defaults += [f"exchange rates: not readable; every currency is 1.0 {currency}.",
                         "product lines of deleted deals: not readable."]  # fmt: skip
    _complete(records, now, builder.defaults)
    rates = {entry["code"]: 1.0 for entry in records["currencies"]}
    company_id = me.get("company_id") if isinstance(me.get("company_id"), int) else _company_id(lists)
    company = {"id": company_id, "name": me.get("company_name") or f"Snapshot of {host}",
               "default_currency": currency, "api_user_id": user_id, "tokens": {},
               "exchange_rates": {"base": currency, "rates": rates}}  # fmt: skip
    return Rebuilt(company, {resource: records[resource] for resource in RESOURCES}, builder.defaults)


def _pipelines_and_stages(builder: Builder, deals: list[Record]) -> dict[str, list[Record]]:
    for field_record in builder.lists["deal_fields"]:
        _see_options(builder, field_record)
    pipelines = builder.rebuild("pipeline", [deal["pipeline_id"] for deal in deals],
                                {"order_nbr": 0, "active_flag": True, "deal_probability": 0}, "Pipeline")  # fmt: skip
    rules = builder.stage_rules({pipeline["id"]: pipeline for pipeline in pipelines})
    stage_fill = {"order_nbr": 0, "deal_probability": 100, "rotten_flag": False, "rotten_days": None,
                  "active_flag": True}  # fmt: skip
    stages = builder.rebuild("stage", [deal["stage_id"] for deal in deals], stage_fill, "Stage")
    deal_pipeline = {deal["stage_id"]: deal["pipeline_id"] for deal in deals}
    for stage in stages:
        stage.setdefault("pipeline_id", deal_pipeline.get(stage["id"], pipelines[0]["id"] if pipelines else 0))
        stage.update(rules.get(stage["id"], {}))
    if "stage" in builder.rebuilt:
        builder.defaults.append("stages: some not read whole; probability and rotting told from the deals where they "
                                "show them, else probability 100 and no rotting.")  # fmt: skip
    return {"pipelines": pipelines, "stages": stages}


def _people(builder: Builder, records: dict[str, list[Record]], user_id: int) -> dict[str, list[Record]]:
    """Persons, organizations and products: as listed, and what deals, activities, notes and product lines show of
    those no list held."""
    deals, activities, notes, now = records["deals"], records["activities"], records["notes"], builder.now
    people = [record.get("person_id") for record in [*deals, *activities, *notes]]
    people += [entry.get("person_id") for activity in activities for entry in activity.get("participants") or []]
    persons = builder.rebuild("person", people, {"email": [], "phone": [], "org_id": None, "owner_id": user_id,
                                                 "active_flag": True, "add_time": now}, "Person")  # fmt: skip
    for person in persons:  # views show a person's name alone: its first word is the first name, the rest the last
        first, _, last = str(person["name"]).partition(" ")
        person.setdefault("first_name", first)
        person.setdefault("last_name", last)
    organizations = builder.rebuild(
        "organization",
        [record.get("org_id") for record in [*deals, *activities, *persons, *notes]],
        {"address": None, "owner_id": user_id, "active_flag": True, "add_time": now},
        "Organization",
    )
    products = builder.rebuild("product", [line["product_id"] for line in records["deal_products"]],
                               {"code": None, "owner_id": user_id, "tax": 0, "prices": [], "active_flag": True,
                                "add_time": now}, "Product")  # fmt: skip
    unlisted = [KINDS[kind] for kind in ("person", "organization", "product") if kind in builder.rebuilt]
    if unlisted:
        builder.defaults.append(f"{', '.join(unlisted)}: some not read whole; rebuilt from what other records show "
                                "of them (a person's organization only as a deal's persons show it), added at the "
                                "time of the snapshot.")  # fmt: skip
    return {"persons": persons, "organizations": organizations, "products": products}


def _see_options(builder: Builder, field_record: Record) -> None:
    """The stage and pipeline fields may list every stage and pipeline as options, including unused ones."""
    kind = {"stage_id": "stage", "pipeline_id": "pipeline"}.get(str(field_record.get("key")))
    if kind is None:
        return
    for option in field_record.get("options") or []:
        if isinstance(option, dict) and isinstance(option.get("id"), int) and option["id"] not in builder.seen[kind]:
            builder.see(kind, {"name": option.get("label")}, option["id"])


def _company_currency(deals: list[Record], currencies: list[Record]) -> str:
    used = Counter(deal["currency"] for deal in deals if isinstance(deal.get("currency"), str))
    if used:
        return str(used.most_common(1)[0][0])
    return str(currencies[0]["code"]) if currencies else "EUR"


def _missing_currencies(currencies: list[Record], codes: list[str], builder: Builder) -> list[Record]:
    known = {entry["code"] for entry in currencies}
    missing = sorted({code for code in codes if isinstance(code, str) and code not in known})
    if missing:
        builder.defaults.append(f"currencies {', '.join(missing)}: used but not listed; added as inactive.")
    first = max((entry["id"] for entry in currencies), default=0) + 1
    return [{"id": first + offset, "code": code, "name": code, "symbol": code, "decimal_points": 2,
             "is_custom_flag": False, "active_flag": False} for offset, code in enumerate(missing)]  # fmt: skip


def _missing_types(types: list[Record], activities: list[Record], builder: Builder) -> list[Record]:
    known = {entry["key_string"] for entry in types}
    missing = sorted({activity["type"] for activity in activities if activity.get("type") not in known})
    if missing:
        builder.defaults.append(f"activity types {', '.join(missing)}: used but not listed; added as inactive.")
    first = max((entry["id"] for entry in types), default=0) + 1
    order = max((entry.get("order_nbr", 0) for entry in types), default=0) + 1
    return [{"id": first + offset, "name": key, "key_string": key, "icon_key": "task", "color": None,
             "order_nbr": order + offset, "is_custom_flag": True, "active_flag": False}
            for offset, key in enumerate(missing)]  # fmt: skip


def _complete(records: dict[str, list[Record]], now: str, defaults: list[str]) -> None:
    """Give a record that does not show a field every fixture record has (other than its references, which must
    name a record) an empty value of the field's type, and say so: one odd answer does not stop a snapshot."""
    references = {(resource, name) for resource, name, _ in REFERENCES}
    for resource, items in records.items():
        schema = SCHEMAS[resource]
        for name in schema["required"]:
            missing = [item["id"] for item in items if name not in item]
            empty = _empty(schema["properties"][name], now)
            if not missing or name == "id" or (resource, name) in references or empty is NO_VALUE:
                continue
            for item in items:
                item.setdefault(name, copy.deepcopy(empty))
            shown = ", ".join(map(str, missing[:10])) + (" ..." if len(missing) > 10 else "")
            defaults.append(f"{resource} {shown}: '{name}' not shown; set to {empty!r}.")


NO_VALUE = object()


def _empty(schema: Record, now: str) -> Any:
    """The empty value of a fixture field: null where it may be, else the snapshot's time, a first choice, ''."""
    if "anyOf" in schema:
        return None
    if schema is DATETIME:
        return now
    if schema is DATE:
        return now[:10]
    if "enum" in schema:
        return schema["enum"][0]
    empties = {"string": "", "integer": 0, "number": 0, "boolean": False, "array": []}
    return empties.get(schema.get("type", ""), NO_VALUE)


def _company_id(lists: dict[str, list[Record]]) -> int:
    for resource in ("activities", "deal_products"):
        for record in lists[resource]:
            if isinstance(record.get("company_id"), int):
                return int(record["company_id"])
    return 1
