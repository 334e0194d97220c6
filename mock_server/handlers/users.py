"""Users: list, read, the token's own user, and finding users by name or email."""

from __future__ import annotations

from starlette.responses import Response

from mock_server.domain.users import find_users, render_me, render_user, user_by_id
from mock_server.http import envelope
from mock_server.http.tenant import current_account


async def get_users() -> Response:
    account = current_account()
    return envelope.one([render_user(account, user) for user in account.users.all()])


async def get_user(id: int) -> Response:
    account = current_account()
    return envelope.one(render_user(account, user_by_id(account, id)))


async def get_current_user() -> Response:
    return envelope.one(render_me(current_account()))


async def find_users_by_name(term: str, search_by_email: float | None = None) -> Response:
    account = current_account()
    users = find_users(account, term, by_email=bool(search_by_email))
    return envelope.one([render_user(account, user) for user in users])
