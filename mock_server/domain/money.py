"""Amounts: normalised numbers and the service's formatted strings such as `€1,500` or `US$11.10`."""

from __future__ import annotations

import math
from typing import Any

from mock_server.errors import Invalid


def number(value: Any) -> int | float:
    """A JSON number for an amount: integral values stay integers, others are rounded to cents."""
    amount = round(float(value), 2)
    if not math.isfinite(amount):
        raise Invalid(f"The amount {str(value)[:40]} is too large: amounts must stay below 1e308.")
    return int(amount) if amount.is_integer() else amount


def formatted(amount: float, symbol: str, decimals: int) -> str:
    # Round first, so 1500.999 shows as a whole 1,501 and -0.001 does not become "-€0".
    amount = round(float(amount), decimals)
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    digits = 0 if amount.is_integer() else decimals
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
