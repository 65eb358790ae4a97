"""tapesched.levels: the grammar of level rules, the checks of a rule list, the level of a
date, the command-line form; against a plain reference and hostile input."""

from __future__ import annotations

import calendar
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapesched import levels
from tapesched.errors import InvalidInput

GFS = [
    {"level": "full", "on": "1st sun"},
    {"level": "differential", "on": "sun"},
    {"level": "incremental", "on": "*"},
]
FIELD = "action_config.levels"


def _matches(text: str, day: date) -> bool:
    return levels.parse_rule("full", text).matches(day)


# --------------------------------------------------------------------------- grammar


@pytest.mark.parametrize(
    ("text", "day", "expected"),
    [
        ("*", date(2026, 2, 28), True),
        ("sun", date(2026, 3, 1), True),
        ("SUNDAY", date(2026, 3, 1), True),
        ("sun", date(2026, 3, 2), False),
        ("mon-fri", date(2026, 3, 6), True),  # a Friday
        ("mon-fri", date(2026, 3, 7), False),
        ("fri-mon", date(2026, 3, 7), True),  # wraps: fri sat sun mon
        ("fri-mon", date(2026, 3, 3), False),  # a Tuesday
        ("mon, wed ,fri", date(2026, 3, 4), True),  # spaces around commas are fine
        ("mon - fri", date(2026, 3, 4), True),
        ("1st sun", date(2026, 3, 1), True),
        ("1st sun", date(2026, 3, 8), False),
        ("2nd sun", date(2026, 3, 8), True),
        ("5th sun", date(2026, 3, 29), True),
        ("5th sun", date(2026, 2, 22), False),  # February 2026 has four Sundays
        ("last sun", date(2026, 3, 29), True),
        ("last sun", date(2026, 3, 22), False),
        ("last fri", date(2026, 2, 27), True),
        ("1st,3rd mon-fri", date(2026, 3, 16), True),  # the third Monday
        ("1st,3rd mon-fri", date(2026, 3, 9), False),
        ("1st,last sun", date(2026, 3, 29), True),
        ("1", date(2026, 3, 1), True),
        ("15", date(2026, 3, 15), True),
        ("1-7", date(2026, 3, 7), True),
        ("1-7", date(2026, 3, 8), False),
        ("25-5", date(2026, 3, 3), True),  # wraps
        ("last", date(2026, 2, 28), True),
        ("last", date(2028, 2, 28), False),  # a leap year: the 29th is the last
        ("last", date(2028, 2, 29), True),
        ("15,last", date(2026, 4, 30), True),
        ("31", date(2026, 4, 30), False),
        ("jan 1st sun", date(2026, 1, 4), True),
        ("jan 1st sun", date(2026, 2, 1), False),
        ("January 1st Sunday", date(2026, 1, 4), True),
        ("nov-feb 1", date(2026, 1, 1), True),  # wraps
        ("nov-feb 1", date(2026, 3, 1), False),
        ("dec last", date(2026, 12, 31), True),
        ("sun 1", date(2026, 3, 1), True),  # AND: the 1st when it is a Sunday
        ("sun 1", date(2026, 2, 1), True),
        ("sun 1", date(2026, 4, 1), False),
        ("last sun last", date(2026, 5, 31), True),  # the last Sunday on the last day
        ("*  sun", date(2026, 3, 1), True),
    ],
)
def test_a_rule_matches_its_dates(text: str, day: date, expected: bool) -> None:
    assert _matches(text, day) is expected


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("1st Sun", "1st sun"),
        ("  Mon , Wed   -  Fri\t jan ", "mon,wed-fri jan"),
        ("*", "*"),
    ],
)
def test_rule_text_is_normalised(text: str, normal: str) -> None:
    assert levels.parse_rule("full", text).text == normal


