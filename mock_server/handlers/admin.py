"""The control plane under /__mock__: one thin handler per operation of spec/admin.yaml."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response, StreamingResponse

from mock_server import __version__
from mock_server.control.plane import current_control
from mock_server.http import envelope
from mock_server.http.tenant import mask_token


def _json(body: Any) -> Response:
    return envelope.respond(body)


async def mock_health() -> Response:
    return _json({"status": "ok", "version": __version__, "tenants": len(current_control().tenants)})


async def reset_mock(body: dict[str, Any] | None = None) -> Response:
    return _json(await current_control().reset((body or {}).get("token")))


async def export_state(token: str) -> Response:
    # An export may be hundreds of megabytes: streamed in chunks, never joined whole.
    return StreamingResponse(envelope.streamed(await current_control().export(token)), media_type=envelope.JSON)


async def import_state(token: str, body: dict[str, Any]) -> Response:
    return _json(await current_control().restore(token, body))


async def load_fixtures(token: str, body: dict[str, Any]) -> Response:
    return _json(await current_control().load_fixtures(token, body["fixtures"]))


async def get_clock(token: str | None = None) -> Response:
    return _json(current_control().clock_state(token))


async def set_clock(body: dict[str, Any] | None = None) -> Response:
    body = body or {}
    control = current_control()
    return _json(
        control.set_clock(body.get("freeze"), body.get("advance"), bool(body.get("resume")), body.get("token"))
    )


async def set_seed(body: dict[str, Any]) -> Response:
    return _json(current_control().reseed(body["seed"]))


async def list_faults() -> Response:
    return _json([fault.to_dict() for fault in current_control().faults.list()])


async def add_fault(body: dict[str, Any]) -> Response:
    return _json(current_control().faults.add(body).to_dict())


async def clear_faults() -> Response:
    current_control().faults.clear()
    return _json({"cleared": True})


async def delete_fault(id: int) -> Response:
    current_control().faults.remove(id)
    return _json({"deleted": id})


async def get_rate_limit() -> Response:
    return _json(current_control().limiter.limits())


async def set_rate_limit(body: dict[str, Any]) -> Response:
    limiter = current_control().limiter
    limiter.set_limit(body["limit"], body.get("token"))
    return _json(limiter.limits())


async def list_requests(token: str | None = None, path: str | None = None, limit: int | None = None) -> Response:
    return _json(current_control().journal.entries(token, path, limit))


async def clear_requests(token: str | None = None) -> Response:
    current_control().journal.clear(token)
    return _json({"cleared": mask_token(token) if token else "all"})


async def list_scenarios() -> Response:
    return _json(current_control().scenarios())


async def apply_scenario(name: str, body: dict[str, Any] | None = None) -> Response:
    return _json(await current_control().apply_scenario_served(name, (body or {}).get("token")))


async def list_deliveries(token: str, limit: int | None = None, wait_for: int | None = None) -> Response:
    return _json(await current_control().deliveries.entries(token, limit, wait_for))


async def resend_delivery(id: int, token: str) -> Response:
    return _json(current_control().deliveries.resend(token, id))


async def list_delivery_faults(token: str) -> Response:
    return _json(current_control().deliveries.faults(token))


async def add_delivery_fault(token: str, body: dict[str, Any]) -> Response:
    return _json(current_control().deliveries.add_fault(token, body))


async def clear_delivery_faults(token: str) -> Response:
    current_control().deliveries.clear_faults(token)
    return _json({"cleared": mask_token(token)})
