"""The durable store of a data folder: every tenant's account in SQLite, written change by change."""

from __future__ import annotations

import contextlib
import hashlib
import json
import operator
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mock_server.data.fixtures import FixtureError
from mock_server.data.state import STATE_VERSION, _index_orders, export_clock, import_state
from mock_server.domain.account import COLLECTION_NAMES, Account
from mock_server.domain.clock import Clock

FILE_NAME = "fintesk-mock.sqlite3"
# The layout of the tables below; a folder written by a newer layout is refused, not guessed at.
FORMAT = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS tenant_values (
    tenant TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (tenant, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS records (
    tenant TEXT NOT NULL, resource TEXT NOT NULL, id INTEGER NOT NULL, record TEXT NOT NULL,
    UNIQUE (tenant, resource, id)
);
CREATE TABLE IF NOT EXISTS deal_changes (
    tenant TEXT NOT NULL, id INTEGER NOT NULL, change TEXT NOT NULL, PRIMARY KEY (tenant, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS server_values (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
"""
# A record keeps the row it was first written to when it changes, so rowid order is the collection's order.
UPSERT_RECORD = (
    "INSERT INTO records (tenant, resource, id, record) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (tenant, resource, id) DO UPDATE SET record = excluded.record"
)
UPSERT_VALUE = "INSERT OR REPLACE INTO tenant_values (tenant, name, value) VALUES (?, ?, ?)"
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_COLLECTIONS = operator.attrgetter(*COLLECTION_NAMES)


class StoreError(RuntimeError):
    """The data folder cannot be used: the message names the file and what is wrong, on one line."""


# What the user can do about a data file that does not read back.
DAMAGED_ADVICE = "restore it from a copy, or move it away to start the folder afresh from the fixtures"


def tenant_key(token: str) -> str:
    """The name a tenant is stored under: a digest of its token, so the folder holds no token."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def lasting_values(account: Account) -> dict[str, Any]:
    """What the store keeps of an account that never changes while it is served (one row each)."""
    return {"version": STATE_VERSION, "company": account.company, "user_id": account.user_id}


def changing_values(account: Account) -> dict[str, Any]:
    """What the store keeps of an account that writes may change, in a form cheap to compare: a write compares
    them with what was last written and encodes only those that differ."""
    return {
        "sequences": tuple(collection.last_id for collection in _COLLECTIONS(account)),
        "option_id": account.last_option_id,
        # The generator's state is 625 numbers: read only after a draw.
        "random": account.random_draws,
        # The tenant's own clock (frozen, or ahead of the server's), kept when a write or a clock change is.
        "clock": export_clock(account.clock),
        # Webhook subscriptions, written whole when they change (a few dozen records at most).
        "webhooks": (id(account.webhooks), account.webhooks.version),
    }


def _stored_form(account: Account, name: str, value: Any) -> Any:
    """A changing value as an exported state holds it."""
    if name == "sequences":
        return dict(zip(COLLECTION_NAMES, value, strict=True))
    if name == "random":
        version, internal, gauss_next = account.random.getstate()
        return {"version": version, "internal": list(internal), "gauss_next": gauss_next}
    if name == "webhooks":
        return account.webhooks.export()
    return value


def _catch_up_sequences(sequences: Any, records: dict[str, list[Any]]) -> None:
    """Each stored sequence raised to the highest stored id of its resource: creates do not write sequences."""
    if not isinstance(sequences, dict):
        return  # import_state says what is wrong
    for resource, items in records.items():
        if isinstance(sequences.get(resource), int):
            ids = [record["id"] for record in items if isinstance(record, dict) and isinstance(record.get("id"), int)]
            sequences[resource] = max([sequences[resource], *ids])


class Store:
    """One SQLite file in WAL mode: one transaction per write request, records kept as JSON in wire shape.

    `synchronous=NORMAL` makes a commit a write to the WAL without an fsync: a committed write survives the
    process being killed (not a power loss). Reads of the API never come here; accounts live in memory.
    """

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / FILE_NAME
        try:
            Path(folder).mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StoreError(f"{folder}: cannot be used as a data folder: {error}") from None
        self._lock = threading.Lock()
        # What was last written of each tenant's values and change log, so a write sends only what changed.
        self._written: dict[str, dict[str, Any]] = {}
        self._logs: dict[str, tuple[list[Any], int]] = {}
        with self._reading():
            # No waiting for a lock: the only other holder can be another server on the same folder.
            self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=0)
        try:
            with self._reading():
                self._open()
        except StoreError:
            self._db.close()
            raise

    @contextmanager
    def _reading(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as error:
            raise StoreError(f"{self.path}: cannot be read: {error}; {DAMAGED_ADVICE}.") from None

    def _open(self) -> None:
        db = self._db
        found = db.execute("PRAGMA user_version").fetchone()[0]
        if found > FORMAT:
            newer = f"written in format {found} by a newer Fintesk Mock"
            raise StoreError(f"{self.path}: {newer}; this one reads format {FORMAT}.")
        check = db.execute("PRAGMA quick_check").fetchall()
        if check != [("ok",)]:
            damage = "; ".join(str(row[0]) for row in check[:3]).replace("\n", " ")
            raise StoreError(f"{self.path}: is damaged ({damage}); {DAMAGED_ADVICE}.")
        # One server owns a data folder: a second one on the same folder is refused (the file stays locked), and
        # with the WAL index in the process's memory a commit makes fewer system calls.
        db.execute("PRAGMA locking_mode=EXCLUSIVE")
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        with db:
            db.executescript(SCHEMA)
            db.execute(f"PRAGMA user_version={FORMAT}")

    def close(self) -> None:
        """Fold the write-ahead log into the database file and close it: after a clean stop the file alone holds
        every write (no `-wal` beside it to copy, or to be cut short at a damage at the next start)."""
        with self._lock:
            # Closed already, or the checkpoint could not run: closing still folds in what it can.
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._db.close()

    # --- reading (at start-up, and for a tenant not in memory) --------------------------------------------------

    def stored_keys(self) -> list[str]:
        """The stored tenants, by key."""
        with self._lock, self._reading():
            return [row[0] for row in self._db.execute("SELECT DISTINCT tenant FROM tenant_values ORDER BY tenant")]

    def load(self, key: str, clock: Clock) -> Account | None:
        """The account stored under `key`, or None; a row that does not read back is a StoreError."""
        with self._lock, self._reading():
            values = dict(self._db.execute("SELECT name, value FROM tenant_values WHERE tenant = ?", (key,)))
            if not values:
                return None
            rows = self._db.execute("SELECT resource, record FROM records WHERE tenant = ? ORDER BY rowid", (key,))
            records: dict[str, list[Any]] = {name: [] for name in COLLECTION_NAMES}  # an empty one has no rows
            for resource, record in rows:
                records.setdefault(resource, []).append(self._decode(key, record))
            changes = self._db.execute("SELECT change FROM deal_changes WHERE tenant = ? ORDER BY id", (key,))
            log = [self._decode(key, change) for (change,) in changes]
        state = {name: self._decode(key, value) for name, value in values.items()}
        _catch_up_sequences(state.get("sequences"), records)
        index_orders = state.pop("index_orders", {})
        state.update(records=records, deal_changes=log, index_orders=index_orders)
        try:
            account = import_state(state, clock, trusted=True)
        except FixtureError as error:
            raise StoreError(f"{self.path}: tenant {key[:12]}: {error}") from None
        self._remember(key, account)
        return account

    def _decode(self, key: str, text: str) -> Any:
        try:
            return json.loads(text)
        except ValueError as error:
            raise StoreError(f"{self.path}: tenant {key[:12]}: a stored value is not JSON: {error}") from None

    def _remember(self, key: str, account: Account) -> None:
        """Note the account as written, and forget what its collections changed before."""
        for collection in account.collections().values():
            collection.take_changes()
        self._written[key] = changing_values(account)
        self._logs[key] = (account.deal_changes, len(account.deal_changes))

    # --- writing ------------------------------------------------------------------------------------------------

    def has(self, key: str) -> bool:
        """Whether a tenant is stored under `key` (answered from memory)."""
        return key in self._written

    def save(self, key: str, account: Account) -> None:
        """Write what changed in `account` since it was last written (the whole account the first time)."""
        if key not in self._written:
            self.replace(key, account)
            return
        self._transaction(lambda db: self._write_changes(db, key, account), key)

    def replace(self, key: str, account: Account) -> None:
        """Write the whole account under `key`, in place of what was stored."""

        def write(db: sqlite3.Connection) -> None:
            self._delete(db, key)
            self._written[key] = {}
            self._logs[key] = ([], 0)
            for name, collection in account.collections().items():
                collection.take_changes()
                rows = ((key, name, record["id"], _encode(record)) for record in collection.all())
                db.executemany(UPSERT_RECORD, rows)
            lasting = lasting_values(account)
            db.executemany(UPSERT_VALUE, [(key, name, _encode(value)) for name, value in lasting.items()])
            self._write_values(db, key, account, reordered=True)
            self._write_log(db, key, account)

        self._transaction(write, key)

    def forget(self, key: str | None = None) -> None:
        """Drop one stored tenant, or every one."""
        self._transaction(lambda db: self._delete(db, key))

    def set_server_value(self, name: str, value: Any) -> None:
        """A server-wide setting a control call changed (the seed, the scenario every tenant starts from)."""
        self._transaction(lambda db: db.execute("INSERT OR REPLACE INTO server_values VALUES (?, ?)",
                                                (name, _encode(value))))  # fmt: skip

    def server_values(self) -> dict[str, Any]:
        with self._lock, self._reading():
            rows = self._db.execute("SELECT name, value FROM server_values").fetchall()
        return {name: self._decode("server", value) for name, value in rows}

    def _transaction(self, write: Callable[[sqlite3.Connection], Any], key: str | None = None) -> None:
        with self._lock:
            try:
                with self._db:  # commits, or rolls back when `write` raises
                    write(self._db)
            except BaseException:
                # What was taken as written was not: the tenant's next write stores it whole again.
                if key is None:
                    self._written.clear()
                else:
                    self._written.pop(key, None)
                raise

    def _delete(self, db: sqlite3.Connection, key: str | None) -> None:
        where, arguments = ("", ()) if key is None else (" WHERE tenant = ?", (key,))
        for table in ("tenant_values", "records", "deal_changes"):
            db.execute(f"DELETE FROM {table}{where}", arguments)
        if key is None:
            self._written.clear()
            self._logs.clear()
        else:
            self._written.pop(key, None)
            self._logs.pop(key, None)

    def _write_changes(self, db: sqlite3.Connection, key: str, account: Account) -> None:
        reordered = False
        # A stored sequence is read back as at least the highest stored id (see `load`), so a write that only
        # adds records under new ids (a create) need not write the sequences as well.
        implied = list(self._written[key]["sequences"])
        for position, (name, collection) in enumerate(zip(COLLECTION_NAMES, _COLLECTIONS(account), strict=True)):
            changed, moved = collection.take_changes()
            reordered |= moved
            if changed:
                db.executemany(UPSERT_RECORD, [(key, name, record["id"], _encode(record)) for record in changed])
                implied[position] = max([implied[position], *(record["id"] for record in changed)])
        self._write_values(db, key, account, reordered=reordered, implied=tuple(implied))
        self._write_log(db, key, account)

    def _write_values(
        self, db: sqlite3.Connection, key: str, account: Account, *, reordered: bool, implied: tuple[int, ...] = ()
    ) -> None:
        written = self._written[key]
        values = changing_values(account)
        for name, value in values.items():
            if name == "sequences" and value == implied:
                continue
            if written.get(name) != value:
                db.execute(UPSERT_VALUE, (key, name, _encode(_stored_form(account, name, value))))
        if reordered:
            # Computed only after a write that filed a record out of insertion order: it reads every index.
            db.execute(UPSERT_VALUE, (key, "index_orders", _encode(_index_orders(account.collections()))))
        self._written[key] = values

    def _write_log(self, db: sqlite3.Connection, key: str, account: Account) -> None:
        """The deal change log only grows, or is replaced whole."""
        log = account.deal_changes
        kept, count = self._logs.get(key, ([], 0))
        if kept is not log or count > len(log):
            db.execute("DELETE FROM deal_changes WHERE tenant = ?", (key,))
            count = 0
        if len(log) > count:
            rows = [(key, change["id"], _encode(change)) for change in log[count:]]
            db.executemany("INSERT OR REPLACE INTO deal_changes (tenant, id, change) VALUES (?, ?, ?)", rows)
        self._logs[key] = (log, len(log))