@pytest.mark.parametrize(
    ("rules", "field", "words"),
    [
        ("1st sun", FIELD, "'1st sun' is not a list of rules"),
        ([], FIELD, "no rules; give at least one"),
        ([{"level": "full", "on": "*"}] * 33, FIELD, "33 rules; at most 32"),
        (["full"], f"{FIELD}[0]", "'full' is not a rule; expected an object"),
        ([{"level": "full"}], f"{FIELD}[0]", "on is missing"),
        ([{"on": "*"}], f"{FIELD}[0]", "level is missing"),
        ([{"level": "full", "on": "*", "at": 1}], f"{FIELD}[0]", "unknown key 'at'"),
        ([{"level": "weekly", "on": "*"}], f"{FIELD}[0]", "level 'weekly' is not valid"),
        ([{"level": 0, "on": "*"}], f"{FIELD}[0]", "level 0 is not valid"),
        ([{"level": "full", "on": 7}], f"{FIELD}[0]", "on 7 (full) is not valid"),
        ([{"level": "full", "on": " "}], f"{FIELD}[0]", "rule ' ' (full): says no date"),
        ([{"level": "full", "on": "sun fortnightly"}], f"{FIELD}[0]", "'fortnightly' is not"),
        ([{"level": "full", "on": "mon tue"}], f"{FIELD}[0]", "two terms of weekdays"),
        ([{"level": "full", "on": "jan feb"}], f"{FIELD}[0]", "two terms of months"),
        ([{"level": "full", "on": "1 2"}], f"{FIELD}[0]", "two terms of days of the month"),
        ([{"level": "full", "on": "* *"}], f"{FIELD}[0]", "two terms of '*'"),
        ([{"level": "full", "on": "1st sun 2nd mon"}], f"{FIELD}[0]", "two terms of"),
        ([{"level": "full", "on": "1st"}], f"{FIELD}[0]", "'1st' needs a weekday right after"),
        ([{"level": "full", "on": "sun 1st"}], f"{FIELD}[0]", "needs a weekday right after"),
        ([{"level": "full", "on": "1st jan sun"}], f"{FIELD}[0]", "needs a weekday"),
        ([{"level": "full", "on": "6th sun"}], f"{FIELD}[0]", "'6th' is not an ordinal"),
        ([{"level": "full", "on": "1th sun"}], f"{FIELD}[0]", "'1th' is not an ordinal"),
        ([{"level": "full", "on": "32"}], f"{FIELD}[0]", "'32' is not a day of the month"),
        ([{"level": "full", "on": "0"}], f"{FIELD}[0]", "'0' is not a day of the month"),
        ([{"level": "full", "on": "9" * 5000}], f"{FIELD}[0]", "5000 characters; at most 200"),
        ([{"level": "full", "on": "1,mon"}], f"{FIELD}[0]", "mixes days of the month and"),
        ([{"level": "full", "on": "last,mon"}], f"{FIELD}[0]", "mixes 'last' and weekdays"),
        ([{"level": "full", "on": "*,sun"}], f"{FIELD}[0]", "mixes"),
        ([{"level": "full", "on": "mon,,tue"}], f"{FIELD}[0]", "has an empty item"),
        ([{"level": "full", "on": "mon-"}], f"{FIELD}[0]", "'mon-' is not a range"),
        ([{"level": "full", "on": "mon-tue-wed"}], f"{FIELD}[0]", "is not a range"),
        ([{"level": "full", "on": "mon-jan"}], f"{FIELD}[0]", "its ends are not of one kind"),
        ([{"level": "full", "on": "1st-3rd sun"}], f"{FIELD}[0]", "is not a word of a rule"),
        ([{"level": "full", "on": "sun"}], FIELD, "no rule gives a level to Mon 2001-01-01"),
        (
            [{"level": "full", "on": "1st sun"}, {"level": "incremental", "on": "mon-sat"}],
            FIELD,
            'to Sun 2001-01-14 (nor to the days like it); end the rules with {"level": '
            '"incremental", "on": "*"}',
        ),
        (
            [{"level": "incremental", "on": "*"}, {"level": "full", "on": "1st sun"}],
            f"{FIELD}[1]",
            "rule '1st sun' (full) never applies: the rules before it take every date",
        ),
        (
            [{"level": "full", "on": "30 feb"}, {"level": "incremental", "on": "*"}],
            f"{FIELD}[0]",
            "rule '30 feb' (full) matches no date",
        ),
    ],
)
def test_bad_rules_are_refused_naming_the_rule(rules: object, field: str, words: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        levels.check_rules(rules, FIELD)
    assert raised.value.field == field
    assert words in raised.value.detail, raised.value.detail
    assert "\n" not in raised.value.message


def test_rule_text_is_shown_on_one_line() -> None:
    with pytest.raises(InvalidInput) as raised:
        levels.check_rules([{"level": "full", "on": "sun\nrm -rf \udcff"}], FIELD)
    assert "rule 'sun\\nrm -rf \\xff' (full): 'rm' is not a word" in raised.value.message


def test_check_rules_normalises_and_is_idempotent() -> None:
    given_rules = [
        {"level": "Full", "on": "1st  SUN"},
        {"level": "differential ", "on": "Sunday"},
        {"level": "incremental", "on": " * "},
    ]
    checked = levels.check_rules(given_rules, FIELD)
    assert checked == [
        {"level": "full", "on": "1st sun"},
        {"level": "differential", "on": "sunday"},
        {"level": "incremental", "on": "*"},
    ]
    assert levels.check_rules(checked, FIELD) == checked


def test_yearly_monthly_and_weekly_fulls_in_one_list() -> None:
    rules = levels.check_rules(
        [
            {"level": "full", "on": "jan 1st sun"},
            {"level": "differential", "on": "1st sun"},
            {"level": "incremental", "on": "*"},
        ],
        FIELD,
    )
    assert levels.level_on(rules, date(2027, 1, 3)) == "full"
    assert levels.level_on(rules, date(2027, 2, 7)) == "differential"
    assert levels.level_on(rules, date(2027, 2, 14)) == "incremental"


def test_level_on_gives_the_first_matching_rule() -> None:
    rules = levels.check_rules(GFS, FIELD)
    got = {date(2026, 3, day): levels.level_on(rules, date(2026, 3, day)) for day in range(1, 9)}
    assert got == {
        date(2026, 3, 1): "full",
        **{date(2026, 3, day): "incremental" for day in range(2, 8)},
        date(2026, 3, 8): "differential",
    }
    assert levels.rule_on(rules, date(2026, 3, 15)) == {"level": "differential", "on": "sun"}


def test_level_on_refuses_rules_that_give_no_level() -> None:
    with pytest.raises(InvalidInput, match="no rule gives a level to 2026-03-02"):
        levels.level_on([{"level": "full", "on": "sun"}], date(2026, 3, 2))


def test_the_coverage_years_hold_every_calendar() -> None:
    kinds = {
        (date(year, 1, 1).weekday(), calendar.isleap(year))
        for year in range(levels.FIRST_YEAR, levels.LAST_YEAR + 1)
    }
    assert len(kinds) == 14


@pytest.mark.parametrize(
    ("text", "rules"),
    [
        (
            "full: 1st sun; differential: sun; incremental: *",
            GFS,
        ),
        ("full: *;", [{"level": "full", "on": "*"}]),
        (
            " FULL : jan 1st sun ; incremental : * ",
            [{"level": "full", "on": "jan 1st sun"}, {"level": "incremental", "on": "*"}],
        ),
    ],
)
def test_parse_shorthand(text: str, rules: list) -> None:
    assert levels.parse_shorthand(text) == rules


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        ("full 1st sun", "--levels", "'full 1st sun' is not LEVEL: DATES"),
        ("full: sun;; incremental: *", "--levels", "'' is not LEVEL: DATES"),
        ("", "--levels", "'' is not LEVEL: DATES"),
        ("weekly: sun; incremental: *", "--levels[0]", "level 'weekly' is not valid"),
        ("full: sun", "--levels", "no rule gives a level to Mon 2001-01-01"),
    ],
)
def test_parse_shorthand_refuses(text: str, field: str, words: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        levels.parse_shorthand(text)
    assert raised.value.field == field
    assert words in raised.value.detail


# --------------------------------------------------------------------------- reference

WEEKDAY_NAMES = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
MONTH_NAMES = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
FULL_WEEKDAYS = [name.lower() for name in calendar.day_name]
FULL_MONTHS = [name.lower() for name in calendar.month_name[1:]]


def _span(low: int, high: int, size: int) -> list[int]:
    """The positions low..high (0-based) in a cycle of `size`, wrapping."""
    return [(low + step) % size for step in range((high - low) % size + 1)]


@st.composite
def structured_rules(draw: st.DrawFn) -> tuple[str, dict]:
    """A rule's text (in random spellings, terms in a random order) and what it means."""
    meaning: dict = {}
    terms: list[str] = []

    def names(kind: str, size: int, short: list[str], long: list[str]) -> None:
        items, chosen = [], set()
        for _ in range(draw(st.integers(1, 3))):
            low = draw(st.integers(0, size - 1))
            spell = draw(st.sampled_from([short, long]))
            if draw(st.booleans()):
                high = draw(st.integers(0, size - 1))
                items.append(f"{spell[low]}-{spell[high]}")
                chosen.update(_span(low, high, size))
            else:
                items.append(spell[low])
                chosen.add(low)
        meaning[kind] = chosen
        terms.append(",".join(items))

    if draw(st.booleans()):
        names("months", 12, MONTH_NAMES, FULL_MONTHS)
    if draw(st.booleans()):
        days = draw(st.lists(st.sampled_from([*range(1, 32), "last"]), min_size=1, max_size=3))
        if set(days) == {"last"}:
            days.append(31)  # 'last' alone before a weekday is an ordinal (tested above)
        meaning["days"] = set(days)
        terms.append(",".join(str(day) for day in days))
    weekday_term = None
    if draw(st.booleans()):
        names("weekdays", 7, WEEKDAY_NAMES, FULL_WEEKDAYS)
        weekday_term = terms.pop()
    order = draw(st.permutations(terms))
    if weekday_term is not None:
        unit = weekday_term
        if draw(st.booleans()):
            ordinals = draw(
                st.lists(
                    st.sampled_from(["1st", "2nd", "3rd", "4th", "5th", "last"]),
                    min_size=1,
                    max_size=4,
                )
            )
            meaning["ordinals"] = set(ordinals)
            unit = f"{','.join(ordinals)} {weekday_term}"
        order = [*order, unit]
        order = draw(st.permutations(order))
    text = " ".join(order) or "*"
    if draw(st.booleans()):
        text = text.upper()
    return text, meaning


def _reference(meaning: dict, day: date) -> bool:
    """Whether `day` matches, the plain way: count the weekdays of the month, look ahead."""
    if "months" in meaning and day.month - 1 not in meaning["months"]:
        return False
    if "weekdays" in meaning and day.weekday() not in meaning["weekdays"]:
        return False
    last_day = (day + timedelta(days=1)).month != day.month
    if "days" in meaning and day.day not in meaning["days"]:
        if not ("last" in meaning["days"] and last_day):
            return False
    if "ordinals" in meaning:
        nth = sum(
            1
            for earlier in range(1, day.day + 1)
            if date(day.year, day.month, earlier).weekday() == day.weekday()
        )
        words = {1: "1st", 2: "2nd", 3: "3rd", 4: "4th", 5: "5th"}
        last = (day + timedelta(days=7)).month != day.month
        if words[nth] not in meaning["ordinals"] and not ("last" in meaning["ordinals"] and last):
            return False
    return True


dates = st.dates(min_value=date(1970, 1, 1), max_value=date(2199, 12, 31))


@settings(max_examples=300, deadline=None)
@given(structured_rules(), st.lists(dates, min_size=20, max_size=20))
def test_a_rule_agrees_with_the_reference(rule: tuple[str, dict], days: list[date]) -> None:
    text, meaning = rule
    parsed = levels.parse_rule("full", text)
    for day in days:
        assert parsed.matches(day) is _reference(meaning, day), (text, day)


@settings(max_examples=100, deadline=None)
@given(st.lists(structured_rules(), min_size=1, max_size=4), dates)
def test_level_on_agrees_with_the_reference(rules: list, day: date) -> None:
    given_rules = [
        {"level": levels.LEVELS[index % 2], "on": text} for index, (text, _) in enumerate(rules)
    ]
    given_rules.append({"level": "incremental", "on": "*"})
    try:
        checked = levels.check_rules(given_rules, FIELD)
    except InvalidInput as error:
        assert "never applies" in error.detail or "matches no date" in error.detail
        return
    expected = next(
        (
            levels.LEVELS[index % 2]
            for index, (_, meaning) in enumerate(rules)
            if _reference(meaning, day)
        ),
        "incremental",
    )
    assert levels.level_on(checked, day) == expected


# --------------------------------------------------------------------------- hostile

WORDS = [
    "*", "sun", "mon", "fri", "sunday", "jan", "dec", "1st", "2nd", "5th", "6th", "last", "1",
    "15", "31", "32", "0", "-", ",", " ", "mon-fri", "nov-feb", "1-7", "25-5", "x", "\n",
    "\udcff", "٣", "²", "İ", "9" * 30,
]  # fmt: skip
rule_texts = st.one_of(
    st.lists(st.sampled_from(WORDS), max_size=8).map("".join),
    st.lists(st.sampled_from(WORDS), max_size=8).map(" ".join),
    st.text(max_size=40),
)


def _mutate(text: str, data: st.DataObject) -> str:
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(text)))
        how = data.draw(st.sampled_from(["drop", "insert", "swap"]))
        piece = data.draw(st.sampled_from([*WORDS, "a", "7", "-", ","]))
        if how == "drop":
            text = text[:at] + text[at + 1 :]
        elif how == "insert":
            text = text[:at] + piece + text[at:]
        else:
            text = text[:at] + piece + text[at + len(piece) :]
    return text


