"""The control plane's state: tenants, clock, seed, faults, rate limits, journal and scenarios of one server."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from starlette.types import ASGIApp, Receive, Scope, Send

from mock_server import DEFAULT_FIXTURES
from mock_server.control.deliveries import Deliveries
from mock_server.control.faults import Faults
from mock_server.control.journal import Journal
from mock_server.control.ratelimit import RateLimiter
from mock_server.control.scenarios import Scenario, load_scenario, scenario_names
from mock_server.control.tenancy import Tenants
from mock_server.data.fixtures import FixtureError, load
from mock_server.data.state import encoded_state, import_state, tenant_seed
from mock_server.domain.account import Account, FixtureSet
from mock_server.domain.clock import MAX_SHIFT, Clock, parse_datetime
from mock_server.errors import Invalid, NotFound
from mock_server.http import big_accounts
from mock_server.http.tenant import mask_token
from mock_server.settings import Settings

T = TypeVar("T")

DURATION = re.compile(r"(\d+)([dhms])")
UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
# The clock stays a year inside the years a `DateTime` can write (1000 to 9999), so that reads which reach a year
# ahead or back of it (relative date filters, rotten times) still land on a date that exists.
EARLIEST = datetime(1001, 1, 1)
LATEST = datetime(9998, 12, 31, 23, 59, 59)
FIXTURE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
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
    deliveries: Deliveries

    # --- tenants and state --------------------------------------------------------------------------------------

    async def reset(self, token: str | None) -> dict[str, Any]:
        """Forget a tenant's account, clock, faults and rate limit; without a token, every tenant's and the server
        clock's, and the faults and rate limit the server started with (`--rate-limit`, `--scenario`) come back."""
        await self.tenants.settled(token)
        self.tenants.reset(token)
        self.faults.clear(tenant=token)
        self.limiter.reset(token)
        self.deliveries.forget(token)
        if token is None:
            self.clock.resume()
            if self.settings.scenario is not None:
                self.apply_scenario(self.settings.scenario, None, data=False)
        return {"reset": mask_token(token) if token else "all"}

    async def export(self, token: str) -> list[bytes]:
        """The tenant's state as the chunks of its answer: a big account's encoded in a worker thread, between its
        requests (see `big_accounts`)."""
        self._served(token)
        account = await self.tenants.account_for(token)
        return await big_accounts.run(account, encoded_state, account)

    async def restore(self, token: str, state: dict[str, Any]) -> dict[str, Any]:
        """Replace the tenant's account with one built from `state` (the request's own, so not copied). The build
        runs in a worker thread, so other tenants are served meanwhile; the new account replaces the old at once."""
        self._served(token)
        seed = tenant_seed(self.tenants.seed, token)
        try:
            account = await _off_loop(_imported, state, Clock(base=self.clock), seed)
        except FixtureError as error:
            raise Invalid(str(error)) from None
        await self.tenants.swap_in(token, account)
        return {"imported": mask_token(token)}

    async def load_fixtures(self, token: str, name: str) -> dict[str, Any]:
        """Replace the tenant's account with a fixture set read, checked and built in a worker thread."""
        self._served(token)
        folder = self.fixture_folder(name)
        try:
            account = await _off_loop(self._fixture_account, token, folder)
        except FixtureError as error:
            raise Invalid(f"fixtures: {error}") from None
        await self.tenants.swap_in(token, account, keep_clock=True)
        return {"loaded": name, "token": mask_token(token)}

    def _served(self, token: str) -> None:
        """Refuse a call that would make or replace the account of a token the API refuses (`--tokens`): a tenant no
        request could ever reach, counted against `--max-tenants` all the same."""
        if not self.settings.accepts(token):
            raise Invalid(
                f"token: {mask_token(token)} is not one of the tokens the server accepts (--tokens); "
                "its tenant could never be used."
            )

    def _fixture_account(self, token: str, folder: Path) -> Account:
        # The set read is this account's alone: it becomes the account's without a copy.
        return self.tenants.fresh(token, load(folder), owned=True)

    def fixture_roots(self) -> list[Path]:
        """Where fixture sets are looked up by name: the bundled ones, and those beside the `--fixtures` folder."""
        roots = [DEFAULT_FIXTURES.parent.resolve()]
        own = Path(self.settings.fixtures).resolve().parent
        return roots if own in roots else [*roots, own]

    def fixture_names(self) -> list[str]:
        """The names of the fixture sets a tenant can load: folders of a fixture root that hold a company file."""
        names = {
            folder.name
            for root in self.fixture_roots()
            for folder in (root.iterdir() if root.is_dir() else ())
            if FIXTURE_NAME.fullmatch(folder.name) and any(folder.glob("company.*"))
        }
        return sorted(names)

    def fixture_folder(self, name: str) -> Path:
        """The folder of the fixture set called `name`; anything else (a path, `..`, an unknown name) is a 400 that
        reads the same whether or not such a folder exists elsewhere on the machine."""
        names = self.fixture_names()
        if name not in names:
            raise Invalid(f"fixtures: {name[:64]!r} is not a fixture set; the names available are {', '.join(names)}.")
        for root in self.fixture_roots():
            folder = root / name
            if folder.is_dir() and folder.resolve().parent == root:
                return folder
        raise Invalid(f"fixtures: {name!r} is not a fixture set; the names available are {', '.join(names)}.")

    # --- determinism --------------------------------------------------------------------------------------------

    def clock_state(self, token: str | None = None) -> dict[str, Any]:
        """The server clock, or a tenant's: `own` says whether the tenant's was set or follows the server's."""
        if token is None:
            return {"now": self.clock.stamp(), "frozen": self.clock.frozen}
        clock = self.tenants.clock_of(token)
        return {
            "now": clock.stamp(),
            "frozen": clock.frozen,
            "token": mask_token(token),
            "own": clock is not self.clock and clock.own,
        }

    def set_clock(
        self, freeze: str | None, advance: str | None, resume: bool, token: str | None = None
    ) -> dict[str, Any]:
        """Steer the server clock, or only a tenant's (which then stops following the server's): resume, then
        freeze, then advance, as asked; nothing changes unless the clock ends within its bounds."""
        if token is not None:
            self._served(token)
        clock = self.clock if token is None else self.tenants.for_token(token).clock
        step = _duration(advance) if advance is not None else timedelta()
        moment = None
        if freeze is not None:
            try:
                moment = parse_datetime(freeze)
            except ValueError:
                raise Invalid(f"freeze: {freeze!r} is not a real time; give YYYY-MM-DD HH:MM:SS.") from None
            _within_bounds("freeze", moment, timedelta())
        before = (clock.frozen_at, clock.offset)
        if resume:
            clock.resume()
        if moment is not None:
            clock.freeze(moment)
        try:
            _within_bounds("advance", clock.now(), step)
            if clock.frozen_at is None and abs(clock.offset + step) > MAX_SHIFT:
                raise Invalid(
                    f"advance: {advance!r} would move the clock more than {MAX_SHIFT.days} days from the time it "
                    "follows; freeze it at the time you need instead."
                )
        except Invalid:
            clock.restore(*before)  # a refused request changes nothing
            raise
        clock.advance(step)
        if token is not None:
            self.tenants.commit(token, self.tenants.for_token(token))
        self.deliveries.wake()  # webhook retries may be due on the clock's new time
        return self.clock_state(token)

    def reseed(self, seed: int) -> dict[str, Any]:
        self.tenants.use(self.tenants.fixture, seed=seed)
        self.faults.reseed(seed)
        if self.tenants.store is not None:
            self.tenants.store.set_server_value("seed", seed)
        return {"seed": seed}

    # --- scenarios ----------------------------------------------------------------------------------------------

    def scenarios(self) -> list[dict[str, str]]:
        return [{"name": name, "description": description} for name, description in scenario_names()]

    def apply_scenario(self, name: str, token: str | None, *, data: bool = True) -> dict[str, Any]:
        scenario = _scenario(name)
        if data:
            self.install_fixture(scenario.fixture, token)
            if token is None and self.tenants.store is not None:
                self.tenants.store.set_server_value("scenario", name)
        return self._steer(scenario, name, token)

    async def apply_scenario_served(self, name: str, token: str | None) -> dict[str, Any]:
        """`apply_scenario` for a request: the scenario is read (and its account generated and built, for one
        tenant) in a worker thread, and a big account's requests in flight end first (see `Tenants.swap_in`)."""
        if token is not None:
            self._served(token)
        scenario = await _off_loop(_scenario, name)
        if token is not None:
            account = await _off_loop(self.tenants.fresh, token, scenario.fixture)
            await self.tenants.swap_in(token, account, keep_clock=True)
        else:
            await self.tenants.settled()
            self.install_fixture(scenario.fixture, None)
            if self.tenants.store is not None:
                self.tenants.store.set_server_value("scenario", name)
        return self._steer(scenario, name, token)

    def _steer(self, scenario: Scenario, name: str, token: str | None) -> dict[str, Any]:
        """The scenario's faults and rate limit, for the tenant (or every one)."""
        for spec in scenario.faults:
            # A scenario applied to one tenant faults only that tenant's requests (and a reset of it drops them).
            self.faults.add({**spec, "tenant": spec.get("tenant") or token})
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
            self.tenants.refill(token, self.tenants.fresh(token, fixture))


def _duration(text: str) -> timedelta:
    seconds = sum(int(number) * UNITS[unit] for number, unit in DURATION.findall(text))
    if seconds > MAX_SHIFT.total_seconds():
        raise Invalid(f"advance: {text!r} is more than {MAX_SHIFT.days} days; move the clock by less at a time.")
    return timedelta(seconds=seconds)


def _scenario(name: str) -> Scenario:
    try:
        return load_scenario(name)
    except FixtureError as error:
        raise NotFound(str(error)) from None


def _imported(state: dict[str, Any], clock: Clock, seed: int) -> Account:
    """The account of `state`, which it takes as its own (see `import_state`)."""
    return import_state(state, clock, seed=seed, owned=True)


async def _off_loop(build: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`build(...)` in a worker thread: reading and building an account can take seconds."""
    return await asyncio.to_thread(build, *args, **kwargs)


def _within_bounds(field: str, moment: datetime, step: timedelta) -> None:
    """`moment` moved on by `step` stays from EARLIEST to LATEST (compared before adding, which could overflow)."""
    if not EARLIEST <= moment <= LATEST or step > LATEST - moment:
        raise Invalid(f"{field}: the clock must stay from {EARLIEST} to {LATEST}; this would take it out.")


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
