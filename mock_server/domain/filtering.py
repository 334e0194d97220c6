"""Filter conditions: the catalogue of operators and relative dates, and the evaluator compiled from it."""

from __future__ import annotations

import calendar
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from mock_server.domain.collection import Record
from mock_server.errors import Invalid, MissingReference

Predicate = Callable[[Record], bool]
Getter = Callable[[Record], Any]
Period = Callable[[date], tuple[date, date]]
MAX_CONDITIONS = 16

# --- the catalogue: GET /filters/helpers lists exactly what the evaluator accepts ------------------------------------

_IS = {"=": "is", "!=": "is not"}
_EMPTY = {"IS NULL": "is empty", "IS NOT NULL": "is not empty"}
_LIKE = {"LIKE '$%'": "starts with", "LIKE '%$%'": "contains", "NOT LIKE '$%'": "does not start with"}
_ORDER = {"<": "is less than", ">": "is greater than", "<=": "is less than or equal to",
          ">=": "is greater than or equal to"}  # fmt: skip
_TIMELINE = {"<": "is before", ">": "is after", "<=": "is on or before", ">=": "is on or after"}

# How each kind of field is compared, and the operators it takes.
KIND_OPERATORS: dict[str, dict[str, str]] = {
    "text": {**_IS, **_LIKE, **_EMPTY},
    "number": {**_IS, **_ORDER, **_EMPTY},
    "date": {**_IS, **_TIMELINE, **_EMPTY},
    "time": {**_IS, **_TIMELINE, **_EMPTY},
    "option": {**_IS, **_EMPTY},
    "options": {"=": "includes", "!=": "does not include", **_EMPTY},
    "link": {**_IS, **_EMPTY},
    "status": dict(_IS),
}
FIELD_KINDS = {"varchar": "text", "text": "text", "phone": "text", "address": "text", "int": "number",
               "double": "number", "monetary": "number", "date": "date", "daterange": "date", "time": "time",
               "timerange": "time", "enum": "option", "set": "options", "status": "status", "user": "link",
               "person": "link", "org": "link", "stage": "link", "visible_to": "link"}  # fmt: skip
OPERATORS = {field_type: KIND_OPERATORS[kind] for field_type, kind in FIELD_KINDS.items()}
# The negative operators match exactly the records their positive twin does not, empty values included.
NEGATIONS = {"!=": "=", "NOT LIKE '$%'": "LIKE '$%'", "IS NOT NULL": "IS NULL"}

# An address condition may name one component of the address in `extra_value`; its value is `<key>_<component>`.
ADDRESS_FIELD_COMPONENTS = {
    "street_number": "House number",
    "route": "Street/road name",
    "sublocality": "District/sublocality",
    "locality": "City/town/village/locality",
    "admin_area_level_1": "State/county",
    "admin_area_level_2": "Region",
    "country": "Country",
    "postal_code": "ZIP/Postal code",
    "formatted_address": "Full/combined address",
}


def add_months(day: date, months: int) -> date:
    """The same day `months` later (or earlier), or the month's last day when it is shorter (Mar 31 - 1 = Feb 28)."""
    years, month = divmod(day.month - 1 + months, 12)
    year = day.year + years
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _days(shift: int) -> Period:
    return lambda today: (today + timedelta(days=shift),) * 2


def _weeks(shift: int) -> Period:
    """A calendar week, Monday to Sunday, `shift` weeks from this one."""

    def period(today: date) -> tuple[date, date]:
        monday = today - timedelta(days=today.weekday()) + timedelta(weeks=shift)
        return monday, monday + timedelta(days=6)

    return period


