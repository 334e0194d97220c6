"""API tests of the deals timeline: calendar-correct intervals, grouping by a date field, totals and narrowing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from conftest import Api, assert_error

from tests.fixture_data import RESOURCE_MISSING, fixture, weighted

CLOSING_DAY = "1883163f1496a54353d35b04a8c37e492496f627"  # custom deal field of type date
Deal = dict[str, Any]


def open_and_won() -> list[Deal]:
    return [dict(deal) for deal in fixture("deals") if deal["status"] in ("open", "won")]


def to(target: str, code: str, amount: float) -> float:
    rates = fixture("company")["exchange_rates"]["rates"]
    return amount * rates[code] / rates[target]


def expected_totals(deals: list[Deal], convert_to: str | None = None) -> dict[str, Any]:
    def sums(selected: list[Deal], amount: Callable[[Deal], float]) -> dict[str, float]:
        out: dict[str, float] = {convert_to: 0.0} if convert_to else {}
        for deal in selected:
            code = convert_to or deal["currency"]
            value = to(convert_to, deal["currency"], amount(deal)) if convert_to else amount(deal)
            out[code] = out.get(code, 0.0) + value
        return {code: round(total, 2) for code, total in out.items()}

    open_deals = [deal for deal in deals if deal["status"] == "open"]
    won_deals = [deal for deal in deals if deal["status"] == "won"]
    return {
        "count": len(deals),
        "values": sums(deals, lambda deal: deal["value"]),
        "weighted_values": sums(deals, weighted),
        "open_count": len(open_deals),
        "open_values": sums(open_deals, lambda deal: deal["value"]),
        "weighted_open_values": sums(open_deals, weighted),
        "won_count": len(won_deals),
        "won_values": sums(won_deals, lambda deal: deal["value"]),
    }


def timeline(api: Api, start: str, interval: str, amount: int, field_key: str, **params: Any) -> list[dict[str, Any]]:
    query = {"start_date": start, "interval": interval, "amount": amount, "field_key": field_key, **params}
    return list(api.data("GET", "/deals/timeline", params=query))


def bounds(periods: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(period["period_start"], period["period_end"]) for period in periods]


def in_period(deals: list[Deal], field_key: str, period: dict[str, Any]) -> list[Deal]:
    """Deals whose field's date lies within the period, in id order."""
    first, last = period["period_start"][:10], period["period_end"][:10]
    return [deal for deal in deals if deal.get(field_key) and first <= str(deal[field_key])[:10] <= last]


def add_deal(api: Api, **fields: Any) -> Deal:
    body = {"name": "Timeline deal", "person_id": 1, "value": 1000, "currency": "EUR", "stage_id": 3, **fields}
    deal = api.data("POST", "/deals", json=body)
    return {**body, "id": deal["id"], "status": fields.get("status", "open")}


# --- intervals ----------------------------------------------------------------------------------------------------


def test_timeline__months_are_calendar_months_and_a_leap_february_ends_on_the_29th(api: Api) -> None:
    periods = timeline(api, "2024-01-15", "month", 3, "expected_close_date")

    assert bounds(periods) == [
        ("2024-01-01 00:00:00", "2024-01-31 23:59:59"),
        ("2024-02-01 00:00:00", "2024-02-29 23:59:59"),
        ("2024-03-01 00:00:00", "2024-03-31 23:59:59"),
    ]


def test_timeline__quarters_are_calendar_quarters_across_the_year_boundary(api: Api) -> None:
    periods = timeline(api, "2023-11-15", "quarter", 2, "expected_close_date")

    assert bounds(periods) == [
        ("2023-10-01 00:00:00", "2023-12-31 23:59:59"),
        ("2024-01-01 00:00:00", "2024-03-31 23:59:59"),
    ]


def test_timeline__weeks_are_seven_days_from_the_start_date(api: Api) -> None:
    periods = timeline(api, "2024-02-26", "week", 2, "expected_close_date")

    assert bounds(periods) == [
        ("2024-02-26 00:00:00", "2024-03-03 23:59:59"),
        ("2024-03-04 00:00:00", "2024-03-10 23:59:59"),
    ]


def test_timeline__days_are_consecutive_single_days(api: Api) -> None:
    periods = timeline(api, "2023-12-31", "day", 2, "expected_close_date")

    assert bounds(periods) == [
        ("2023-12-31 00:00:00", "2023-12-31 23:59:59"),
        ("2024-01-01 00:00:00", "2024-01-01 23:59:59"),
    ]


# --- grouping and totals ------------------------------------------------------------------------------------------


