"""What the person and organization handlers share: a list page, one record's answer, and a contact's deals and
activities. Not a handler module (the registry reads only `MODULES`)."""

from __future__ import annotations

from collections.abc import Iterable

from starlette.responses import Response

from mock_server.domain.collection import Record, paginate
from mock_server.domain.contacts import Contacts
from mock_server.domain.deal_views import sort_deals
from mock_server.http import envelope
from mock_server.http.tenant import current_account


def contact_page(
    contacts: Contacts, filter_type: str, user_id: int | None, filter_id: int | None, first_char: str | None,
    start: int, limit: int, sort: str | None,
) -> Response:  # fmt: skip
    """A page of persons or organizations: by owner and first letter, or by a saved filter (which ignores the owner),
    sorted on request."""
    account = current_account()
    records: Iterable[Record] = contacts.query(
        user_id=None if filter_id is not None else user_id, first_char=first_char
    )
    if filter_id is not None:
        records = list(account.filters.apply(filter_id, filter_type, records))
    if sort:
        records = contacts.sort(list(records), sort)
    related = account.related()
    result = paginate(records, start, limit, lambda record: contacts.render(record, related))
    return envelope.page(result, related=related.build())


def contact(contacts: Contacts, record: Record, status: int = 200) -> Response:
    """One person or organization as its reads show it."""
    related = current_account().related()
    return envelope.one(contacts.render(record, related), status=status, related=related.build())


def linked_deals(link: str, record_id: int, start: int, limit: int, status: str, sort: str | None) -> Response:
    """The deals of a person or an organization, as `GET /deals` shows them."""
    account = current_account()
    contacts = account.persons if link == "person_id" else account.organizations
    contacts.get(record_id)
    among = sorted(account.deals.index_ids(link, record_id))
    deals: Iterable[Record] = account.deals.query(
        status=status, among=(deal for deal in map(account.deals.find_any, among) if deal is not None)
    )
    if sort:
        deals = sort_deals(account, deals, sort)
    related = account.related()
    result = paginate(deals, start, limit, lambda deal: account.deals.render(deal, related))
    return envelope.page(result, related=related.build())


def linked_activities(
    link: str, record_id: int, start: int, limit: int, done: float | None, exclude: list[int] | None
) -> Response:
    """The activities of a person or an organization, in due order, as `GET /deals/{id}/activities` shows them."""
    account = current_account()
    contacts = account.persons if link == "person_id" else account.organizations
    contacts.get(record_id)
    activities = account.activities.linked(
        link, record_id, done=None if done is None else int(done), exclude=exclude or ()
    )
    related = account.related()
    result = paginate(activities, start, limit, lambda activity: account.activities.render(activity, related))
    return envelope.page(result, related=related.build())