def _refused_or_sound(value: object) -> None:
    try:
        checked = levels.check_rules(value, FIELD)
    except InvalidInput as error:
        assert "\n" not in error.message and error.message.startswith(FIELD)
        return
    assert levels.check_rules(checked, FIELD) == checked
    for day in (date(2026, 2, 28), date(2028, 2, 29), date(2031, 12, 31)):
        assert levels.level_on(checked, day) in levels.LEVELS


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([*levels.LEVELS, "Full", "x"]), rule_texts), max_size=4))
def test_random_rule_texts_give_rules_or_one_invalid_input_line(rules: list) -> None:
    value = [{"level": level, "on": text} for level, text in rules]
    _refused_or_sound([*value, {"level": "incremental", "on": "*"}])
    _refused_or_sound(value)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_mutated_rule_texts_give_rules_or_one_invalid_input_line(data: st.DataObject) -> None:
    texts = ["1st sun", "jan 1st sun", "mon-fri", "last fri", "nov-feb 1,15,last", "*"]
    text = _mutate(data.draw(st.sampled_from(texts)), data)
    _refused_or_sound([{"level": "full", "on": text}, {"level": "incremental", "on": "*"}])


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        json_values,
        st.lists(st.dictionaries(st.sampled_from(["level", "on", "at"]), json_values), max_size=4),
    )
)
def test_any_json_value_gives_rules_or_one_invalid_input_line(value: object) -> None:
    _refused_or_sound(value)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=60), st.lists(rule_texts, max_size=4).map(";".join)))
def test_random_shorthands_give_rules_or_one_invalid_input_line(text: str) -> None:
    try:
        rules = levels.parse_shorthand(text)
    except InvalidInput as error:
        assert "\n" not in error.message and error.message.startswith("--levels")
        return
    assert levels.check_rules(rules) == rules


def test_planned_reads_the_rules_on_the_runs_date_in_the_tasks_zone_else_task_type() -> None:
    from datetime import UTC, datetime

    rules = levels.check_rules(
        [{"level": "full", "on": "1st sun"}, {"level": "incremental", "on": "*"}]
    )
    # Sat 2027-01-02 16:00 UTC is Sun 2027-01-03 01:00 in Tokyo: that Sunday's full.
    saturday_in_utc = datetime(2027, 1, 2, 16, 0, tzinfo=UTC)
    assert levels.planned({"levels": rules}, saturday_in_utc, "Asia/Tokyo") == ("full", "1st sun")
    assert levels.planned({"levels": rules}, saturday_in_utc, "UTC") == ("incremental", "*")
    assert levels.planned({"task_type": "differential"}, saturday_in_utc, "UTC") == (
        "differential",
        None,
    )
    assert levels.planned({}, saturday_in_utc, "UTC") == ("full", None)
