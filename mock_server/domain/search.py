"""Search over deals, persons, organizations and products: term matching, scoring, ranking and search items."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable
from collections.abc import Collection as Container
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mock_server.domain.collection import Page, Record
from mock_server.domain.fields import SEARCHABLE_TYPES
from mock_server.errors import Invalid

if TYPE_CHECKING:
    from mock_server.domain.account import Account
    from mock_server.domain.fields import Fields

EXACT, PREFIX, SUBSTRING = 1.0, 0.6, 0.3
ITEM_TYPES = ("deal", "person", "organization", "product")
# The `fields` values that apply to each item type (the reference's "relevant for each item type"); the deal's
# `title` is its name. `organization_name`, `person_name` and `description` belong to item types the mock has not.
TYPE_FIELDS: dict[str, frozenset[str]] = {
    "deal": frozenset({"title", "notes", "custom_fields"}),
    "person": frozenset({"name", "email", "phone", "notes", "custom_fields"}),
    "organization": frozenset({"name", "address", "notes", "custom_fields"}),
    "product": frozenset({"name", "code", "custom_fields"}),
}
RELATED_LIMIT = 100
PHONE_CHARACTERS = frozenset("0123456789 +-().")


class Matcher:
    """One search term, casefolded once, scored against values: exact 1.0, prefix 0.6, substring 0.3, else 0."""

    def __init__(self, term: str, exact_match: bool = False) -> None:
        stripped = term.strip()
        if len(stripped) < (1 if exact_match else 2):
            raise Invalid(
                f"Search term `term` must be at least 2 characters long (1 with `exact_match`), not {term!r}."
            )
        self.needle = stripped.casefold()
        self.exact = exact_match
        # A term that looks like a phone number also matches phones written with other spacing or punctuation.
        digits = "".join(char for char in stripped if char.isdigit())
        self.digits = digits if digits and set(stripped) <= PHONE_CHARACTERS else ""

    def score(self, value: object) -> float:
        if value is None:
            return 0.0
        text = (value if isinstance(value, str) else str(value)).casefold()
        if text == self.needle:
            return EXACT
        if self.exact:
            return 0.0
        if text.startswith(self.needle):
            return PREFIX
        return SUBSTRING if self.needle in text else 0.0

    def phone_score(self, value: str) -> float:
        score = self.score(value)
        if score or not self.digits:
            return score
        return self.score_digits("".join(char for char in value if char.isdigit()))

    def score_digits(self, digits: str) -> float:
        if digits == self.digits:
            return EXACT
        if self.exact:
            return 0.0
        if digits.startswith(self.digits):
            return PREFIX
        return SUBSTRING if self.digits in digits else 0.0

    def best(self, values: Iterable[object]) -> float:
        return max((self.score(value) for value in values), default=0.0)

    @property
    def key(self) -> tuple[str, bool, str]:
        """Everything the matcher's scores depend on."""
        return self.needle, self.exact, self.digits

    @property
    def needles(self) -> tuple[str, ...]:
        """What a scoring value must contain: the casefolded term, or for phones the term's digits."""
        return (self.needle, self.digits) if self.digits else (self.needle,)


def folded(value: object) -> str:
    """A value as `Matcher.score` compares it."""
    return (value if isinstance(value, str) else str(value)).casefold()


class TextIndex:
    """The searchable values of many records, casefolded once and joined into one string.

    Every value that scores contains the term (or, for a phone, the term's digits), so the records that can score
    are those whose part of the string holds a needle: a few `str.find` calls instead of scoring every record.
    Only those candidates are then scored. Kept until the account changes (`Account.kept`).
    """

    def __init__(self, records: Iterable[Record], values: Callable[[Record], Iterable[object]]) -> None:
        self.records: list[Record] = []
        self.starts: list[int] = []
        parts: list[str] = []
        position = 0
        for record in records:
            part = "\0".join(folded(value) for value in values(record) if value is not None) + "\0"
            self.records.append(record)
            self.starts.append(position)
            parts.append(part)
            position += len(part)
        self.text = "".join(parts)

    def candidates(self, matcher: Matcher) -> list[Record]:
        """The records holding a needle, in index order: a superset of those the matcher scores above zero."""
        text, starts, count = self.text, self.starts, len(self.starts)
        found: set[int] = set()
        for needle in matcher.needles:
            at = text.find(needle)
            while at != -1:
                number = bisect_right(starts, at) - 1
                found.add(number)
                at = text.find(needle, starts[number + 1]) if number + 1 < count else -1
        return [self.records[number] for number in sorted(found)]


