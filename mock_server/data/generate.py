"""Big believable accounts from a seed: deals with persons, organizations, activities and product lines."""

from __future__ import annotations

import functools
import random
import unicodedata
from bisect import bisect
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import accumulate
from typing import Any

from mock_server.domain.account import FixtureSet
from mock_server.domain.clock import DATE_FORMAT, parse_datetime
from mock_server.domain.deals import UNTRACKED
from mock_server.domain.money import line_sum, number

Record = dict[str, Any]

DAY = 86_400
PAST_DAYS = 730
FUTURE_DAYS = 183
# Fixtures with no timestamps at all still generate the same account every time.
FALLBACK_NOW = datetime(2024, 1, 1, 12, 0, 0)

ORG_PREFIXES = ("Nordic", "Baltic", "Alpine", "Northern", "Coastal", "United", "Atlantic", "Central", "Polar",
                "Eastern", "Western", "Midland", "Harbor", "Granite", "Summit", "Pioneer", "Riverside", "Valley",
                "Fjord", "Aurora", "Birch", "Cedar", "Iron", "Silver", "Golden", "Arctic", "Lake", "Meadow",
                "Forest", "Highland")  # fmt: skip
ORG_NOUNS = ("Tools", "Machining", "Fabrication", "Engineering", "Metalworks", "Logistics", "Hydraulics", "Robotics",
             "Precision", "Automation", "Components", "Systems", "Industries", "Works", "Castings", "Welding",
             "Electric", "Instruments", "Plastics", "Composites", "Bearings", "Pumps", "Valves", "Motors",
             "Fasteners", "Coatings", "Optics", "Sensors", "Packaging", "Energy")  # fmt: skip
ORG_SUFFIXES = ("Oy", "AB", "AS", "A/S", "GmbH", "Ltd", "Inc.", "LLC", "Sp. z o.o.", "UAB", "s.r.o.", "BV")
STREETS = ("Main Street", "Harbour Road", "Industrial Way", "Station Road", "Mill Lane", "Factory Street",
           "Park Avenue", "Bridge Street", "Canal Road", "Market Square")  # fmt: skip
CITIES = ("Helsinki, Finland", "Tampere, Finland", "Stockholm, Sweden", "Gothenburg, Sweden", "Oslo, Norway",
          "Copenhagen, Denmark", "Tallinn, Estonia", "Riga, Latvia", "Vilnius, Lithuania", "Hamburg, Germany",
          "Manchester, United Kingdom", "Gdańsk, Poland", "Rotterdam, Netherlands", "Chicago, USA")  # fmt: skip
FIRST_NAMES = ("Aino", "Mikko", "Päivi", "Jari", "Sofia", "Lars", "Ingrid", "Erik", "Anna", "Johan", "Maja",
               "Oskar", "Emma", "Lukas", "Hanna", "Tomasz", "Agnieszka", "Jonas", "Laura", "Peter", "Sarah",
               "David", "Elena", "Marco", "Chloé", "Björn", "Øystein", "Mette", "Kristjan", "Liis")  # fmt: skip
LAST_NAMES = ("Virtanen", "Korhonen", "Nieminen", "Mäkinen", "Lindqvist", "Johansson", "Andersson", "Nilsen",
              "Hansen", "Jensen", "Kowalski", "Nowak", "Müller", "Schmidt", "Smith", "Brown", "Taylor", "Walker",
              "Rossi", "Dubois", "Tamm", "Kalniņš", "Petrauskas", "Öhman", "Berg", "Dahl", "Larsen", "Koch",
              "Wilson", "Clarke")  # fmt: skip
PROJECTS = ("Tool crib expansion", "Remote monitoring rollout", "Calibration kit order", "Service contract renewal",
            "Torque wrench fleet renewal", "Spare parts framework", "Line automation pilot", "Annual maintenance",
            "Workshop refit", "Safety equipment upgrade", "Training package", "Sensor retrofit",
            "Hydraulic press overhaul", "Extended warranty", "New plant equipment")  # fmt: skip
LOST_REASONS = ("Price too high", "No response from customer", "Lead time too long", "Project postponed",
                "Chose a competitor", "No budget this year")  # fmt: skip
