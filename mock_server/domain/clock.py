"""Clocks: the server's (real time by default, frozen or shifted on demand) and each tenant's, which follows it
unless set; times in the API's formats."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"
DATE_FORMAT = "%Y-%m-%d"
# How far a clock may be moved from the time it follows: a century either way keeps every date a real one.
MAX_SHIFT = timedelta(days=36525)


_real_second: tuple[int, datetime] = (0, datetime.min)


def real_now() -> datetime:
    """The real time in whole seconds (UTC, naive). Every request asks several times; the datetime of a second is
    made once."""
    global _real_second
    seconds = int(time.time())
    if seconds != _real_second[0]:
        _real_second = (seconds, datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None))
    return _real_second[1]


class Clock:
    """Real time, or with a `base` the time of that clock; either shifted by an offset, or frozen."""

    def __init__(self, base: Clock | None = None) -> None:
        self.base = base
        self._frozen: datetime | None = None
        self._offset = timedelta()
        self._stamped: tuple[datetime | None, str] = (None, "")

    def now(self) -> datetime:
        if self._frozen is not None:
            return self._frozen
        base = self.base.now() if self.base is not None else real_now()
        try:
            return base + self._offset
        except OverflowError:  # a shifted tenant over a server clock frozen near the end (or start) of time
            return datetime.max.replace(microsecond=0) if self._offset > timedelta() else datetime.min

    @property
    def frozen(self) -> bool:
        """Whether time stands still on this clock: frozen itself, or following a frozen base."""
        return self._frozen is not None or (self.base is not None and self.base.frozen)

    @property
    def own(self) -> bool:
        """Whether this clock was set (frozen or moved on) rather than just following its base or real time."""
        return self._frozen is not None or bool(self._offset)

    @property
    def frozen_at(self) -> datetime | None:
        return self._frozen

    @property
    def offset(self) -> timedelta:
        return self._offset

    def stamp(self) -> str:
        """The current time as the API writes it: `YYYY-MM-DD HH:MM:SS` in UTC (formatted once per second)."""
        now = self.now()
        if self._stamped[0] != now:
            self._stamped = (now, now.strftime(DATETIME_FORMAT))
        return self._stamped[1]

    def today(self) -> date:
        return self.now().date()

    def freeze(self, moment: datetime) -> None:
        self._frozen = moment.replace(microsecond=0, tzinfo=None)
        self._offset = timedelta()

    def advance(self, delta: timedelta) -> None:
        if self._frozen is not None:
            self._frozen += delta
        else:
            self._offset += delta

    def resume(self) -> None:
        """Back to following the base (or real time): forget the freeze and the offset."""
        self._frozen = None
        self._offset = timedelta()

    def restore(self, frozen_at: datetime | None, offset: timedelta) -> None:
        """Set the clock as `frozen_at` and `offset` (from an export) describe it."""
        self._frozen = None if frozen_at is None else frozen_at.replace(microsecond=0, tzinfo=None)
        self._offset = offset


@lru_cache(maxsize=65536)
def parse_datetime(text: str) -> datetime:
    """A stored `YYYY-MM-DD HH:MM:SS` as a datetime; the same few thousand stamps are read over and over, and
    strptime was a tenth of reading one deal, so answers are kept (datetimes are immutable)."""
    return datetime.strptime(text, DATETIME_FORMAT)