@dataclass
class Hit:
    """A found record before rendering: its kind, raw score (the sum over matched fields) and matching texts."""

    kind: str
    record: Record
    total: float
    custom_fields: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def result_score(self) -> float:
        # Monotonic in the sum, so ranking by it equals ranking by the sum, and always within (0, 1).
        return round(self.total / (self.total + 1), 6)

    def sort_key(self) -> tuple[float, int, int]:
        return -self.total, ITEM_TYPES.index(self.kind), self.record["id"]


@dataclass
class NoteMatches:
    score: float = 0.0
    contents: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ItemSearchResult:
    page: Page
    related_items: list[Record] | None

    def data(self) -> Record:
        data: Record = {"items": self.page.items}
        if self.related_items is not None:
            data["related_items"] = self.related_items
        return data


# --- searchDeals and searchItem ---------------------------------------------------------------------------------


def search_deals(
    account: Account,
    matcher: Matcher,
    *,
    fields: Container[str] | None = None,
    person_id: int | None = None,
    organization_id: int | None = None,
    status: str = "all_not_deleted",
    start: int = 0,
    limit: int = 100,
) -> Page:
    """Deals whose name, notes or searchable custom fields match, best first; only the page is rendered."""
    if person_id is not None:
        account.persons.require("person_id", person_id)
    if organization_id is not None:
        account.organizations.require("organization_id", organization_id)
    wanted = searched(fields, "deal")

    def keep(deal: Record) -> bool:
        return (person_id is None or deal["person_id"] == person_id) and (
            organization_id is None or deal["org_id"] == organization_id
        )

    def find() -> list[Hit]:
        return ranked(deal_hits(account, matcher, wanted, status=status, keep=keep))

    kept = kept_search(account, ("deals", matcher.key, _fields_key(fields), person_id, organization_id, status), find)
    return kept.page(account, start, limit)


def search_persons(
    account: Account,
    matcher: Matcher,
    *,
    fields: Container[str] | None = None,
    organization_id: int | None = None,
    start: int = 0,
    limit: int = 100,
) -> Page:
    """Persons whose name, emails, phones or notes match, best first, of one organization when asked."""
    if organization_id is not None:
        account.organizations.require("organization_id", organization_id)
    wanted = searched(fields, "person")

    def find() -> list[Hit]:
        hits = person_hits(account, matcher, wanted)
        if organization_id is not None:
            hits = [hit for hit in hits if hit.record["org_id"] == organization_id]
        return ranked(hits)

    kept = kept_search(account, ("persons", matcher.key, _fields_key(fields), organization_id), find)
    return kept.page(account, start, limit)


def search_organizations(
    account: Account, matcher: Matcher, *, fields: Container[str] | None = None, start: int = 0, limit: int = 100
) -> Page:
    """Organizations whose name, address or notes match, best first."""
    wanted = searched(fields, "organization")
    kept = kept_search(
        account,
        ("organizations", matcher.key, _fields_key(fields)),
        lambda: ranked(organization_hits(account, matcher, wanted)),
    )
    return kept.page(account, start, limit)


def search_items(
    account: Account,
    matcher: Matcher,
    *,
    item_types: Iterable[str] | None = None,
    fields: Container[str] | None = None,
    related: bool = False,
    start: int = 0,
    limit: int = 100,
) -> ItemSearchResult:
    """Matching records of the asked item types, best first; item types the mock does not keep find nothing."""
    asked = set(item_types or ITEM_TYPES)  # an empty list, like an absent one, means every type

    def find() -> list[Hit]:
        hits: list[Hit] = []
        for kind in (kind for kind in ITEM_TYPES if kind in asked):
            wanted = searched(fields, kind)
            if wanted:
                hits.extend(FINDERS[kind](account, matcher, wanted))
        return ranked(hits)

    kept = kept_search(account, ("items", matcher.key, tuple(sorted(asked)), _fields_key(fields)), find)
    page = kept.page(account, start, limit)
    return ItemSearchResult(page, related_items(account, kept.hits[start : start + limit]) if related else None)


def ranked(hits: list[Hit]) -> list[Hit]:
    """Best first; ties by item type, then id."""
    return sorted(hits, key=Hit.sort_key)


KEPT_SEARCHES = 256
KEPT_PAGES = 16


