"""Webhook subscriptions: list, add, delete."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from mock_server.http import envelope
from mock_server.http.tenant import current_account


async def get_webhooks() -> Response:
    return envelope.respond({"status": "ok", "success": True, "data": current_account().webhooks.all()})


async def add_webhook(body: dict[str, Any]) -> Response:
    account = current_account()
    webhook = account.webhooks.add(account, body)
    return envelope.respond({"status": "ok", "success": True, "data": webhook}, status=201)


async def delete_webhook(id: int) -> Response:
    current_account().webhooks.remove(id)
    return envelope.respond({"status": "ok", "success": True, "data": {"id": id}})
