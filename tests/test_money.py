"""Unit tests of mock_server.domain.money: amounts as JSON numbers, formatted strings and deal-product line sums."""

from __future__ import annotations

from typing import Any

import pytest

from mock_server.domain.money import formatted, line_sum, number

# --- number ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [(1500, 1500), (1500.0, 1500), ("1500", 1500), ("-20.00", -20)])
def test_number__integral_amount_is_an_int(value: Any, expected: int) -> None:
    result = number(value)

    assert result == expected
    assert type(result) is int


@pytest.mark.parametrize(("value", "expected"), [("1500.50", 1500.5), (18549.75, 18549.75), ("-0.25", -0.25)])
def test_number__fractional_amount_is_a_float(value: Any, expected: float) -> None:
    result = number(value)

    assert result == expected
    assert type(result) is float


def test_number__rounds_to_cents() -> None:
    assert number(10.239) == 10.24
    assert number("3.14159") == 3.14


def test_number__amount_rounding_to_whole_becomes_an_int() -> None:
    result = number(99.999)

    assert result == 100
    assert type(result) is int


# --- formatted ------------------------------------------------------------------------------------------------------


def test_formatted__whole_amount_has_no_decimals() -> None:
    assert formatted(1500, "€", 2) == "€1,500"


def test_formatted__fractional_amount_has_the_currencys_decimals() -> None:
    assert formatted(11.1, "US$", 2) == "US$11.10"


def test_formatted__groups_thousands() -> None:
    assert formatted(1234567.89, "£", 2) == "£1,234,567.89"


def test_formatted__negative_amount_puts_the_sign_before_the_symbol() -> None:
    assert formatted(-2500.5, "€", 2) == "-€2,500.50"


def test_formatted__zero_is_the_bare_symbol_and_zero() -> None:
    assert formatted(0, "kr", 2) == "kr0"


def test_formatted__currency_without_decimals_shows_whole_units() -> None:
    assert formatted(1500.4, "¥", 0) == "¥1,500"


def test_formatted__amount_that_rounds_to_whole_shows_no_decimals() -> None:
    assert formatted(1500.999, "€", 2) == "€1,501"


def test_formatted__tiny_negative_amount_is_zero_without_sign() -> None:
    assert formatted(-0.001, "€", 2) == "€0"


# --- line_sum -------------------------------------------------------------------------------------------------------


def line(**fields: Any) -> dict[str, Any]:
    return {"item_price": 200, "quantity": 3, **fields}


def test_line_sum__is_price_times_quantity_without_discount_or_tax() -> None:
    assert line_sum(line()) == 600


def test_line_sum__multiplies_by_duration() -> None:
    assert line_sum(line(duration=12)) == 7200


def test_line_sum__missing_duration_counts_as_one() -> None:
    assert line_sum(line(duration=None)) == 600


def test_line_sum__percentage_discount_takes_that_share_off() -> None:
    assert line_sum(line(discount=15, discount_type="percentage")) == 510


def test_line_sum__discount_without_type_is_a_percentage() -> None:
    assert line_sum(line(discount=15)) == 510


def test_line_sum__amount_discount_takes_that_amount_off_the_whole_line() -> None:
    # 200 × 3 × 2 = 1,200, less 150 once (not per item or per period)
    assert line_sum(line(duration=2, discount=150, discount_type="amount")) == 1050


def test_line_sum__exclusive_tax_is_added_after_the_discount() -> None:
    # 600 less 10 % = 540, plus 25.5 % = 677.70
    assert line_sum(line(discount=10, tax=25.5, tax_method="exclusive")) == 677.7


@pytest.mark.parametrize("tax_method", ["inclusive", "none", None])
def test_line_sum__tax_changes_nothing_unless_exclusive(tax_method: str | None) -> None:
    assert line_sum(line(tax=25.5, tax_method=tax_method)) == 600


def test_line_sum__rounds_to_cents() -> None:
    # 289.9 × 3 = 869.7, plus 25.5 % = 1,091.4735
    assert line_sum({"item_price": 289.9, "quantity": 3, "tax": 25.5, "tax_method": "exclusive"}) == 1091.47


def test_line_sum__matches_a_fixture_line() -> None:
    # Line 2 of deal 2: 120 × 5 × 24 = 14,400, less 150 = 14,250, plus 25.5 % = 17,883.75
    fixture_line = {
        "item_price": 120,
        "quantity": 5,
        "duration": 24,
        "discount": 150,
        "discount_type": "amount",
        "tax": 25.5,
        "tax_method": "exclusive",
    }

    assert line_sum(fixture_line) == 17883.75