@dataclass
class KeptSearch:
    """A search's ranked hits and the pages of them rendered so far, kept together until the account changes."""

    hits: list[Hit]
    pages: dict[tuple[int, int], Page] = field(default_factory=dict)

    def page(self, account: Account, start: int, limit: int) -> Page:
        """Render only the requested slice: a broad term over a large account must not render every hit. The
        page is shared by every answer that holds it: nothing changes it after."""
        page = self.pages.get((start, limit))
        if page is None:
            if len(self.pages) >= KEPT_PAGES:
                self.pages.clear()
            renders: dict[str, dict[tuple[object, ...], Record]] = {}
            items = [render_hit(account, hit, renders) for hit in self.hits[start : start + limit]]
            page = self.pages[(start, limit)] = Page(items, start, limit, start + limit < len(self.hits))
        return page


def kept_search(account: Account, key: tuple[object, ...], find: Callable[[], list[Hit]]) -> KeptSearch:
    """The ranked hits of a search, kept until the account changes (a bounded few)."""
    kept: dict[tuple[object, ...], KeptSearch] = account.kept("searches", dict)
    search = kept.get(key)
    if search is None:
        if len(kept) >= KEPT_SEARCHES:
            kept.clear()
        search = kept[key] = KeptSearch(find())
    return search


def _fields_key(fields: Container[str] | None) -> tuple[str, ...] | None:
    return None if fields is None else tuple(sorted(fields))


def searched(fields: Container[str] | None, kind: str) -> frozenset[str]:
    """The fields of this item type to search: all of them, or those of the asked ones that apply to it."""
    applicable = TYPE_FIELDS[kind]
    return frozenset(name for name in applicable if name in fields) if fields else applicable


# --- finding ----------------------------------------------------------------------------------------------------


def deal_hits(
    account: Account,
    matcher: Matcher,
    fields: frozenset[str],
    *,
    status: str = "all_not_deleted",
    keep: Callable[[Record], bool] = lambda _deal: True,
) -> list[Hit]:
    """The listed deals (by `status`, and `keep`) whose name, searchable custom values or notes match.

    Only candidates are scored: deals whose indexed values hold the term, and deals a matching note names.
    """
    deals = account.deals

    def build() -> TextIndex:
        keys = searchable_custom_keys(account)
        return TextIndex(deals.all(), lambda deal: [deal["name"], *(deal.get(key) for key in keys)])

    notes = note_matches(account, matcher, "deal_id") if "notes" in fields else {}
    candidates = _with_notes(account.kept("deal_search_text", build).candidates(matcher), notes,
                             deals.find_any)  # fmt: skip
    keys = searchable_custom_keys(account) if "custom_fields" in fields else []
    by_name = "title" in fields
    hits = []
    for deal in filter(keep, deals.query(status=status, among=candidates)):
        total = matcher.score(deal["name"]) if by_name else 0.0
        custom = []
        for key in keys:
            score = matcher.score(deal.get(key))
            if score:
                total += score
                custom.append(str(deal[key]))
        note = notes.get(deal["id"])
        if note is not None:
            total += note.score
        if total:
            hits.append(Hit("deal", deal, total, custom, note.contents if note else []))
    return hits


def person_hits(account: Account, matcher: Matcher, fields: frozenset[str]) -> list[Hit]:
    notes = note_matches(account, matcher, "person_id") if "notes" in fields else {}
    persons = account.persons

    def build() -> TextIndex:
        keys = _custom_keys(account.person_fields)
        return TextIndex(persons.active(), lambda person: [*_person_values(person), *(person.get(k) for k in keys)])

    index = account.kept("person_search_text", build)
    keys = _custom_keys(account.person_fields) if "custom_fields" in fields else []
    hits = []
    for person in _with_notes(index.candidates(matcher), notes, persons.find):
        total = matcher.score(person["name"]) if "name" in fields else 0.0
        if "email" in fields:
            total += matcher.best(entry["value"] for entry in person["email"] or ())
        if "phone" in fields:
            total += max((matcher.phone_score(entry["value"]) for entry in person["phone"] or ()), default=0.0)
        score, custom = _custom_score(matcher, person, keys)
        total += score
        note = notes.get(person["id"])
        if note is not None:
            total += note.score
        if total:
            hits.append(Hit("person", person, total, custom, notes=note.contents if note else []))
    return hits


def _custom_keys(fields: Fields) -> list[str]:
    """The keys of the searchable custom fields of persons or organizations."""
    return [field["key"] for field in fields.custom() if field["field_type"] in SEARCHABLE_TYPES]