def test_timeline__groups_fixture_deals_by_expected_close_date(api: Api) -> None:
    periods = timeline(api, "2026-10-01", "month", 6, "expected_close_date")

    assert len(periods) == 6
    for period in periods:
        expected = in_period(open_and_won(), "expected_close_date", period)
        assert [deal["id"] for deal in period["deals"]] == [deal["id"] for deal in expected]
        assert period["totals"] == expected_totals(expected)


def test_timeline__counts_open_and_won_deals_but_not_lost_or_deleted_ones(api: Api) -> None:
    opened = add_deal(api, expected_close_date="2031-03-05", value=1000, stage_id=3)
    won = add_deal(api, expected_close_date="2031-03-20", value=2000, currency="USD", stage_id=9, status="won")
    add_deal(api, expected_close_date="2031-03-10", value=500, status="lost")
    deleted = add_deal(api, expected_close_date="2031-03-11", value=700)
    api.data("DELETE", "/deals", params={"ids": str(deleted["id"])})

    (period,) = timeline(api, "2031-03-01", "month", 1, "expected_close_date")

    assert [deal["id"] for deal in period["deals"]] == [opened["id"], won["id"]]
    assert period["totals"] == expected_totals([opened, won])


def test_timeline__deals_fall_into_the_period_of_their_day_at_month_ends(api: Api) -> None:
    january = add_deal(api, expected_close_date="2032-01-31")
    february = add_deal(api, expected_close_date="2032-02-01")
    leap_day = add_deal(api, expected_close_date="2032-02-29")

    periods = timeline(api, "2032-01-01", "month", 3, "expected_close_date")

    assert [[deal["id"] for deal in period["deals"]] for period in periods] == [
        [january["id"]],
        [february["id"], leap_day["id"]],
        [],
    ]


def test_timeline__deals_outside_every_period_are_left_out(api: Api) -> None:
    add_deal(api, expected_close_date="2031-05-31")
    add_deal(api, expected_close_date="2031-06-08")

    (week,) = timeline(api, "2031-06-01", "week", 1, "expected_close_date")

    assert week["deals"] == []
    assert week["totals"] == expected_totals([])


def test_timeline__exclude_deals_drops_the_deals_and_keeps_the_totals(api: Api) -> None:
    full = timeline(api, "2026-10-01", "quarter", 2, "expected_close_date")
    lean = timeline(api, "2026-10-01", "quarter", 2, "expected_close_date", exclude_deals=1)

    assert all("deals" not in period for period in lean)
    assert [period["totals"] for period in lean] == [period["totals"] for period in full]


def test_timeline__totals_convert_currency_converts_every_total_into_that_currency(api: Api) -> None:
    euros = add_deal(api, expected_close_date="2031-04-02", value=1000, stage_id=3)
    dollars = add_deal(api, expected_close_date="2031-04-03", value=2000, currency="USD", stage_id=9, status="won")
    crowns = add_deal(api, expected_close_date="2031-04-04", value=30000, currency="SEK", stage_id=2)

    (period,) = timeline(api, "2031-04-01", "month", 1, "expected_close_date", totals_convert_currency="GBP")

    assert period["totals"] == expected_totals([euros, dollars, crowns], convert_to="GBP")
    assert {deal["currency"] for deal in period["deals"]} == {"EUR", "USD", "SEK"}


def test_timeline__converted_totals_of_an_empty_period_are_zero_in_that_currency(api: Api) -> None:
    (period,) = timeline(api, "2040-01-01", "day", 1, "expected_close_date", totals_convert_currency="USD")

    assert period["totals"]["values"] == {"USD": 0}
    assert period["totals"]["won_values"] == {"USD": 0}


def test_timeline__groups_by_a_custom_date_field(api: Api) -> None:
    periods = timeline(api, "2026-08-01", "month", 6, CLOSING_DAY)

    assert sum(period["totals"]["count"] for period in periods) > 0
    for period in periods:
        expected = in_period(open_and_won(), CLOSING_DAY, period)
        assert [deal["id"] for deal in period["deals"]] == [deal["id"] for deal in expected]
        assert period["totals"] == expected_totals(expected)


def test_timeline__groups_by_a_datetime_field_by_its_date(api: Api) -> None:
    periods = timeline(api, "2026-01-01", "quarter", 4, "won_time")

    won = [deal for deal in open_and_won() if deal["won_time"]]
    assert sum(period["totals"]["won_count"] for period in periods) == len(won) > 0
    for period in periods:
        expected = in_period(won, "won_time", period)
        assert [deal["id"] for deal in period["deals"]] == [deal["id"] for deal in expected]