SUBJECTS = {
    "call": ("Follow-up call", "Intro call", "Call about the quote"),
    "meeting": ("On-site meeting", "Kick-off meeting", "Quarterly review"),
    "task": ("Send the quote", "Check spare part availability", "Prepare the contract"),
    "deadline": ("Quote valid until", "Tender deadline"),
    "email": ("Email meeting summary", "Send the brochure", "Email the price list"),
    "lunch": ("Lunch with the buyer", "Team lunch"),
    "video_call": ("Teams demo", "Video call: requirements"),
}
# Open deals dominate a real account; the first four deals take one status each, so every status appears.
STATUSES = ("open", "won", "lost", "deleted")
STATUS_WEIGHTS = tuple(accumulate((55, 25, 15, 5)))
DUE_TIMES = (None, "08:30", "09:00", "10:00", "11:00", "13:00", "14:00", "15:30", "16:00")
DURATIONS = (None, "00:15", "00:30", "00:45", "01:00", "02:00")


def reference_time(fixture: FixtureSet) -> datetime:
    """The fixture's "now": its latest `add_time` or `update_time`, so generated dates fit around its data."""
    latest = max(
        (stamp for items in fixture.records.values() for item in items
         for stamp in (item.get("add_time"), item.get("update_time")) if isinstance(stamp, str)),
        default=None,
    )  # fmt: skip
    return parse_datetime(latest) if latest else FALLBACK_NOW


def generate_account(
    base: FixtureSet, *, deals: int, seed: int = 0, activities_per_deal: int = 10, products_per_deal: int = 1
) -> FixtureSet:
    """An account with `deals` generated deals and what they point to, on `base`'s users, pipelines and catalogue.

    The same base and seed give identical records. Generated records are built valid by construction and are
    not run through the per-record JSON Schema checks (too slow for a million records); tests validate a small
    generated set fully.
    """
    if deals < 0 or activities_per_deal < 0 or products_per_deal < 0:
        raise ValueError("deals, activities_per_deal and products_per_deal must be 0 or more.")
    return _generate(base, deals, seed, activities_per_deal, products_per_deal)


def _generate(base: FixtureSet, deals: int, seed: int, activities_per_deal: int, products_per_deal: int) -> FixtureSet:
    builder = _Builder(base, random.Random(seed))
    builder.contacts(max(1, round(deals / 10)) if deals else 0)
    generated: list[Record] = []
    activities: list[Record] = []
    lines: list[Record] = []
    for deal_id in range(1, deals + 1):
        deal, added, moved = builder.deal(deal_id)
        deal_lines = builder.lines(deal, products_per_deal, len(lines) + 1, added, moved)
        if deal_lines:
            # The rule the API applies (domain/deal_products.py): a deal is worth the sum of its enabled lines.
            deal["value"] = number(sum(line_sum(line) for line in deal_lines if line["enabled_flag"]))
        generated.append(deal)
        lines += deal_lines
        activities += builder.activities(deal, activities_per_deal, len(activities) + 1, added, moved)
    records = {
        **base.records,
        "organizations": builder.organizations,
        "persons": builder.persons,
        "deals": generated,
        "activities": activities,
        "deal_products": lines,
        # Notes belong to the base's deals and persons, which the generated account replaces.
        "notes": [],
    }
    return FixtureSet(base.path, base.company, records)


