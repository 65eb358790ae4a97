"""Backup levels by date: the rules of a backup task's `levels`, checked and applied.

A rule is {"level": full | differential | incremental, "on": TEXT}; the first rule whose
TEXT matches a run's date (in the task's zone) gives the run its level. TEXT is terms
separated by spaces, all of which must match (AND); a term is a comma list of items of
one kind (any of which may match):

- `*`: any day;
- weekdays: `mon` ... `sun` (or full names), ranges `mon-fri`, `fri-mon` (wrapping);
- ordinals before a weekday term: `1st` ... `5th`, `last`: the Nth (the last) such
  weekday of the month (`1st sun`, `1st,3rd mon-fri`, `last fri`);
- days of the month: `1` ... `31`, ranges `1-7`, and `last` (the month's last day) when no
  weekday term follows it;
- months: `jan` ... `dec` (or full names), ranges `nov-feb`: `jan 1st sun` is a yearly full.

The checked list is normalised (lower case, single spaces, none around `,` and `-`) and
must give every date a level; a rule that never applies (it matches no date, or the rules
before it take every date it matches) is refused. Pure: stdlib and tapesched.errors
only, cheap to import (a config is checked with it), never reads the clock.
"""

from __future__ import annotations

import re
import reprlib
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from tapesched.errors import InvalidInput, printable

LEVELS = ("full", "differential", "incremental")
MAX_RULES = 32
MAX_TEXT = 200
# Every calendar (the weekday of January 1st, leap year or not) occurs in these 28 years,
# as in any 28 years between 1901 and 2099: rules that give each of these days a level
# give every day one.
FIRST_YEAR, LAST_YEAR = 2001, 2028
CATCH_ALL = '{"level": "incremental", "on": "*"}'
EXAMPLE = '{"level": "full", "on": "1st sun"}'

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = (
    "january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december",
)  # fmt: skip
_WEEKDAY = {
    **{name[:3]: n for n, name in enumerate(WEEKDAYS)},
    **{n: i for i, n in enumerate(WEEKDAYS)},
}
_MONTH = {
    **{name[:3]: n for n, name in enumerate(MONTHS, 1)},
    **{n: i for i, n in enumerate(MONTHS, 1)},
}
_ORDINALS = {"1st": 1, "2nd": 2, "3rd": 3, "4th": 4, "5th": 5}
LAST = -1  # in ordinals: the last such weekday of the month; in days: the month's last day

_NUMBER = re.compile(r"[0-9]+", re.ASCII)
_ORDINAL = re.compile(r"[0-9]+(st|nd|rd|th)", re.ASCII)
_AROUND = re.compile(r"\s*([,-])\s*")
_KIND_NAMES = {
    "any": "'*'",
    "weekday": "weekdays",
    "month": "months",
    "ordinal": "ordinals",
    "day": "days of the month",
    "last": "'last'",
}
_WORDS = (
    "expected *, weekdays (mon, mon-fri), 1st-5th or last before a weekday (1st sun), "
    "days of the month (1-31, last) or months (jan, nov-feb)"
)
_short = reprlib.Repr()
_short.maxstring = _short.maxother = 40


@dataclass(frozen=True)
class Rule:
    """One parsed rule: None for a kind of term the rule does not have (any date)."""

    level: str
    text: str
    months: frozenset[int] | None = None  # 1-12
    weekdays: frozenset[int] | None = None  # 0 Monday - 6 Sunday
    ordinals: frozenset[int] | None = None  # 1-5, LAST
    days: frozenset[int] | None = None  # 1-31, LAST

    def matches(self, day: date) -> bool:
        return self.matches_key(*_key(day))

    def matches_key(self, month: int, dom: int, weekday: int, length: int) -> bool:
        """Given a date as (month, day of the month, weekday, length of its month)."""
        if self.months is not None and month not in self.months:
            return False
        if self.weekdays is not None and weekday not in self.weekdays:
            return False
        if self.days is not None and dom not in self.days:
            if not (LAST in self.days and dom == length):
                return False
        if self.ordinals is not None and (dom - 1) // 7 + 1 not in self.ordinals:
            if not (LAST in self.ordinals and dom + 7 > length):
                return False
        return True


def month_length(year: int, month: int) -> int:
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def _key(day: date) -> tuple[int, int, int, int]:
    return day.month, day.day, day.weekday(), month_length(day.year, day.month)


def _show(value: Any) -> str:
    """A value from a config, short and on one line."""
    if isinstance(value, str):
        return f"'{printable(value[:40])}" + ("...'" if len(value) > 40 else "'")
    return printable(_short.repr(value))


# --------------------------------------------------------------------------- parsing


