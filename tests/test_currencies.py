"""API tests of currencies: the full list and the `term` search on code and name."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import Api

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "default"


@cache
def fixture_currencies() -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = yaml.safe_load((FIXTURES / "currencies.yaml").read_text(encoding="utf-8"))
    return records


def codes(api: Api, query: str = "") -> list[str]:
    return [currency["code"] for currency in api.data("GET", f"/currencies{query}")]


def test_get_currencies__lists_every_currency(api: Api) -> None:
    assert codes(api) == [currency["code"] for currency in fixture_currencies()]


def test_get_currencies__answers_each_currency_as_stored(api: Api) -> None:
    euro = next(currency for currency in fixture_currencies() if currency["code"] == "EUR")

    listed = next(currency for currency in api.data("GET", "/currencies") if currency["code"] == "EUR")

    assert listed == euro


@pytest.mark.parametrize("term", ["eur", "EUR", "Eur"])
def test_get_currencies__term_matches_the_code_in_any_case(api: Api, term: str) -> None:
    assert "EUR" in codes(api, f"?term={term}")


@pytest.mark.parametrize("term", ["dollar", "DOLLAR", "kRoN"])
def test_get_currencies__term_matches_the_name_in_any_case(api: Api, term: str) -> None:
    expected = [currency["code"] for currency in fixture_currencies() if term.lower() in currency["name"].lower()]
    assert len(expected) > 1  # several names hold the term, so a single match would not pass

    assert codes(api, f"?term={term}") == expected


def test_get_currencies__term_matches_code_or_name(api: Api) -> None:
    expected = [
        currency["code"]
        for currency in fixture_currencies()
        if "ch" in currency["code"].lower() or "ch" in currency["name"].lower()
    ]

    assert codes(api, "?term=ch") == expected


def test_get_currencies__term_matching_nothing_answers_an_empty_list(api: Api) -> None:
    assert codes(api, "?term=doubloon") == []
