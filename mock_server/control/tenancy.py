"""Tokens and tenants: each API token owns a private copy of the fixture account, made on first use."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from typing import Any

from mock_server.data.state import import_state, restore_random, tenant_seed
from mock_server.data.store import Store, tenant_key
from mock_server.domain.account import Account, FixtureSet
from mock_server.domain.clock import Clock
from mock_server.http import big_accounts
from mock_server.http.tenant import mask_token
from mock_server.settings import Settings

logger = logging.getLogger("fintesk_mock")


class Tenants:
    """Accounts by token: each made on first use from the current fixture set, with a seed of its own. At most
    `settings.max_tenants` are kept; past it the least recently used is dropped (and starts afresh if it returns)."""

    def __init__(self, fixture: FixtureSet, settings: Settings, clock: Clock, seed: int = 0) -> None:
        self.fixture = fixture
        self.settings = settings
        self.clock = clock
        self.seed = seed
        self.state: dict[str, Any] | None = None
        # The account of `state`, built once: never served, only forked (as `_templates` are for the fixtures).
        self._state_template: Account | None = None
        self._accounts: OrderedDict[str, Account] = OrderedDict()  # least recently used first
        # One built account of the fixture per acting user; tenants fork it instead of building their own.
        self._templates: dict[int, Account] = {}
        # With a data folder: where every tenant is kept, and the stored accounts loaded at start, not yet used.
        self.store: Store | None = None
        self._loaded: dict[str, Account] = {}
        # Tokens whose first account is being made in a worker thread (see `account_for`).
        self._making: dict[str, asyncio.Lock] = {}
        self._resets = 0

    def __len__(self) -> int:
        return len(self._accounts)

    def user_of(self, token: str) -> int:
        company = self.fixture.company
        return int(company["tokens"].get(token, company["api_user_id"]))

    def for_token(self, token: str) -> Account:
        account = self._accounts.get(token)
        if account is None:
            account = self._stored(token) or self.fresh(token, self.fixture)
            self._admit(token, account)
        else:
            self._accounts.move_to_end(token)
        return account

    async def account_for(self, token: str) -> Account:
        """`for_token`, with a new account of a big account's copy (or one read from the data folder) made in a worker
        thread: reading a 100k-deal account takes seconds, and even a fork copies its small tables. The token's
        requests meanwhile wait for that one account; one installed meanwhile (an import) is the token's instead."""
        if token in self._accounts or not self._made_off_loop(token):
            return self.for_token(token)
        making = self._making.setdefault(token, asyncio.Lock())
        try:
            async with making:
                while token not in self._accounts:
                    resets = self._resets
                    account = await asyncio.to_thread(self._made, token)
                    # Made again when the tenant was reset meanwhile (its stored account may be gone).
                    if token not in self._accounts and resets == self._resets:
                        self._admit(token, account)
        finally:
            if not making.locked():
                self._making.pop(token, None)
        return self.for_token(token)

    def _made_off_loop(self, token: str) -> bool:
        if self.store is not None and self.store.has(tenant_key(token)):
            return True
        if self.state is not None:
            return self._state_template is not None and big_accounts.is_big(self._state_template)
        template = self._templates.get(self.user_of(token))
        if template is None:  # made from the fixture set first
            return sum(map(len, self.fixture.records.values())) > big_accounts.BIG_ACCOUNT
        return big_accounts.is_big(template)

    def _made(self, token: str) -> Account:
        return self._stored(token) or self.fresh(token, self.fixture)

    def _stored(self, token: str) -> Account | None:
        """The token's account as the data folder keeps it (loaded at start, or read now), or None."""
        if self.store is None:
            return None
        key = tenant_key(token)
        if not self.store.has(key):
            return None
        return self._loaded.pop(key, None) or self.store.load(key, Clock(base=self.clock))

    def keep_in(self, store: Store) -> None:
        """Keep every tenant in `store` from now on. The tenants stored there are loaded now, so that one that
        cannot be read stops start-up instead of failing its first request."""
        for key in store.stored_keys():
            account = store.load(key, Clock(base=self.clock))
            if account is not None:
                self._loaded[key] = account
        self.store = store

    def keeps_writes(self) -> bool:
        """Whether a write must reach the data folder before it is acknowledged (see `commit`)."""
        return self.store is not None

    def commit(self, token: str, account: Account) -> None:
        """Write what a request changed in the token's account to the data folder (when there is one), unless the
        account was replaced or reset meanwhile."""
        if self.store is not None and self._accounts.get(token) is account:
            self.store.save(tenant_key(token), account)

    def fresh(self, token: str, fixture: FixtureSet, *, owned: bool = False) -> Account:
        """A new account of `fixture` (or of the state file) for `token`, seeded from the mock's seed and the token,
        with a clock of its own that follows the server clock until it is set. An `owned` fixture set (read for
        this account alone) becomes the account's without a copy."""
        clock = Clock(base=self.clock)
        if self.state is not None and self._state_template is not None and fixture is self.fixture:
            return self._from_state(self.state, self._state_template, tenant_seed(self.seed, token), clock)
        company = fixture.company
        user_id = int(company["tokens"].get(token, company["api_user_id"]))
        seed = tenant_seed(self.seed, token)
        if fixture is not self.fixture:
            return Account(fixture, clock, user_id, seed=seed, copy_records=not owned)
        return self._template(user_id).fork(user_id, seed, clock)

    def clock_of(self, token: str) -> Clock:
        """The clock a tenant reads: its account's, or the server's for a token without an account (yet)."""
        account = self._accounts.get(token)
        return self.clock if account is None else account.clock

    def prepare(self) -> None:
        """Build the account tenants fork now (at start-up) rather than on the first request."""
        if self.state is None:
            self._template(int(self.fixture.company["api_user_id"]))

    def _template(self, user_id: int) -> Account:
        """The fixture account as `user_id` sees it, built once: never served, only forked."""
        template = self._templates.get(user_id)
        if template is None:
            template = self._templates[user_id] = Account(self.fixture, self.clock, user_id, copy_records=False)
        return template

    def use_state(self, state: dict[str, Any]) -> None:
        """Start every tenant from an exported state instead of the fixtures."""
        # A bad state is refused now, not on a request.
        self._state_template = import_state(state, Clock(base=self.clock))
        self.state = state
        self._accounts.clear()
        self._resets += 1

    @staticmethod
    def _from_state(state: dict[str, Any], template: Account, seed: int, clock: Clock) -> Account:
        """A tenant's account of `state`: the template forked (records shared until changed), not built again,
        which took seconds for a big state on every new token. Its random state and clock are the state's."""
        clock.restore(template.clock.frozen_at, template.clock.offset)
        account = template.fork(template.user_id, seed, clock)
        if "random" in state:
            restore_random(account.random, state["random"])
        return account

    def install(self, token: str, account: Account) -> None:
        """Make `account` the token's (an import, a fixture load, a scenario), kept in the data folder if any."""
        self._admit(token, account)
        if self.store is not None:
            self._loaded.pop(tenant_key(token), None)
            self.store.replace(tenant_key(token), account)

    def refill(self, token: str, account: Account) -> None:
        """Give `token` the new `account` (a fixture set's, a scenario's); a clock the tenant has set stays."""
        if token in self._accounts:  # looked up, not kept: a local would keep the account it replaces alive
            account.clock = self._accounts[token].clock
        self.install(token, account)

    async def swap_in(self, token: str, account: Account, *, keep_clock: bool = False) -> None:
        """`install` (or with `keep_clock`, `refill`) for a control request: a big account's requests in flight end
        first (so none of them stores its account over the new one), and a big new account is stored in the data
        folder in a worker thread, before its own requests run."""
        await self.settled(token)
        if keep_clock and token in self._accounts:
            account.clock = self._accounts[token].clock
        self._admit(token, account)
        if self.store is not None:
            self._loaded.pop(tenant_key(token), None)
            await big_accounts.run(account, self.store.replace, tenant_key(token), account)

    def _admit(self, token: str, account: Account) -> None:
        """Make `account` the token's live one, the most recently used; past `--max-tenants` the least recently
        used tenant leaves memory (with a data folder it is kept there and comes back on its next request)."""
        self._accounts[token] = account
        self._accounts.move_to_end(token)
        while len(self._accounts) > self.settings.max_tenants:
            dropped = next(iter(self._accounts))
            del self._accounts[dropped]
            fate = "kept in the data folder" if self.store is not None else "its changes are gone"
            logger.warning(
                "tenant %s dropped from memory: more than %d tenants are live (--max-tenants); %s",
                mask_token(dropped), self.settings.max_tenants, fate,
            )  # fmt: skip

    def use(self, fixture: FixtureSet, seed: int | None = None) -> None:
        """Start every tenant afresh from `fixture` (and a new seed)."""
        if fixture is not self.fixture:
            self.state = self._state_template = None
        self.fixture = fixture
        self._templates.clear()
        if seed is not None:
            self.seed = seed
        self.reset()

    async def settled(self, token: str | None = None) -> None:
        """Once the requests in flight of the token's big account (of every big account, without a token) have
        ended: then none of them can store its account after a reset."""
        accounts = [self._accounts.get(token)] if token is not None else list(self._accounts.values())
        for account in accounts:
            if account is not None:
                await big_accounts.settled(account)

    def reset(self, token: str | None = None) -> None:
        self._resets += 1
        if token is None:
            self._accounts.clear()
            self._loaded.clear()
        else:
            self._accounts.pop(token, None)
            self._loaded.pop(tenant_key(token), None)
        if self.store is not None:
            self.store.forget(None if token is None else tenant_key(token))