def _calendar(months: int, shift: int) -> Period:
    """A calendar month (1), quarter (3) or year (12), `shift` of them from the current one."""

    def period(today: date) -> tuple[date, date]:
        first = date(today.year, (today.month - 1) // months * months + 1, 1)
        start = add_months(first, shift * months)
        return start, add_months(start, months) - timedelta(days=1)

    return period


def _point(weeks: int = 0, months: int = 0) -> Period:
    return lambda today: (add_months(today + timedelta(weeks=weeks), months),) * 2


# Each relative date resolves to a period from today, or (deal specific) to another date of the same deal.
RELATIVE_DATES: dict[str, dict[str, tuple[str, Period | str]]] = {
    "Relative date intervals": {
        "today": ("today", _days(0)), "yesterday": ("yesterday", _days(-1)), "tomorrow": ("tomorrow", _days(1)),
        "this_week": ("this week", _weeks(0)), "last_week": ("last week", _weeks(-1)),
        "next_week": ("next week", _weeks(1)), "this_month": ("this month", _calendar(1, 0)),
        "last_month": ("last month", _calendar(1, -1)), "next_month": ("next month", _calendar(1, 1)),
        "this_quarter": ("this quarter", _calendar(3, 0)), "last_quarter": ("last quarter", _calendar(3, -1)),
        "next_quarter": ("next quarter", _calendar(3, 1)), "this_year": ("this year", _calendar(12, 0)),
        "last_year": ("last year", _calendar(12, -1)), "next_year": ("next year", _calendar(12, 1)),
    },
    "Relative dates": {
        "1_week_ago": ("1 week ago", _point(weeks=-1)), "2_weeks_ago": ("2 weeks ago", _point(weeks=-2)),
        "1_month_ago": ("1 month ago", _point(months=-1)), "2_months_ago": ("2 months ago", _point(months=-2)),
        "3_months_ago": ("3 months ago", _point(months=-3)), "6_months_ago": ("6 months ago", _point(months=-6)),
        "1_year_ago": ("1 year ago", _point(months=-12)), "in_1_week": ("in 1 week", _point(weeks=1)),
        "in_2_weeks": ("in 2 weeks", _point(weeks=2)), "in_1_month": ("in 1 month", _point(months=1)),
        "in_2_months": ("in 2 months", _point(months=2)), "in_3_months": ("in 3 months", _point(months=3)),
        "in_6_months": ("in 6 months", _point(months=6)), "in_1_year": ("in 1 year", _point(months=12)),
    },
    "Deal specific": {
        "deal_add_date": ("the day the deal was created", "add_time"),
        "deal_expected_close_date": ("the deal's expected close date", "expected_close_date"),
        "deal_close_date": ("the day the deal was closed", "close_time"),
    },
}  # fmt: skip
RELATIVE = {key: resolve for section in RELATIVE_DATES.values() for key, (_, resolve) in section.items()}


def helpers() -> dict[str, Any]:
    """The body of GET /filters/helpers, read from the same tables the evaluator uses."""
    return {
        "operators": {field_type: dict(operators) for field_type, operators in OPERATORS.items()},
        "relative_dates": {
            section: {key: label for key, (label, _) in entries.items()} for section, entries in RELATIVE_DATES.items()
        },
        "address_field_components": dict(ADDRESS_FIELD_COMPONENTS),
    }


# --- the shape of `conditions` ---------------------------------------------------------------------------------------


def condition_groups(conditions: Mapping[str, Any], object_name: str) -> tuple[list[Any], list[Any]]:
    """The `and` group and the `or` group of a filter's conditions, once their shape, count and object are checked."""
    groups = conditions.get("conditions") or []
    if conditions.get("glue") != "and" or not 1 <= len(groups) <= 2:
        raise Invalid("A filter's conditions are one 'and' group holding an 'and' group and optionally an 'or' group.")
    for position, group in enumerate(groups):
        glue = ("and", "or")[position]
        if group.get("glue") != glue:
            raise Invalid(f"Condition group {position + 1} must be glued with '{glue}', not {group.get('glue')!r}: "
                          "the first group is the 'and' group, the second the 'or' group.")  # fmt: skip
    all_of = list(groups[0].get("conditions") or [])
    any_of = list(groups[1].get("conditions") or []) if len(groups) > 1 else []
    if len(all_of) + len(any_of) > MAX_CONDITIONS:
        raise Invalid(f"A filter takes at most {MAX_CONDITIONS} conditions; these conditions have "
                      f"{len(all_of) + len(any_of)}.")  # fmt: skip
    for glue, group in (("and", all_of), ("or", any_of)):
        for position, condition in enumerate(group):
            if condition.get("object") != object_name:
                raise Invalid(f"Condition {position + 1} of the '{glue}' group is on a {condition.get('object')!r} "
                              f"field; this filter takes conditions on '{object_name}' fields only.")  # fmt: skip
    return all_of, any_of


# --- the evaluator ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """What every condition of one filter is compiled against."""

    object_name: str
    find_field: Callable[[int], Record | None]
    today: date
    getters: Mapping[str, Getter]
    stored: bool


@dataclass(frozen=True)
class Line:
    """One condition being compiled, with what its messages need to say where it is."""

    where: str
    field: Record
    operator: str
    value: Any
    extra_value: Any
    scope: Scope

    def about(self) -> str:
        field = self.field
        return f"{self.where}: field {field['id']} '{field['name']}' ({field['field_type']})"

    def invalid(self, accepted: str) -> Invalid:
        return Invalid(f"{self.about()} takes {accepted} with operator {self.operator!r}, not {self.value!r}.")


def compile_filter(
    conditions: Mapping[str, Any],
    *,
    object_name: str,
    find_field: Callable[[int], Record | None],
    today: date,
    getters: Mapping[str, Getter] | None = None,
    stored: bool = False,
) -> Predicate:
    """A predicate over records: every condition of the `and` group holds, and one of the `or` group if it has any.

    `getters` read derived values (say a deal's `next_activity_date`) by field key. A `stored` filter was checked
    when it was saved: options its fields no longer have then match nothing instead of being refused.
    """
    all_of, any_of = condition_groups(conditions, object_name)
    scope = Scope(object_name, find_field, today, getters or {}, stored)
    required = [
        _compile(condition, f"Condition {n} of the 'and' group", scope) for n, condition in enumerate(all_of, 1)
    ]
    optional = [_compile(condition, f"Condition {n} of the 'or' group", scope) for n, condition in enumerate(any_of, 1)]

    def matches(record: Record) -> bool:
        for condition in required:
            if not condition(record):
                return False
        return not optional or any(condition(record) for condition in optional)

    return matches


def _compile(condition: Mapping[str, Any], where: str, scope: Scope) -> Predicate:
    field = scope.find_field(_as_id(condition.get("field_id")))
    if field is None:
        raise MissingReference("field_id", condition.get("field_id"))
    line = Line(
        where, field, condition.get("operator", ""), condition.get("value"), condition.get("extra_value"), scope
    )
    kind = FIELD_KINDS.get(field["field_type"])
    if kind is None or field.get("filtering_allowed") is False:
        raise Invalid(f"{line.about()} cannot be used in filters.")
    if line.operator not in KIND_OPERATORS[kind]:
        raise Invalid(f"{line.about()} does not take the operator {line.operator!r}; it takes "
                      f"{', '.join(repr(name) for name in KIND_OPERATORS[kind])}.")  # fmt: skip
    key = _key(line)
    get = scope.getters.get(key) or _reader(key)
    positive = NEGATIONS.get(line.operator, line.operator)
    if positive == "IS NULL":
        match = _empty(get)
    elif line.value is None:
        raise Invalid(f"{line.about()} needs a value for the operator {line.operator!r}.")
    else:
        match = COMPILERS[kind](line, positive, get)
    if positive == line.operator:
        return match
    return lambda record: not match(record)


def _empty(get: Getter) -> Predicate:
    return lambda record: _is_empty(get(record))


def _reader(key: str) -> Getter:
    return lambda record: record.get(key)


def _key(line: Line) -> str:
    """The record key a condition reads: the field's, or one component of an address field."""
    key: str = line.field["key"]
    component = line.extra_value
    if line.field["field_type"] != "address" or component in (None, ""):
        return key
    if component not in ADDRESS_FIELD_COMPONENTS:
        raise Invalid(f"{line.about()} takes an address component in extra_value, one of "
                      f"{', '.join(ADDRESS_FIELD_COMPONENTS)}; not {component!r}.")  # fmt: skip
    return f"{key}_{component}"


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def _as_id(value: Any) -> int:
    number = _as_int(value)
    return -1 if number is None else number


def _as_int(value: Any) -> int | None:
    """An integer given as a number or as digits; None for anything else."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    return None


NUMBER = re.compile(r"-?\d+(\.\d+)?")


def _as_number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and NUMBER.fullmatch(value.strip()):
        return float(value)
    return None


COMPARE: dict[str, Callable[[Any, Any], bool]] = {"=": operator.eq, "<": operator.lt, ">": operator.gt,
                                                  "<=": operator.le, ">=": operator.ge}  # fmt: skip
# A date (or a time) against a period [start, end]: `=` is within it, `<` before its start, `>` after its end.
WITHIN: dict[str, Callable[[str, str, str], bool]] = {
    "=": lambda day, start, end: start <= day <= end,
    "<": lambda day, start, end: day < start,
    ">": lambda day, start, end: day > end,
    "<=": lambda day, start, end: day <= end,
    ">=": lambda day, start, end: day >= start,
}


TEXT_TESTS: dict[str, Callable[[str, str], bool]] = {
    "=": operator.eq,
    "LIKE '$%'": str.startswith,
    "LIKE '%$%'": operator.contains,
}


def _text(line: Line, positive: str, get: Getter) -> Predicate:
    if isinstance(line.value, bool) or not isinstance(line.value, str | int | float):
        raise line.invalid("text")
    needle = str(line.value).casefold()
    test = TEXT_TESTS[positive]

    def match(record: Record) -> bool:
        value = get(record)
        return test("" if value is None else str(value).casefold(), needle)

    return match


def _number(line: Line, positive: str, get: Getter) -> Predicate:
    wanted = _as_number(line.value)
    if wanted is None:
        raise line.invalid("a number")
    compare = COMPARE[positive]

    def match(record: Record) -> bool:
        value = _as_number(get(record))
        return value is not None and compare(value, wanted)

    return match


def _date(line: Line, positive: str, get: Getter) -> Predicate:
    within = WITHIN[positive]
    resolve = RELATIVE.get(line.value) if isinstance(line.value, str) else None
    if isinstance(resolve, str):
        if line.scope.object_name != "deal":
            raise Invalid(f"{line.about()}: the relative date {line.value!r} is deal specific; it takes deal fields.")
        other = _reader(resolve)

        def match_deal_date(record: Record) -> bool:
            day, bound = _day_of(get(record)), _day_of(other(record))
            return day is not None and bound is not None and within(day, bound, bound)

        return match_deal_date
    if resolve is not None:
        first, last = resolve(line.scope.today)
        start, end = first.isoformat(), last.isoformat()
    else:
        start = end = _date_value(line)

    def match(record: Record) -> bool:
        day = _day_of(get(record))
        return day is not None and within(day, start, end)

    return match


def _date_value(line: Line) -> str:
    try:
        return datetime.strptime(line.value, "%Y-%m-%d").date().isoformat()
    except (TypeError, ValueError):
        accepted = "a date as YYYY-MM-DD or a relative date such as 'this_month' (see GET /filters/helpers)"
        raise line.invalid(accepted) from None


def _day_of(value: Any) -> str | None:
    """The date part of a stored date or datetime; ISO strings compare in date order."""
    return value[:10] if isinstance(value, str) and value else None


def _time(line: Line, positive: str, get: Getter) -> Predicate:
    if not isinstance(line.value, str) or not re.fullmatch(r"\d{2}:[0-5]\d", line.value):
        raise line.invalid("a time as HH:MM")
    within, wanted = WITHIN[positive], line.value

    def match(record: Record) -> bool:
        value = get(record)
        return isinstance(value, str) and bool(value) and within(value[:5], wanted, wanted)

    return match


def _option_values(line: Line) -> dict[int, Any]:
    """Condition value -> stored value. Activity `done` stores 0/1 for its options (in order), and takes both."""
    options: Sequence[Record] = line.field["options"] or []
    if line.field["key"] == "done" and line.scope.object_name == "activity":
        return {0: 0, 1: 1} | {option["id"]: position for position, option in enumerate(options)}
    return {option["id"]: option["id"] for option in options}


def _option_id(line: Line, accepted: Mapping[int, Any]) -> Any:
    wanted = None if isinstance(line.value, bool) else _as_int(line.value)
    if wanted is None:
        raise line.invalid(f"one of the option ids {sorted(accepted)}")
    if wanted in accepted:
        return accepted[wanted]
    if line.scope.stored:
        return wanted  # an option removed since the filter was saved: no record has it any more
    raise line.invalid(f"one of the option ids {sorted(accepted)}")


def _option(line: Line, positive: str, get: Getter) -> Predicate:
    wanted = _option_id(line, _option_values(line))
    return lambda record: _as_int(get(record)) == wanted


def _options(line: Line, positive: str, get: Getter) -> Predicate:
    wanted = _option_id(line, _option_values(line))
    return lambda record: wanted in _option_set(get(record))


def _option_set(value: Any) -> set[int | None]:
    """The option ids of a stored `set` value: `"110,113"`, a list of ids, or one id."""
    if _is_empty(value):
        return set()
    parts = value if isinstance(value, list) else str(value).split(",")
    return {_as_int(part) for part in parts}


def _status(line: Line, positive: str, get: Getter) -> Predicate:
    by_id = {option["id"]: option["label"].casefold() for option in line.field["options"] or []}
    names = {"open", "won", "lost", "deleted", *by_id.values()}
    wanted = line.value.casefold() if isinstance(line.value, str) else None
    if wanted not in names:
        wanted = by_id.get(_as_int(line.value)) if not isinstance(line.value, bool) else None
    if wanted is None:
        raise line.invalid(f"a status ({', '.join(sorted(names))}) or its option id {sorted(by_id)}")
    return lambda record: get(record) == wanted


def _link(line: Line, positive: str, get: Getter) -> Predicate:
    wanted = None if isinstance(line.value, bool) else _as_int(line.value)
    if wanted is None:
        raise line.invalid("the integer id of a record")
    return lambda record: _as_int(get(record)) == wanted


COMPILERS: dict[str, Callable[[Line, str, Getter], Predicate]] = {
    "text": _text, "number": _number, "date": _date, "time": _time, "option": _option, "options": _options,
    "status": _status, "link": _link,
}  # fmt: skip
