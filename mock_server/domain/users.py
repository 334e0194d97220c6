"""Users of the company: as listed, found by name or email, and the token's own user."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from mock_server.domain.collection import Record
from mock_server.errors import NotFound

if TYPE_CHECKING:
    from mock_server.domain.account import Account


def render_user(account: Account, user: Record) -> Record:
    """A user as the users endpoints show it: the stored record, `is_you` for the token's user, and the service's
    names for its times (`created`, `modified`) beside the reference's (`add_time`, `update_time`)."""
    return {
        **user,
        "is_admin": bool(user.get("is_admin", False)),
        "is_you": user["id"] == account.user_id,
        "activated": bool(user.get("active_flag", True)),
        "created": user.get("add_time"),
        "modified": user.get("update_time") or user.get("add_time"),
        "last_login": user.get("update_time") or user.get("add_time"),
        "has_created_company": user.get("created_by_user_id") is None,
    }


def user_by_id(account: Account, user_id: int) -> Record:
    """A user by id, deactivated ones too: their records stay readable."""
    user = account.users.find_any(user_id)
    if user is None:
        raise NotFound(f"User with id {user_id} not found.")
    return user


def render_me(account: Account) -> Record:
    """The token's user with the company it belongs to."""
    company = account.company
    return {
        **render_user(account, account.user),
        "company_id": company["id"],
        "company_name": company["name"],
        "company_domain": re.sub(r"[^a-z0-9]", "", company["name"].casefold()) or "company",
    }


def find_users(account: Account, term: str, *, by_email: bool = False) -> list[Record]:
    """Users whose name (or, `by_email`, email) contains the term, without case, in id order."""
    needle = term.strip().casefold()
    key = "email" if by_email else "name"
    return [user for user in account.users.all() if needle in str(user.get(key) or "").casefold()]
