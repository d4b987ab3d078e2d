"""`rule_shift.shifted_rule`: a series' rule moved with its first start by some days. Oracle:
dateutil's expansion of the rule before the move, shifted by the move, equals its expansion of
the rewritten rule from the new start (the series moves as a whole, as Outlook and Google move it)."""

from datetime import datetime, timedelta

import pytest
import recurrence as recurrence_lib
from dateutil.rrule import rrulestr
from django.core.exceptions import ValidationError

from calendars.rule_shift import shifted_rule

CASES = {
    # rule, first start, new start
    "weekly, two days, a day later": ("FREQ=WEEKLY;COUNT=8;BYDAY=MO,WE", datetime(2027, 3, 1, 9), 1),
    "fortnightly Sat+Sun, a day later (WKST moves)": (
        "FREQ=WEEKLY;INTERVAL=2;COUNT=8;BYDAY=SA,SU",
        datetime(2027, 3, 6, 9),
        1,
    ),
    "weekly Monday, three days earlier": ("FREQ=WEEKLY;COUNT=6;BYDAY=MO", datetime(2027, 3, 8, 9), -3),
    "monthly day 29 to day 30": ("FREQ=MONTHLY;COUNT=12;BYMONTHDAY=29", datetime(2027, 1, 29, 9), 1),
    "monthly day 3 to day 1": ("FREQ=MONTHLY;COUNT=12;BYMONTHDAY=3", datetime(2027, 1, 3, 9), -2),
    "monthly second Tuesday, a week later": ("FREQ=MONTHLY;COUNT=12;BYDAY=2TU", datetime(2027, 1, 12, 9), 7),
    "yearly 10 May to 12 June": ("FREQ=YEARLY;COUNT=5;BYMONTH=5;BYMONTHDAY=10", datetime(2027, 5, 10, 9), 33),
}


def expand(rule: recurrence_lib.Recurrence | str, first: datetime) -> list[datetime]:
    text = rule if isinstance(rule, str) else recurrence_lib.serialize(rule)
    return list(rrulestr(text, dtstart=first))


@pytest.mark.parametrize(("rule", "first", "days"), CASES.values(), ids=CASES.keys())
def test_the_shifted_rule_gives_every_start_shifted_by_the_same_days(rule, first, days):
    parsed = recurrence_lib.deserialize("RRULE:" + rule, include_dtstart=False)
    after = first + timedelta(days=days)

    moved = shifted_rule(parsed, first.date(), after.date())

    assert expand(moved, after) == [start + timedelta(days=days) for start in expand(rule, first)]


def test_last_friday_moved_a_day_earlier_is_last_thursday():
    """What Outlook does with "the last Friday" moved to a Thursday (RFC 5545: -1TH)."""
    parsed = recurrence_lib.deserialize("RRULE:FREQ=MONTHLY;BYDAY=-1FR", include_dtstart=False)

    moved = shifted_rule(parsed, datetime(2027, 1, 29).date(), datetime(2027, 1, 28).date())

    assert recurrence_lib.serialize(moved) == "RRULE:FREQ=MONTHLY;BYDAY=-1TH"


def test_several_days_of_the_month_shifted_past_the_month_are_refused_with_a_message():
    parsed = recurrence_lib.deserialize("RRULE:FREQ=MONTHLY;BYMONTHDAY=28,31", include_dtstart=False)

    with pytest.raises(ValidationError, match="day 31 of the month"):
        shifted_rule(parsed, datetime(2027, 1, 28).date(), datetime(2027, 1, 31).date())
