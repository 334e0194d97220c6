"""The one server clock: real time by default, frozen or shifted on demand, in the API's formats."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"
DATE_FORMAT = "%Y-%m-%d"


class Clock:
    def __init__(self) -> None:
        self._frozen: datetime | None = None
        self._offset = timedelta()
        self._stamped: tuple[datetime | None, str] = (None, "")

    def now(self) -> datetime:
        if self._frozen is not None:
            return self._frozen
        return datetime.now(UTC).replace(microsecond=0, tzinfo=None) + self._offset

    @property
    def frozen(self) -> bool:
        return self._frozen is not None

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

    def advance(self, delta: timedelta) -> None:
        if self._frozen is not None:
            self._frozen += delta
        else:
            self._offset += delta

    def resume(self) -> None:
        self._frozen = None
        self._offset = timedelta()


@lru_cache(maxsize=65536)
def parse_datetime(text: str) -> datetime:
    """A stored `YYYY-MM-DD HH:MM:SS` as a datetime; the same few thousand stamps are read over and over, and
    strptime was a tenth of reading one deal, so answers are kept (datetimes are immutable)."""
    return datetime.strptime(text, DATETIME_FORMAT)


def parse_date(text: str) -> date:
    return datetime.strptime(text, DATE_FORMAT).date()
