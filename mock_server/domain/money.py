"""Amounts: normalised numbers and the service's formatted strings such as `€1,500` or `US$11.10`."""

from __future__ import annotations

from typing import Any


def number(value: Any) -> int | float:
    """A JSON number for an amount: integral values stay integers, others are rounded to cents."""
    amount = round(float(value), 2)
    return int(amount) if amount.is_integer() else amount


def formatted(amount: float, symbol: str, decimals: int) -> str:
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    digits = 0 if float(amount).is_integer() else decimals
    return f"{sign}{symbol}{amount:,.{digits}f}"


def line_sum(line: dict[str, Any]) -> int | float:
    """A deal product line: price × quantity × duration, less the discount, plus tax only when exclusive."""
    base = float(line["item_price"]) * float(line["quantity"]) * float(line.get("duration") or 1)
    discount = float(line.get("discount") or 0)
    if line.get("discount_type") == "amount":
        base -= discount
    else:
        base -= base * discount / 100
    if line.get("tax_method") == "exclusive":
        base += base * float(line.get("tax") or 0) / 100
    return number(base)