@dataclass
class _Timeline:
    """Moments as whole seconds since two years before the fixture's now, formatted through lookup tables."""

    now: int
    days: list[str]
    clock: list[str]

    @classmethod
    def around(cls, now: datetime) -> _Timeline:
        start = (now - timedelta(days=PAST_DAYS)).replace(hour=0, minute=0, second=0)
        count = PAST_DAYS + FUTURE_DAYS + 2
        days = [(start + timedelta(days=offset)).strftime(DATE_FORMAT) for offset in range(count)]
        # 86,400 strings once beat millions of strftime calls (the generator's hot path).
        clock = [f"{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}" for second in range(DAY)]
        return cls(int((now - start).total_seconds()), days, clock)

    def stamp(self, moment: int) -> str:
        return f"{self.days[moment // DAY]} {self.clock[moment % DAY]}"

    def date(self, moment: int) -> str:
        return self.days[moment // DAY]


class _Builder:
    """Draws every value from one seeded generator, in a fixed order, so a seed always gives the same account."""

    def __init__(self, base: FixtureSet, rng: random.Random) -> None:
        records = base.records
        self.rng = rng
        self.time = _Timeline.around(reference_time(base))
        self.users = [user["id"] for user in records["users"] if user.get("active_flag", True)] or [
            user["id"] for user in records["users"]
        ]
        self.stages = _stages_by_pipeline(records)
        self.pipelines = sorted(self.stages)
        self.currencies, self.currency_weights = _currencies(records)
        self.products = records["products"]
        self.activity_types = [
            (kind["key_string"], SUBJECTS.get(kind["key_string"], (kind["name"],)))
            for kind in records["activity_types"]
            if kind.get("active_flag", True)
        ] or [(kind["key_string"], (kind["name"],)) for kind in records["activity_types"]]
        self.organizations: list[Record] = []
        self.persons: list[Record] = []

    def pick(self, options: Sequence[Any]) -> Any:
        # random() alone keeps the sequence identical across Python versions, unlike choice() and randrange().
        return options[int(self.rng.random() * len(options))]

    def between(self, low: int, high: int) -> int:
        return low + int(self.rng.random() * max(high - low, 1))

    def contacts(self, count: int) -> None:
        for org_id in range(1, count + 1):
            org = self.organization(org_id)
            self.organizations.append(org)
            self.persons += [self.person(2 * org_id - 1, org), self.person(2 * org_id, org)]

    def organization(self, org_id: int) -> Record:
        added = self.between(0, self.time.now)
        return {
            "id": org_id,
            "name": f"{self.pick(ORG_PREFIXES)} {self.pick(ORG_NOUNS)} {self.pick(ORG_SUFFIXES)}",
            "address": f"{self.pick(STREETS)} {self.between(1, 200)}, {self.pick(CITIES)}",
            "owner_id": self.pick(self.users),
            "active_flag": True,
            "add_time": self.time.stamp(added),
            "update_time": self.time.stamp(self.between(added, self.time.now)),
        }

    def person(self, person_id: int, org: Record) -> Record:
        first, last = self.pick(FIRST_NAMES), self.pick(LAST_NAMES)
        domain = "".join(_ascii(word) for word in org["name"].split()[:2])
        return {
            "id": person_id,
            "name": f"{first} {last}",
            "first_name": first,
            "last_name": last,
            "email": [{"value": f"{_ascii(first)}.{_ascii(last)}@{domain}.example", "primary": True, "label": "work"}],
            "phone": [{"value": f"+358 40 {self.between(1_000_000, 9_999_999)}", "primary": True, "label": "mobile"}],
            "org_id": org["id"],
            "owner_id": org["owner_id"],
            "label": None,
            "active_flag": True,
            "add_time": org["add_time"],
            "update_time": org["update_time"],
        }

    def deal(self, deal_id: int) -> tuple[Record, int, int]:
        """A deal, when it was added and when it last moved (its stage change, or its close)."""
        rng, time = self.rng, self.time
        person = self.pick(self.persons) if self.persons else None
        org = self.organizations[person["org_id"] - 1] if person else None
        roll = bisect(STATUS_WEIGHTS, rng.random() * STATUS_WEIGHTS[-1])
        status = STATUSES[deal_id - 1 if deal_id <= len(STATUSES) else roll]
        pipeline_id = self.pick(self.pipelines)
        stages = self.stages[pipeline_id]
        stage = stages[-1] if status == "won" else self.pick(stages)
        added = self.between(0, time.now - DAY)
        moved = self.between(added, time.now)
        moved_stamp = time.stamp(moved)
        closed = moved_stamp if status in ("won", "lost") else None
        user_id = self.pick(self.users)
        deal = {
            "id": deal_id,
            "name": f"{org['name'] if org else 'New customer'} – {self.pick(PROJECTS)}",
            "value": self.between(1, 500) * 100,
            "currency": self.currencies[bisect(self.currency_weights, rng.random() * self.currency_weights[-1])],
            "user_id": user_id,
            "creator_user_id": user_id,
            "person_id": person["id"] if person and rng.random() < 0.9 else None,
            "org_id": org["id"] if org else None,
            "pipeline_id": pipeline_id,
            "stage_id": stage["id"],
            "status": status,
            "probability": None,
            "lost_reason": self.pick(LOST_REASONS) if status == "lost" else None,
            "add_time": time.stamp(added),
            "update_time": time.stamp(self.between(moved, time.now)),
            "stage_change_time": moved_stamp,
            "close_time": closed,
            "won_time": closed if status == "won" else None,
            "first_won_time": closed if status == "won" else None,
            "lost_time": closed if status == "lost" else None,
            "expected_close_date": time.date(self.between(added, time.now + FUTURE_DAYS * DAY)),
            **UNTRACKED,
            # A deleted deal is an inactive record: reads by id answer 404, only status=deleted lists it.
            "active_flag": status != "deleted",
        }
        return deal, added, moved

    def lines(self, deal: Record, count: int, first_id: int, added: int, moved: int) -> list[Record]:
        if not self.products:
            return []
        lines = []
        for position in range(count):
            product = self.pick(self.products)
            price = _price(product, deal["currency"])
            quantity = self.between(1, 20)
            roll = self.rng.random()
            monthly = self.rng.random() < 0.2
            stamp = self.time.stamp(self.between(added, moved))
            lines.append({
                "id": first_id + position,
                "deal_id": deal["id"],
                "product_id": product["id"],
                "item_price": price,
                "quantity": quantity,
                "discount": 0 if roll < 0.6 else (self.pick((5, 10, 15, 20)) if roll < 0.85 else round(price * 0.05)),
                "discount_type": "amount" if roll >= 0.85 else "percentage",
                "duration": self.pick((12, 24)) if monthly else 1,
                "duration_unit": "monthly" if monthly else None,
                "tax": product.get("tax") or 0,
                "tax_method": self.pick(("exclusive", "inclusive", "none")),
                "enabled_flag": self.rng.random() < 0.9,
                "comments": None,
                "order_nbr": position + 1,
                "product_variation_id": None,
                "add_time": stamp,
                "last_edit": stamp,
            })  # fmt: skip
        return lines

    def activities(self, deal: Record, count: int, first_id: int, added: int, moved: int) -> list[Record]:
        # The hot loop of a big account (a million activities): names bound locally, dates from lookup tables.
        rand, days, clock, now = self.rng.random, self.time.days, self.time.clock, self.time.now
        types, type_count = self.activity_types, len(self.activity_types)
        # Open deals have activities planned up to six months ahead; closed ones stop when they closed.
        span = max((now + FUTURE_DAYS * DAY if deal["status"] == "open" else moved) - added, 1)
        deal_id, user_id, person_id, org_id = deal["id"], deal["user_id"], deal["person_id"], deal["org_id"]
        activities = []
        for position in range(count):
            key, subjects = types[int(rand() * type_count)]
            due = added + int(rand() * span)
            created = added + int(rand() * max(min(due, now) - added, 1))
            created_stamp = f"{days[created // DAY]} {clock[created % DAY]}"
            marked = None
            if due < now and rand() < 0.85:
                done_at = min(due + int(rand() * 7200), now)
                marked = f"{days[done_at // DAY]} {clock[done_at % DAY]}"
            activities.append({
                "id": first_id + position,
                "subject": subjects[int(rand() * len(subjects))],
                "type": key,
                "due_date": days[due // DAY],
                "due_time": DUE_TIMES[int(rand() * len(DUE_TIMES))],
                "duration": DURATIONS[int(rand() * len(DURATIONS))],
                "user_id": user_id,
                "created_by_user_id": user_id,
                "deal_id": deal_id,
                "person_id": person_id,
                "org_id": org_id,
                "done": 0 if marked is None else 1,
                "marked_as_done_time": marked,
                "note": None,
                "participants": [{"person_id": person_id, "primary_flag": True}] if person_id else None,
                "active_flag": True,
                "add_time": created_stamp,
                "update_time": marked or created_stamp,
            })  # fmt: skip
        return activities


def _stages_by_pipeline(records: dict[str, list[Record]]) -> dict[int, list[Record]]:
    """Each pipeline's active stages in order; a won deal sits in the last one."""
    pipelines = {pipeline["id"] for pipeline in records["pipelines"]}
    stages: dict[int, list[Record]] = {}
    for stage in sorted(records["stages"], key=lambda stage: (stage["order_nbr"], stage["id"])):
        if stage["pipeline_id"] in pipelines and stage.get("active_flag", True):
            stages.setdefault(stage["pipeline_id"], []).append(stage)
    if not stages:
        raise ValueError("The base fixture set has no pipeline with an active stage to put generated deals in.")
    return stages


def _currencies(records: dict[str, list[Record]]) -> tuple[list[str], list[int]]:
    """The currencies the base's deals use, as often as they use them; else every active currency alike."""
    known = {currency["code"] for currency in records["currencies"]}
    used = Counter(deal["currency"] for deal in records["deals"] if deal["currency"] in known)
    if not used:
        used = Counter(currency["code"] for currency in records["currencies"] if currency.get("active_flag", True))
    if not used:
        raise ValueError("The base fixture set has no currency for generated deals.")
    return list(used), list(accumulate(used.values()))


def _price(product: Record, currency: str) -> int | float:
    prices = product.get("prices") or []
    price = next((entry for entry in prices if entry.get("currency") == currency), prices[0] if prices else None)
    return number(price["price"]) if price and price.get("price") is not None else 100


@functools.cache
def _ascii(word: str) -> str:
    """A word as it may appear in an e-mail address: lower case, accents dropped, letters and digits only."""
    folded = unicodedata.normalize("NFKD", word).encode("ascii", "ignore").decode().lower()
    return "".join(character for character in folded if character.isalnum()) or "contact"
