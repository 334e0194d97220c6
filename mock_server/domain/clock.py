"""The one server clock: real time by default, frozen or shifted on demand, in the API's formats."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"
DATE_FORMAT = "%Y-%m-%d"


class Clock:
    def __init__(self) -> None:
        self._frozen: datetime | None = None
        self._offset = timedelta()

    def now(self) -> datetime:
        if self._frozen is not None:
            return self._frozen
        return datetime.now(UTC).replace(microsecond=0, tzinfo=None) + self._offset

    @property
    def frozen(self) -> bool:
        return self._frozen is not None

    def stamp(self) -> str:
        """The current time as the API writes it: `YYYY-MM-DD HH:MM:SS` in UTC."""
        return self.now().strftime(DATETIME_FORMAT)

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


def parse_datetime(text: str) -> datetime:
    return datetime.strptime(text, DATETIME_FORMAT)


def parse_date(text: str) -> date:
    return datetime.strptime(text, DATE_FORMAT).date()
