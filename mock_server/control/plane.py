"""The control plane's state: tenants, clock, seed, faults, rate limits, journal and scenarios of one server."""

from __future__ import annotations

import re
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from mock_server import PROJECT_ROOT
from mock_server.control.faults import Faults
from mock_server.control.journal import Journal
from mock_server.control.ratelimit import RateLimiter
from mock_server.control.scenarios import load_scenario, scenario_names
from mock_server.control.tenancy import Tenants, mask_token
from mock_server.data.fixtures import FixtureError, load
from mock_server.data.state import export_state, import_state, tenant_seed
from mock_server.domain.account import FixtureSet
from mock_server.domain.clock import Clock, parse_datetime
from mock_server.errors import Invalid, NotFound
from mock_server.settings import Settings

DURATION = re.compile(r"(\d+)([dhms])")
UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_current: ContextVar[ControlPlane] = ContextVar("fintesk_control")


def current_control() -> ControlPlane:
    return _current.get()


@dataclass
class ControlPlane:
    settings: Settings
    clock: Clock
    tenants: Tenants
    faults: Faults
    limiter: RateLimiter
    journal: Journal

    # --- tenants and state --------------------------------------------------------------------------------------

    def reset(self, token: str | None) -> dict[str, Any]:
        self.tenants.reset(token)
        return {"reset": mask_token(token) if token else "all"}

    def export(self, token: str) -> dict[str, Any]:
        return export_state(self.tenants.for_token(token))

    def restore(self, token: str, state: dict[str, Any]) -> dict[str, Any]:
        try:
            account = import_state(state, self.clock, seed=tenant_seed(self.tenants.seed, token))
        except FixtureError as error:
            raise Invalid(str(error)) from None
        self.tenants.install(token, account)
        return {"imported": mask_token(token)}

    def load_fixtures(self, token: str, name: str) -> dict[str, Any]:
        folder = Path(name) if "/" in name else PROJECT_ROOT / "fixtures" / name
        try:
            fixture = load(folder)
        except FixtureError as error:
            raise Invalid(f"fixtures: {error}") from None
        self.tenants.install(token, self.tenants.fresh(token, fixture))
        return {"loaded": str(folder), "token": mask_token(token)}

    # --- determinism --------------------------------------------------------------------------------------------

    def clock_state(self) -> dict[str, Any]:
        return {"now": self.clock.stamp(), "frozen": self.clock.frozen}

    def set_clock(self, freeze: str | None, advance: str | None, resume: bool) -> dict[str, Any]:
        if resume:
            self.clock.resume()
        if freeze is not None:
            try:
                self.clock.freeze(parse_datetime(freeze))
            except ValueError:
                raise Invalid(f"freeze: {freeze!r} is not a real time; give YYYY-MM-DD HH:MM:SS.") from None
        if advance is not None:
            self.clock.advance(timedelta(seconds=sum(int(n) * UNITS[u] for n, u in DURATION.findall(advance))))
        return self.clock_state()

    def reseed(self, seed: int) -> dict[str, Any]:
        self.tenants.use(self.tenants.fixture, seed=seed)
        self.faults.reseed(seed)
        if self.tenants.store is not None:
            self.tenants.store.set_server_value("seed", seed)
        return {"seed": seed}

    # --- scenarios ----------------------------------------------------------------------------------------------

    def scenarios(self) -> list[dict[str, str]]:
        return [{"name": name, "description": description} for name, description in scenario_names()]

    def apply_scenario(self, name: str, token: str | None) -> dict[str, Any]:
        try:
            scenario = load_scenario(name)
        except FixtureError as error:
            raise NotFound(str(error)) from None
        self.install_fixture(scenario.fixture, token)
        if token is None and self.tenants.store is not None:
            self.tenants.store.set_server_value("scenario", name)
        for spec in scenario.faults:
            self.faults.add(dict(spec))
        if scenario.rate_limit is not None:
            self.limiter.set_limit(scenario.rate_limit, token)
        return {"scenario": name, "token": mask_token(token) if token else "all"}

    def restore_server_values(self, values: dict[str, Any]) -> None:
        """Take up what control calls set for every tenant before a restart (a data folder keeps it): the seed, and
        the data of the scenario every tenant starts from. Faults and rate limits are not data: not kept."""
        if "seed" in values:
            self.tenants.use(self.tenants.fixture, seed=values["seed"])
            self.faults.reseed(values["seed"])
        if "scenario" in values:
            try:
                self.tenants.use(load_scenario(values["scenario"]).fixture)
            except FixtureError as error:
                raise FixtureError(f"the data folder's scenario: {error}") from None

    def install_fixture(self, fixture: FixtureSet, token: str | None) -> None:
        if token is None:
            self.tenants.use(fixture)
        else:
            self.tenants.install(token, self.tenants.fresh(token, fixture))


class ControlMiddleware:
    """Binds the server's control plane for the /__mock__ handlers."""

    def __init__(self, app: ASGIApp, control: ControlPlane | None = None) -> None:
        self.app = app
        self.control = control

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.control is None or not scope.get("path", "").startswith("/__mock__"):
            await self.app(scope, receive, send)
            return
        marker = _current.set(self.control)
        try:
            await self.app(scope, receive, send)
        finally:
            _current.reset(marker)