def _custom_score(matcher: Matcher, record: Record, keys: list[str]) -> tuple[float, list[str]]:
    """The score of a record's custom values under `keys`, and the values that matched."""
    total, matched = 0.0, []
    for key in keys:
        score = matcher.score(record.get(key))
        if score:
            total += score
            matched.append(str(record[key]))
    return total, matched


def _person_values(person: Record) -> list[object]:
    phones = [entry["value"] for entry in person["phone"] or ()]
    digits = ["".join(char for char in phone if char.isdigit()) for phone in phones]
    return [person["name"], *(entry["value"] for entry in person["email"] or ()), *phones, *digits]


def _with_notes(
    found: list[Record], notes: dict[int, NoteMatches], lookup: Callable[[int], Record | None]
) -> list[Record]:
    """Candidates by their own values, then the records (as `lookup` finds them) that only a note matched."""
    if not notes:
        return found
    noted = notes.keys() - {record["id"] for record in found}
    return found + [record for record in map(lookup, sorted(noted)) if record is not None]


def organization_hits(account: Account, matcher: Matcher, fields: frozenset[str]) -> list[Hit]:
    notes = note_matches(account, matcher, "org_id") if "notes" in fields else {}
    orgs = account.organizations

    def build() -> TextIndex:
        keys = _custom_keys(account.organization_fields)
        return TextIndex(orgs.active(), lambda org: [org["name"], org["address"], *(org.get(k) for k in keys)])

    index = account.kept("organization_search_text", build)
    keys = _custom_keys(account.organization_fields) if "custom_fields" in fields else []
    hits = []
    for org in _with_notes(index.candidates(matcher), notes, orgs.find):
        total = matcher.score(org["name"]) if "name" in fields else 0.0
        if "address" in fields:
            total += matcher.score(org["address"])
        score, custom = _custom_score(matcher, org, keys)
        total += score
        note = notes.get(org["id"])
        if note is not None:
            total += note.score
        if total:
            hits.append(Hit("organization", org, total, custom, notes=note.contents if note else []))
    return hits


def product_hits(account: Account, matcher: Matcher, fields: frozenset[str]) -> list[Hit]:
    keys = [field["key"] for field in account.product_fields.custom() if field["field_type"] in SEARCHABLE_TYPES]
    hits = []
    for product in account.products.active():
        total = matcher.score(product["name"]) if "name" in fields else 0.0
        if "code" in fields:
            total += matcher.score(product.get("code"))
        custom: list[str] = []
        if "custom_fields" in fields:
            for key in keys:
                score = matcher.score(product.get(key))
                if score:
                    total += score
                    custom.append(str(product[key]))
        if total:
            hits.append(Hit("product", product, total, custom_fields=custom))
    return hits


Finder = Callable[["Account", Matcher, frozenset[str]], list[Hit]]
FINDERS: dict[str, Finder] = {
    "deal": deal_hits,
    "person": person_hits,
    "organization": organization_hits,
    "product": product_hits,
}


def searchable_custom_keys(account: Account) -> list[str]:
    return [field["key"] for field in account.deal_fields.custom() if field["field_type"] in SEARCHABLE_TYPES]


def note_matches(account: Account, matcher: Matcher, link: str) -> dict[int, NoteMatches]:
    """One pass over the notes: per linked record, the best note score and the matching notes in note order."""
    matches: dict[int, NoteMatches] = {}
    notes = account.notes
    index = account.kept("note_search_text", lambda: TextIndex(notes.active(), lambda note: [note["content"]]))
    for note in index.candidates(matcher):
        owner_id = note.get(link)
        if owner_id is None:
            continue
        score = matcher.score(note["content"])
        if score:
            found = matches.setdefault(owner_id, NoteMatches())
            found.score = max(found.score, score)
            found.contents.append(note["content"])
    return matches


# --- related items ----------------------------------------------------------------------------------------------


def related_items(account: Account, hits: Iterable[Hit]) -> list[Record]:
    """Newest deals of each found person and organization and newest persons of each found organization, once each.

    A related item carries the score of the found item that brought it in, so the list stays best first.
    """
    seen: set[tuple[str, int]] = set()
    related: list[Record] = []
    renders: dict[str, dict[tuple[object, ...], Record]] = {}
    for hit in hits:
        for kind, record in _related_of(account, hit):
            if (kind, record["id"]) not in seen:
                seen.add((kind, record["id"]))
                related.append(render_hit(account, Hit(kind, record, hit.total), renders))
    return related


