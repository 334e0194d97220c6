"""Organizations: their persons, and the organization as shown."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from mock_server.domain.collection import Record
from mock_server.domain.contacts import DEFAULT_VISIBILITY, Contacts
from mock_server.domain.related import Related
from mock_server.errors import Invalid

if TYPE_CHECKING:
    from mock_server.domain.account import Account

WRITABLE = ("name", "owner_id", "address", "label", "visible_to", "add_time")


class Organizations(Contacts):
    link = "org_id"
    fields_name = "organization_fields"
    noun = "organization"

    def __init__(self, account: Account, records: Iterable[Record]) -> None:
        super().__init__(account, "Organization", records)

    def create(self, body: dict[str, Any]) -> Record:
        fields = self._checked(body, WRITABLE)
        if "name" not in fields:
            raise Invalid("An organization needs a name: give `name` at least one character.")
        return self._new(body, {"address": None, "label": None, **fields})

    def modify(self, org_id: int, body: dict[str, Any]) -> Record:
        self.get(org_id)
        return self._modified(org_id, self._checked(body, WRITABLE), body)

    def move_links(self, from_id: int, to_id: int, now: str) -> None:
        """A merged organization's persons move to the kept one too."""
        super().move_links(from_id, to_id, now)
        persons = self.account.persons
        for person in persons.where("org_id", from_id):
            persons.change(persons.own(person), {"org_id": to_id, "update_time": now})

    def people_count(self, org_id: int) -> int:
        return len(self.account.persons.where("org_id", org_id))

    def getters(self) -> dict[str, Any]:
        return {**super().getters(), "people_count": lambda org: self.people_count(org["id"])}

    def persons_of(self, org_id: int) -> list[Record]:
        """The active persons of an organization, in id order."""
        self.get(org_id)
        return sorted(self.account.persons.where("org_id", org_id), key=lambda person: person["id"])

    def render(self, org: Record, related: Related | None = None) -> Record:
        """The organization as lists and details show it, with the counts derived on read."""
        account = self.account
        owner = self.owner_value(org["owner_id"])
        out: Record = {
            "id": org["id"],
            "company_id": account.company["id"],
            "owner_id": owner,
            "owner_name": owner.get("name"),
            "name": org["name"],
            "address": org["address"],
            "label": org.get("label"),
            "people_count": self.people_count(org["id"]),
            **self.derived(org),
            "visible_to": org.get("visible_to", DEFAULT_VISIBILITY),
            "active_flag": org["active_flag"],
            "add_time": org["add_time"],
            "update_time": org.get("update_time") or org["add_time"],
            "created_by_user_id": org.get("created_by_user_id", org["owner_id"]),
            "last_updated_by_user_id": org.get("last_updated_by_user_id"),
            **self.custom_of(org),
        }
        if related is not None:
            related.add("user", org["owner_id"])
        return out
