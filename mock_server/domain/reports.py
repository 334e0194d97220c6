"""Deal reports: the summary of deal values per currency and the timeline of deals by a date field."""

from __future__ import annotations

import bisect
import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

from mock_server.domain import money
from mock_server.domain.collection import Record
from mock_server.errors import Invalid

if TYPE_CHECKING:
    from mock_server.domain.account import Account

DATE_FIELD_TYPES = ("date", "daterange")
# The timeline lists deals with these as plain ids, where the deal lists expand them to objects.
FLAT_KEYS = ("user_id", "person_id", "org_id", "creator_user_id")
MONTHS_PER_INTERVAL = {"month": 1, "quarter": 3}


def convert(account: Account, amount: float, from_code: str, to_code: str) -> float:
    """amount × rate[from] / rate[to]; a rate is the USD value of one unit, and a code without one counts 1."""
    rates = account.company["exchange_rates"]["rates"]
    return amount * float(rates.get(from_code, 1.0)) / float(rates.get(to_code, 1.0))


def _filtered(account: Account, deals: Iterable[Record], filter_id: int | None) -> list[Record]:
    return list(deals if filter_id is None else account.filters.apply(filter_id, "deals", deals))


# --- summary ------------------------------------------------------------------------------------------------------


def deals_summary(
    account: Account,
    *,
    status: str | None = None,
    filter_id: int | None = None,
    user_id: int | None = None,
    stage_id: int | None = None,
) -> Record:
    """Counts and totals per currency of the not-deleted deals, and grand totals in the token user's currency."""
    # The spec's `user_id` is "ignored when filter_id is given": the saved filter alone says whose deals count.
    owner = None if filter_id is not None else user_id
    listed = account.deals.query(status=status or "all_not_deleted", user_id=owner, stage_id=stage_id)
    deals = _filtered(account, listed, filter_id)
    target = account.currencies.by_code(account.user["default_currency"])
    sums = _currency_sums(account, deals)
    values_total: dict[str, Record] = {}
    weighted_total: dict[str, Record] = {}
    for code, (value, weighted, count) in sums.items():
        currency = account.currencies.by_code(code)
        converted = money.number(convert(account, value, code, target.code))
        values_total[code] = {"value": money.number(value), "count": count, "value_converted": converted,
                              "value_formatted": currency.format(value),
                              "value_converted_formatted": target.format(converted)}  # fmt: skip
        weighted_total[code] = {"value": money.number(weighted), "count": count,
                                "value_formatted": currency.format(weighted)}  # fmt: skip
    # Grand totals convert each currency's exact sum and round once, so per-currency rounding errors do not pile up.
    grand = money.number(sum(convert(account, value, code, target.code) for code, (value, _, _) in sums.items()))
    grand_weighted = money.number(
        sum(convert(account, amount, code, target.code) for code, (_, amount, _) in sums.items())
    )
    return {
        "total_count": len(deals),
        "values_total": values_total,
        "weighted_values_total": weighted_total,
        "total_currency_converted_value": grand,
        "total_weighted_currency_converted_value": grand_weighted,
        "total_currency_converted_value_formatted": target.format(grand),
        "total_weighted_currency_converted_value_formatted": target.format(grand_weighted),
    }


def _currency_sums(account: Account, deals: list[Record]) -> dict[str, tuple[float, float, int]]:
    """Per currency code, in code order: the sum of values, the sum of weighted values and the number of deals."""
    sums: dict[str, tuple[float, float, int]] = {}
    for deal in deals:
        value, weighted, count = sums.get(deal["currency"], (0.0, 0.0, 0))
        sums[deal["currency"]] = (
            value + float(deal["value"]),
            weighted + float(account.deals.weighted_value(deal)),
            count + 1,
        )
    return dict(sorted(sums.items()))


# --- timeline -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineQuery:
    start_date: date
    interval: str
    amount: int
    field_key: str
    user_id: int | None = None
    pipeline_id: int | None = None
    filter_id: int | None = None
    exclude_deals: bool = False
    convert_to: str | None = None