def _related_of(account: Account, hit: Hit) -> list[tuple[str, Record]]:
    link = {"person": "person_id", "organization": "org_id"}.get(hit.kind)
    if link is None:
        return []
    found: list[tuple[str, Record]] = [("deal", deal) for deal in _newest(account.deals.where(link, hit.record["id"]))]
    if hit.kind == "organization":
        found += [("person", person) for person in _newest(account.persons.where("org_id", hit.record["id"]))]
    return found


def _newest(records: list[Record]) -> list[Record]:
    newest_first = sorted(records, key=lambda record: (record.get("add_time") or "", record["id"]), reverse=True)
    return newest_first[:RELATED_LIMIT]


# --- rendering --------------------------------------------------------------------------------------------------


KEPT_RENDERS = 20_000


def render_hit(
    account: Account, hit: Hit, renders: dict[str, dict[tuple[object, ...], Record]] | None = None
) -> Record:
    """A hit as a search item, kept until the account changes. The kept render is shared by every answer that holds
    it: nothing changes a rendered hit after. `renders` holds the kept renders by item type already looked up for
    this answer."""
    kept = renders.get(hit.kind) if renders is not None else None
    if kept is None:
        kept = kept_renders(account, hit.kind)
        if renders is not None:
            renders[hit.kind] = kept
    key = (hit.record["id"], hit.total, tuple(hit.custom_fields), tuple(hit.notes))
    rendered = kept.get(key)
    if rendered is None:
        if len(kept) >= KEPT_RENDERS:
            kept.clear()
        rendered = kept[key] = {"result_score": hit.result_score, "item": RENDERERS[hit.kind](account, hit)}
    return rendered


def kept_renders(account: Account, kind: str) -> dict[tuple[object, ...], Record]:
    """The kept renders of an item type, valid until the account changes."""
    kept: dict[tuple[object, ...], Record] = account.kept(f"{kind}_search_renders", dict)
    return kept


def render_deal(account: Account, hit: Hit) -> Record:
    deal = hit.record
    stage = account.stages.find_any(deal["stage_id"]) or {}
    person = account.persons.find_any(deal["person_id"]) if deal["person_id"] is not None else None
    org = account.organizations.find_any(deal["org_id"]) if deal["org_id"] is not None else None
    return {
        "id": deal["id"],
        "type": "deal",
        "name": deal["name"],
        "value": deal["value"],
        "currency": deal["currency"],
        "status": deal["status"],
        "owner": {"id": deal["user_id"]},
        "stage": {"id": deal["stage_id"], "name": stage.get("name", "")},
        "person": {"id": person["id"], "name": person["name"]} if person else None,
        "organization": _organization(org),
        "custom_fields": list(hit.custom_fields),
        "notes": list(hit.notes),
    }


def render_person(account: Account, hit: Hit) -> Record:
    person = hit.record
    org = account.organizations.find_any(person["org_id"]) if person.get("org_id") is not None else None
    return {
        "id": person["id"],
        "type": "person",
        "name": person["name"],
        "phones": [entry["value"] for entry in person["phone"] or ()],
        "emails": [entry["value"] for entry in person["email"] or ()],
        "owner": {"id": person["owner_id"]},
        "organization": _organization(org),
        "custom_fields": list(hit.custom_fields),
        "notes": list(hit.notes),
    }


def render_organization(_account: Account, hit: Hit) -> Record:
    org = hit.record
    return {
        "id": org["id"],
        "type": "organization",
        "name": org["name"],
        "address": org["address"],
        "owner": {"id": org["owner_id"]},
        "custom_fields": list(hit.custom_fields),
        "notes": list(hit.notes),
    }


def render_product(_account: Account, hit: Hit) -> Record:
    product = hit.record
    return {
        "id": product["id"],
        "type": "product",
        "name": product["name"],
        "code": product.get("code"),
        "owner": {"id": product["owner_id"]},
        "custom_fields": list(hit.custom_fields),
    }


def _organization(org: Record | None) -> Record | None:
    return {"id": org["id"], "name": org["name"], "address": org["address"]} if org else None


Renderer = Callable[["Account", Hit], Record]
RENDERERS: dict[str, Renderer] = {
    "deal": render_deal,
    "person": render_person,
    "organization": render_organization,
    "product": render_product,
}