def parse_rule(level: str, text: str, where: str = "levels") -> Rule:
    """Given a level and a rule's text, return the Rule (text normalised); raise
    InvalidInput (field `where`) naming the rule and what is wrong."""
    shown = f"rule '{printable(text)}' ({printable(level)})"

    def refuse(why: str) -> InvalidInput:
        return InvalidInput(f"{shown}: {why}", field=where)

    if len(text) > MAX_TEXT:
        raise InvalidInput(
            f"rule '{printable(text[:40])}...' ({printable(level)}): {len(text)} characters; "
            f"at most {MAX_TEXT}",
            field=where,
        )
    terms = _AROUND.sub(r"\1", text.strip().lower()).split()
    if not terms:
        raise refuse("says no date; expected dates such as '1st sun', 'mon-fri' or '*'")
    kinds: list[str] = []
    values: list[set[int]] = []
    for term in terms:
        kind, found = _term(term, refuse)
        kinds.append(kind)
        values.append(found)
    fields: dict[str, tuple[str, set[int]]] = {}
    for index, term in enumerate(terms):
        kind = kinds[index]
        if kind in ("ordinal", "last"):
            before_weekday = index + 1 < len(kinds) and kinds[index + 1] == "weekday"
            if before_weekday:
                kind = "ordinal"
            elif kind == "last":
                kind = "day"
            else:
                raise refuse(
                    f"'{printable(term)}' needs a weekday right after it, such as "
                    f"'{printable(term)} sun'"
                )
        if kind in fields:
            other = fields[kind][0]
            raise refuse(
                f"two terms of {_KIND_NAMES[kind]}, '{printable(other)}' and "
                f"'{printable(term)}'; terms combine with AND: list them in one, "
                f"'{printable(other)},{printable(term)}'"
            )
        fields[kind] = (term, values[index])

    def field(kind: str) -> frozenset[int] | None:
        return frozenset(fields[kind][1]) if kind in fields else None

    return Rule(
        level=level,
        text=" ".join(terms),
        months=field("month"),
        weekdays=field("weekday"),
        ordinals=field("ordinal"),
        days=field("day"),
    )


def _term(term: str, refuse: Any) -> tuple[str, set[int]]:
    """A term's kind ('last' when it holds only `last`: an ordinal before a weekday, else
    a day) and its values."""
    items = term.split(",")
    if "" in items:
        raise refuse(f"'{printable(term)}' has an empty item (a stray comma?)")
    kinds: set[str] = set()
    values: set[int] = set()
    for item in items:
        kind, found = _item(item, refuse)
        kinds.add(kind)
        values |= found
    core = kinds - {"last"}
    if len(core) > 1 or (core and "last" in kinds and core.isdisjoint({"ordinal", "day"})):
        names = " and ".join(sorted(_KIND_NAMES[kind] for kind in kinds))
        raise refuse(
            f"'{printable(term)}' mixes {names}; a term lists items of one kind "
            "(separate terms with a space: they combine with AND)"
        )
    return (core.pop() if core else "last"), values


def _item(item: str, refuse: Any) -> tuple[str, set[int]]:
    if item == "*":
        return "any", set()
    if item == "last":
        return "last", {LAST}
    if _ORDINAL.fullmatch(item):
        if item not in _ORDINALS:
            raise refuse(f"'{printable(item)}' is not an ordinal; expected 1st-5th or last")
        return "ordinal", {_ORDINALS[item]}
    if "-" in item:
        return _range(item, refuse)
    kind, value = _single(item, refuse)
    return kind, {value}


def _single(word: str, refuse: Any) -> tuple[str, int]:
    if word in _WEEKDAY:
        return "weekday", _WEEKDAY[word]
    if word in _MONTH:
        return "month", _MONTH[word]
    if _NUMBER.fullmatch(word):
        if len(word) <= 2 and 1 <= int(word) <= 31:
            return "day", int(word)
        raise refuse(f"'{printable(word)}' is not a day of the month (1-31)")
    raise refuse(f"'{printable(word)}' is not a word of a rule; {_WORDS}")


def _range(item: str, refuse: Any) -> tuple[str, set[int]]:
    first, _, last = item.partition("-")
    if not first or not last or "-" in last:
        raise refuse(
            f"'{printable(item)}' is not a range; expected two weekdays, months or days "
            "of the month (mon-fri, nov-feb, 1-7)"
        )
    (kind, low), (other, high) = _single(first, refuse), _single(last, refuse)
    if kind != other:
        raise refuse(
            f"'{printable(item)}' is not a range; its ends are not of one kind "
            "(mon-fri, nov-feb, 1-7)"
        )
    start, end = {"weekday": (0, 6), "month": (1, 12), "day": (1, 31)}[kind]
    if low <= high:
        return kind, set(range(low, high + 1))
    return kind, set(range(low, end + 1)) | set(range(start, high + 1))  # wraps


# --------------------------------------------------------------------------- lists of rules


def check_rules(value: Any, field: str = "levels") -> list[dict[str, str]]:
    """Given a `levels` value, return its rules normalised ({"level", "on"} each); raise
    InvalidInput (field `FIELD[i]` for a rule, `FIELD` for the list) naming what is wrong:
    a bad rule, a rule that never applies, a date no rule gives a level."""
    if not isinstance(value, list):
        raise InvalidInput(
            f"{_show(value)} is not a list of rules; expected rules such as [{EXAMPLE}, "
            f"{CATCH_ALL}]",
            field=field,
        )
    if not value:
        raise InvalidInput(
            f"no rules; give at least one, such as [{EXAMPLE}, {CATCH_ALL}]", field=field
        )
    if len(value) > MAX_RULES:
        raise InvalidInput(f"{len(value)} rules; at most {MAX_RULES}", field=field)
    rules = [_check_rule(item, f"{field}[{index}]") for index, item in enumerate(value)]
    _check_dates(rules, field)
    return [{"level": rule.level, "on": rule.text} for rule in rules]


