"""A typed Python client for the control plane under /__mock__."""

from __future__ import annotations

import os
from typing import Any

import httpx

ADMIN_TOKEN_VARIABLE = "FINTESK_MOCK_ADMIN_TOKEN"


def admin_headers(admin_token: str | None = None) -> dict[str, str]:
    """The header a control-plane call carries: the given admin token, else FINTESK_MOCK_ADMIN_TOKEN's, else none."""
    token = admin_token or os.environ.get(ADMIN_TOKEN_VARIABLE)
    return {"x-admin-token": token} if token else {}


class MockControl:
    """Steers a running mock: `MockControl("http://127.0.0.1:8080").fail_next("POST /v1/deals", status=503)`.
    Calls carry `x-admin-token` from `admin_token`, or from FINTESK_MOCK_ADMIN_TOKEN when that is set."""

    def __init__(self, root_url: str, *, client: httpx.Client | None = None, admin_token: str | None = None) -> None:
        self.root_url = root_url.rstrip("/").removesuffix("/v1")
        self._client = client or httpx.Client(base_url=f"{self.root_url}/__mock__", timeout=30)
        self._client.headers.update(admin_headers(admin_token))

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._client.request(method, path, **kwargs)
        if response.status_code >= 400:
            raise RuntimeError(f"{method} /__mock__{path}: {response.status_code} {response.text}")
        return response.json()

    def close(self) -> None:
        self._client.close()

    # --- tenants and state
    def health(self) -> dict[str, Any]:
        return dict(self._call("GET", "/health"))

    def reset(self, token: str | None = None) -> None:
        self._call("POST", "/reset", json={"token": token} if token else {})

    def export_state(self, token: str) -> dict[str, Any]:
        return dict(self._call("GET", f"/tenants/{token}/state"))

    def import_state(self, token: str, state: dict[str, Any]) -> None:
        self._call("PUT", f"/tenants/{token}/state", json=state)

    def load_fixtures(self, token: str, fixtures: str) -> None:
        self._call("POST", f"/tenants/{token}/load", json={"fixtures": fixtures})

    # --- determinism
    def freeze(self, moment: str, token: str | None = None) -> dict[str, Any]:
        """Freeze the clock at a UTC time `YYYY-MM-DD HH:MM:SS`: the server's, or only the tenant's of `token`."""
        return dict(self._call("POST", "/clock", json=_with_token({"freeze": moment}, token)))

    def advance(self, duration: str, token: str | None = None) -> dict[str, Any]:
        """Move the clock on by a duration such as `90s`, `2h` or `1d12h`: the server's, or only a tenant's."""
        return dict(self._call("POST", "/clock", json=_with_token({"advance": duration}, token)))

    def resume(self, token: str | None = None) -> dict[str, Any]:
        """The server clock back to real time, or a tenant's back to following the server clock."""
        return dict(self._call("POST", "/clock", json=_with_token({"resume": True}, token)))

    def clock(self, token: str | None = None) -> dict[str, Any]:
        return dict(self._call("GET", "/clock", params={"token": token} if token else {}))

    def seed(self, seed: int) -> None:
        self._call("POST", "/seed", json={"seed": seed})

    # --- faults and rate limits
    def inject(self, kind: str, target: str = "* *", **options: Any) -> dict[str, Any]:
        """Add a fault for requests matching `"METHOD /path-glob"`, e.g. `inject("delay", "GET /v1/*", delay_ms=9)`."""
        method, _, path = target.partition(" ")
        return dict(
            self._call("POST", "/faults", json={"kind": kind, "method": method, "path": path or "*", **options})
        )

    def fail_next(self, target: str, status: int = 500, times: int = 1, **options: Any) -> dict[str, Any]:
        """The next `times` requests matching `"METHOD /path"` answer `status` in the Fintesk error envelope."""
        return self.inject("status", target, status=status, times=times, **options)

    def faults(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/faults"))

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    def set_rate_limit(self, limit: int, token: str | None = None) -> dict[str, Any]:
        return dict(self._call("PUT", "/rate-limit", json={"limit": limit, **({"token": token} if token else {})}))

    # --- journal
    def requests(self, path: str | None = None, token: str | None = None, limit: int | None = None) -> list[Any]:
        params = {key: value for key, value in {"path": path, "token": token, "limit": limit}.items() if value}
        return list(self._call("GET", "/requests", params=params))

    def clear_requests(self, token: str | None = None) -> None:
        self._call("DELETE", "/requests", params={"token": token} if token else {})

    # --- webhook deliveries --------------------------------------------------------------------------------------
    def deliveries(self, token: str, limit: int | None = None, wait_for: int | None = None) -> list[dict[str, Any]]:
        """The tenant's webhook delivery log, one entry per attempt, oldest first; with `wait_for`, once it logged
        that many entries in all (the server waits at most 60 s)."""
        params: dict[str, Any] = {"token": token, **({"limit": limit} if limit else {})}
        if wait_for:
            params["wait_for"] = wait_for
        return list(self._call("GET", "/deliveries", params=params, timeout=90))

    def resend_delivery(self, token: str, entry_id: int) -> dict[str, Any]:
        return dict(self._call("POST", f"/deliveries/{entry_id}/resend", params={"token": token}))

    def delivery_fault(self, token: str, kind: str, **options: Any) -> dict[str, Any]:
        """`duplicate`, `swap`, `delay` (`delay_ms=`), `drop` or `fail` the tenant's next deliveries (`times=`)."""
        return dict(self._call("POST", "/deliveries/faults", params={"token": token}, json={"kind": kind, **options}))

    def clear_delivery_faults(self, token: str) -> None:
        self._call("DELETE", "/deliveries/faults", params={"token": token})

    # --- scenarios
    def scenarios(self) -> list[dict[str, str]]:
        return list(self._call("GET", "/scenarios"))

    def apply_scenario(self, name: str, token: str | None = None) -> None:
        self._call("POST", f"/scenarios/{name}", json={"token": token} if token else {})


def _with_token(body: dict[str, Any], token: str | None) -> dict[str, Any]:
    return {**body, "token": token} if token else body
