"""One list of repeat rules for the two Microsoft connectors (Exchange over EWS, Microsoft 365 over
Graph), which share the RRULE <-> pattern translation (integrations/providers/ms_recurrence.py).

Each case gives the RFC 5545 rule, the same series in Microsoft's words (Graph's recurrencePattern
resource type; EWS's Recurrence element, MS-OXWSCDATA / the EWS schema types), and the right
occurrences are dateutil's expansion of the rule. The suites in exchange/ and graph/ run every case:
writing the rule must give the server dateutil's occurrences; a series Outlook made with the
pattern must read back as a rule whose expansion is the same."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from dateutil.rrule import rrulestr

HOUR = timedelta(hours=1)
YEAR = timedelta(days=365)
# Two first days: a Monday (an occurrence of every rule below) and the Sunday before (an occurrence
# only of the Sunday-and-Monday rule), so a series whose start is not on its pattern is covered too.
FIRSTS = [
    pytest.param(datetime(2026, 12, 7, 9, 0, tzinfo=UTC), id="from-monday"),
    pytest.param(datetime(2026, 12, 6, 9, 0, tzinfo=UTC), id="from-sunday"),
]
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday"]


@dataclass(frozen=True)
class Pattern:
    rule: str
    graph: dict  # Graph recurrencePattern
    ews: dict  # tests.peers.ews.Recurrence fields (EWS schema words)
    why: str = ""


WRITABLE = [
    pytest.param(
        Pattern(
            "FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR",
            {"type": "weekly", "interval": 1, "daysOfWeek": WEEKDAYS, "firstDayOfWeek": "sunday"},
            {
                "pattern": "WeeklyRecurrence",
                "interval": 1,
                "days_of_week": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"],
            },
        ),
        id="every-weekday",  # a weekly pattern, weekends left out
    ),
    pytest.param(
        Pattern(
            "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=1",
            {"type": "relativeMonthly", "interval": 1, "index": "first", "daysOfWeek": WEEKDAYS},
            {"pattern": "RelativeMonthlyRecurrence", "days_of_week": ["Weekday"], "day_of_week_index": "First"},
            "Outlook's 'first weekday of the month', review 2 fault 4",
        ),
        id="first-weekday-of-month",
    ),
    pytest.param(
        Pattern(
            "FREQ=MONTHLY;BYDAY=SA,SU;BYSETPOS=-1",
            {"type": "relativeMonthly", "interval": 1, "index": "last", "daysOfWeek": ["saturday", "sunday"]},
            {"pattern": "RelativeMonthlyRecurrence", "days_of_week": ["WeekendDay"], "day_of_week_index": "Last"},
        ),
        id="last-weekend-day-of-month",
    ),
    pytest.param(
        Pattern(
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=SU,MO;WKST=SU",
            {"type": "weekly", "interval": 2, "daysOfWeek": ["sunday", "monday"], "firstDayOfWeek": "sunday"},
            {
                "pattern": "WeeklyRecurrence",
                "interval": 2,
                "days_of_week": ["Sunday", "Monday"],
                "first_day_of_week": "Sunday",
            },
            "every 2 weeks on Sunday and Monday, weeks from Sunday, review 2 fault 5",
        ),
        id="fortnightly-weeks-from-sunday",
    ),
    pytest.param(
        Pattern(
            "FREQ=YEARLY;BYMONTH=3;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=2",
            {"type": "relativeYearly", "interval": 1, "month": 3, "index": "second", "daysOfWeek": WEEKDAYS},
            {
                "pattern": "RelativeYearlyRecurrence",
                "days_of_week": ["Weekday"],
                "day_of_week_index": "Second",
                "month": "March",
            },
        ),
        id="second-weekday-of-march",
    ),
]

# Graph's relativeMonthly daysOfWeek is a list of days (recurrencePattern resource type); EWS's
# DaysOfWeek of a relative pattern is one DayOfWeekType: a day, Day, Weekday or WeekendDay. So the
# second Monday-or-Wednesday of the month is a Microsoft 365 pattern and no Exchange one.
MONDAY_OR_WEDNESDAY = "FREQ=MONTHLY;BYDAY=MO,WE;BYSETPOS=2"
WRITABLE_ON_GRAPH_ONLY = [
    pytest.param(
        Pattern(
            MONDAY_OR_WEDNESDAY,
            {"type": "relativeMonthly", "interval": 1, "index": "second", "daysOfWeek": ["monday", "wednesday"]},
            {},
        ),
        id="second-monday-or-wednesday-of-month",
    ),
]

# Rules no Microsoft pattern can say, with the words the refusal must name.
REFUSED = [
    ("FREQ=MONTHLY;BYDAY=MO", "every MO of the month"),
    ("FREQ=MONTHLY;BYMONTHDAY=1,15", "BYMONTHDAY"),
    ("FREQ=YEARLY;BYMONTH=1,7", "BYMONTH"),
    ("FREQ=WEEKLY;BYHOUR=9,15", "BYHOUR"),
    ("FREQ=MONTHLY;BYDAY=5FR", "position 5"),
]
REFUSED_BY_EXCHANGE_ONLY = [(MONDAY_OR_WEDNESDAY, "one weekday, every day, weekdays or weekend days")]


def dateutil_starts(rule: str, first: datetime) -> list[datetime]:
    """The right occurrences: dateutil's RFC 5545 expansion of `rule` from `first`, for a year."""
    return list(rrulestr(rule, dtstart=first).between(first - HOUR, first + YEAR, inc=True))