def _check_rule(item: Any, where: str) -> Rule:
    if not isinstance(item, dict):
        raise InvalidInput(
            f"{_show(item)} is not a rule; expected an object such as {EXAMPLE}", field=where
        )
    for key in item:
        if key not in ("level", "on"):
            raise InvalidInput(
                f"unknown key {_show(key)} in a rule; a rule takes level and on ({EXAMPLE})",
                field=where,
            )
    for key in ("level", "on"):
        if key not in item:
            raise InvalidInput(f"{key} is missing; a rule is such as {EXAMPLE}", field=where)
    level, text = item["level"], item["on"]
    if not isinstance(level, str) or level.strip().lower() not in LEVELS:
        raise InvalidInput(
            f"level {_show(level)} is not valid; expected {', '.join(LEVELS)}", field=where
        )
    level = level.strip().lower()
    if not isinstance(text, str):
        raise InvalidInput(
            f"on {_show(text)} ({level}) is not valid; expected dates such as '1st sun', "
            "'mon-fri' or '*'",
            field=where,
        )
    return parse_rule(level, text, where)


def _calendar() -> Any:
    """Each date of the 28 years, in order, as (date's parts, its key)."""
    for year in range(FIRST_YEAR, LAST_YEAR + 1):
        weekday = date(year, 1, 1).weekday()
        for month in range(1, 13):
            length = month_length(year, month)
            for dom in range(1, length + 1):
                yield (year, month, dom), (month, dom, weekday, length)
                weekday = (weekday + 1) % 7


def _check_dates(rules: list[Rule], field: str) -> None:
    """Refuse a rule that never applies, then a date that no rule gives a level."""
    winner: dict[tuple[int, int, int, int], int | None] = {}
    uncovered = None
    for parts, key in _calendar():
        if key not in winner:
            winner[key] = next(
                (index for index, rule in enumerate(rules) if rule.matches_key(*key)), None
            )
        if winner[key] is None and uncovered is None:
            uncovered = date(*parts)
    used = set(winner.values())
    for index, rule in enumerate(rules):
        if index in used:
            continue
        shown = f"rule '{printable(rule.text)}' ({rule.level})"
        if any(rule.matches_key(*key) for key in winner):
            why = "never applies: the rules before it take every date it matches (order them"
            why += " from the rarest, such as the full's, to the most common)"
        else:
            why = "matches no date"
        raise InvalidInput(f"{shown} {why}", field=f"{field}[{index}]")
    if uncovered is not None:
        raise InvalidInput(
            f"no rule gives a level to {uncovered.strftime('%a')} {uncovered.isoformat()} "
            f"(nor to the days like it); end the rules with {CATCH_ALL}",
            field=field,
        )


@lru_cache(maxsize=256)
def _compiled(level: str, text: str) -> Rule:
    return parse_rule(level, text)


def rule_on(rules: list[dict[str, str]], day: date) -> dict[str, str]:
    """Given checked rules and a date, return the first rule that matches it; raise
    InvalidInput if none does (rules that were never checked)."""
    key = _key(day)
    for rule in rules:
        if _compiled(str(rule["level"]), str(rule["on"])).matches_key(*key):
            return rule
    raise InvalidInput(f"no rule gives a level to {day.isoformat()}", field="levels")


def level_on(rules: list[dict[str, str]], day: date) -> str:
    """Given checked rules and a date, return the level a run on that date has."""
    return rule_on(rules, day)["level"]


def planned(config: dict[str, Any], when: datetime, zone: str) -> tuple[str, str | None]:
    """Given a backup's config and a run's scheduled instant, return the level the run
    has and the text of the `levels` rule that gave it (None when `task_type` did, by
    default full): the rules are read on the run's date in the task's `zone`. Raise
    InvalidInput if no rule matches (rules that were never checked)."""
    rules = config.get("levels")
    if not rules:
        return str(config.get("task_type", "full")), None
    from zoneinfo import ZoneInfo

    rule = rule_on(rules, when.astimezone(ZoneInfo(zone)).date())
    return rule["level"], rule["on"]


def parse_shorthand(text: str, field: str = "--levels") -> list[dict[str, str]]:
    """Given the command-line form 'full: 1st sun; differential: sun; incremental: *'
    (rules separated by ';', each LEVEL: DATES), return the checked rules."""
    parts = [part.strip() for part in text.split(";")]
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()  # a trailing ';'
    rules = []
    for part in parts:
        level, colon, on = part.partition(":")
        if not colon:
            raise InvalidInput(
                f"'{printable(part)}' is not LEVEL: DATES; expected rules such as "
                "'full: 1st sun; differential: sun; incremental: *'",
                field=field,
            )
        rules.append({"level": level.strip(), "on": on.strip()})
    return check_rules(rules, field)