def test_timeline__a_new_deal_is_in_the_day_of_its_add_time(api: Api) -> None:
    added = api.data("POST", "/deals", json={"name": "Today", "person_id": 1})
    day = added["add_time"][:10]
    before = (date.fromisoformat(day) - timedelta(days=1)).isoformat()

    periods = timeline(api, before, "day", 2, "add_time", exclude_deals=0)

    assert added["id"] not in [deal["id"] for deal in periods[0]["deals"]]
    assert added["id"] in [deal["id"] for deal in periods[1]["deals"]]


def test_timeline__deals_show_plain_ids_for_owner_person_and_organization(api: Api) -> None:
    periods = timeline(api, "2026-10-01", "quarter", 2, "expected_close_date")

    records = {deal["id"]: deal for deal in fixture("deals")}
    deals = [deal for period in periods for deal in period["deals"]]
    assert deals
    for deal in deals:
        record = records[deal["id"]]
        assert (deal["user_id"], deal["person_id"], deal["org_id"]) == (
            record["user_id"],
            record["person_id"],
            record["org_id"],
        )


# --- narrowing ----------------------------------------------------------------------------------------------------


def test_timeline__user_id_keeps_only_that_users_deals(api: Api) -> None:
    periods = timeline(api, "2026-10-01", "quarter", 2, "expected_close_date", user_id=2)

    mine = [deal for deal in open_and_won() if deal["user_id"] == 2]
    for period in periods:
        expected = in_period(mine, "expected_close_date", period)
        assert [deal["id"] for deal in period["deals"]] == [deal["id"] for deal in expected]
        assert period["totals"] == expected_totals(expected)


def test_timeline__pipeline_id_keeps_only_deals_of_that_pipeline(api: Api) -> None:
    periods = timeline(api, "2026-10-01", "quarter", 2, "expected_close_date", pipeline_id=2)

    in_pipeline = [deal for deal in open_and_won() if deal["pipeline_id"] == 2]
    for period in periods:
        expected = in_period(in_pipeline, "expected_close_date", period)
        assert [deal["id"] for deal in period["deals"]] == [deal["id"] for deal in expected]
        assert period["totals"] == expected_totals(expected)


def test_timeline__filter_id_keeps_the_deals_the_filtered_list_shows(api: Api) -> None:
    listed = {deal["id"] for deal in api.data("GET", "/deals", params={"filter_id": 1, "limit": 500})}

    periods = timeline(api, "2026-10-01", "quarter", 2, "expected_close_date", filter_id=1)

    filtered = [deal for deal in open_and_won() if deal["id"] in listed]
    assert 0 < len(filtered) < len(open_and_won())
    for period in periods:
        expected = in_period(filtered, "expected_close_date", period)
        assert [deal["id"] for deal in period["deals"]] == [deal["id"] for deal in expected]
        assert period["totals"] == expected_totals(expected)


# --- errors -------------------------------------------------------------------------------------------------------


def test_timeline__unknown_field_key_is_400(api: Api) -> None:
    response = api.get(
        "/deals/timeline",
        params={"start_date": "2026-10-01", "interval": "month", "amount": 1, "field_key": "no_such_field"},
    )

    assert_error(response, 400, "field_key", "no_such_field")


def test_timeline__field_key_of_a_field_that_is_not_a_date_is_400(api: Api) -> None:
    response = api.get(
        "/deals/timeline", params={"start_date": "2026-10-01", "interval": "month", "amount": 1, "field_key": "value"}
    )

    assert_error(response, 400, "field_key", "value")


def test_timeline__unknown_convert_currency_is_404(api: Api) -> None:
    params = {"start_date": "2026-10-01", "interval": "month", "amount": 1, "field_key": "expected_close_date"}

    response = api.get("/deals/timeline", params={**params, "totals_convert_currency": "XXX"})

    assert_error(response, 404, RESOURCE_MISSING, "totals_convert_currency", "XXX")


def test_timeline__unknown_pipeline_id_is_404(api: Api) -> None:
    params = {"start_date": "2026-10-01", "interval": "month", "amount": 1, "field_key": "expected_close_date"}

    assert_error(api.get("/deals/timeline", params={**params, "pipeline_id": 99}), 404, RESOURCE_MISSING, "pipeline_id")


def test_timeline__unknown_user_id_is_404(api: Api) -> None:
    params = {"start_date": "2026-10-01", "interval": "month", "amount": 1, "field_key": "expected_close_date"}

    assert_error(api.get("/deals/timeline", params={**params, "user_id": 99}), 404, RESOURCE_MISSING, "user_id")


def test_timeline__unknown_filter_id_is_404(api: Api) -> None:
    params = {"start_date": "2026-10-01", "interval": "month", "amount": 1, "field_key": "expected_close_date"}

    assert_error(api.get("/deals/timeline", params={**params, "filter_id": 99}), 404, RESOURCE_MISSING, "filter_id")