def periods(start: date, interval: str, amount: int) -> list[tuple[date, date]]:
    """The intervals, first and last day of each. Days and weeks start at `start`; months and quarters are
    calendar ones, the first being the month or quarter that contains `start`. None runs past 9999-12-31."""
    if interval in MONTHS_PER_INTERVAL:
        step = MONTHS_PER_INTERVAL[interval]
        first_month = start.year * 12 + (start.month - 1) // step * step  # months since year 0, January = 0
        spans = []
        for index in range(amount):
            months = first_month + index * step
            if months // 12 > date.max.year:
                break
            last_year, last_month = divmod(months + step - 1, 12)
            last_day = calendar.monthrange(last_year, last_month + 1)[1]
            spans.append((date(months // 12, months % 12 + 1, 1), date(last_year, last_month + 1, last_day)))
        return spans
    days = 7 if interval == "week" else 1
    spans = []
    for index in range(amount):
        if (date.max - start).days < index * days + days - 1:
            break
        first = start + timedelta(days=index * days)
        spans.append((first, first + timedelta(days=days - 1)))
    return spans


def deals_timeline(account: Account, query: TimelineQuery) -> list[Record]:
    """Open and won deals grouped by the day their `field_key` date falls on, one entry per interval."""
    field = account.deal_fields.by_key(query.field_key)
    if field is None or field["field_type"] not in DATE_FIELD_TYPES:
        raise Invalid(
            f"field_key: '{query.field_key}' is not a date field of deals; give the key of a deal field of type "
            "date, such as expected_close_date, add_time or won_time."
        )
    if query.convert_to is not None:
        account.currencies.require_code("totals_convert_currency", query.convert_to)
    spans = periods(query.start_date, query.interval, query.amount)
    grouped: list[list[Record]] = [[] for _ in spans]
    for deal in _timeline_deals(account, query):
        if query.field_key in deal and _period_of(spans, _day(deal[query.field_key])) is None:
            continue  # a stored date outside every interval: no need to render the deal to know
        # Rendered, because some date fields (next_activity_date, last_activity_date) exist only when rendered.
        rendered = account.deals.render(deal)
        index = _period_of(spans, _day(rendered.get(query.field_key)))
        if index is not None:
            grouped[index].append(rendered | {key: deal[key] for key in FLAT_KEYS})
    timeline = []
    for (first, last), deals in zip(spans, grouped, strict=True):
        period: Record = {"period_start": f"{first.isoformat()} 00:00:00", "period_end": f"{last.isoformat()} 23:59:59"}
        if not query.exclude_deals:
            period["deals"] = deals
        period["totals"] = _totals(account, deals, query.convert_to)
        timeline.append(period)
    return timeline


def _timeline_deals(account: Account, query: TimelineQuery) -> list[Record]:
    owner = None if query.filter_id is not None else query.user_id
    deals = [deal for deal in account.deals.query(user_id=owner) if deal["status"] in ("open", "won")]
    if query.pipeline_id is not None:
        account.pipelines.require("pipeline_id", query.pipeline_id)
        deals = [deal for deal in deals if deal["pipeline_id"] == query.pipeline_id]
    return _filtered(account, deals, query.filter_id)


def _period_of(spans: list[tuple[date, date]], day: date | None) -> int | None:
    """The index of the span that contains `day`; spans are in order and do not overlap."""
    if day is None:
        return None
    index = bisect.bisect_right(spans, (day, date.max)) - 1
    return index if index >= 0 and day <= spans[index][1] else None


def _day(value: object) -> date | None:
    """The date of a date or datetime value (`YYYY-MM-DD` or `YYYY-MM-DD HH:MM:SS`); anything else is none."""
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _totals(account: Account, deals: list[Record], convert_to: str | None) -> Record:
    open_deals = [deal for deal in deals if deal["status"] == "open"]
    won_deals = [deal for deal in deals if deal["status"] == "won"]
    return {
        "count": len(deals),
        "values": _sums(account, deals, "value", convert_to),
        "weighted_values": _sums(account, deals, "weighted_value", convert_to),
        "open_count": len(open_deals),
        "open_values": _sums(account, open_deals, "value", convert_to),
        "weighted_open_values": _sums(account, open_deals, "weighted_value", convert_to),
        "won_count": len(won_deals),
        "won_values": _sums(account, won_deals, "value", convert_to),
    }


def _sums(account: Account, deals: list[Record], key: str, convert_to: str | None) -> dict[str, int | float]:
    """Amounts by currency code; converted totals have exactly one code, the one converted to, even when 0."""
    sums: dict[str, float] = {convert_to: 0.0} if convert_to else {}
    for deal in deals:
        amount = float(deal[key])
        if convert_to is None:
            sums[deal["currency"]] = sums.get(deal["currency"], 0.0) + amount
        else:
            sums[convert_to] += convert(account, amount, deal["currency"], convert_to)
    return {code: money.number(amount) for code, amount in sorted(sums.items())}
