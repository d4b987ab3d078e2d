"""The one walker of a recurrence rule up to a bound (`calendars.times.rule_starts`) and the
connectors that read a series through it, against independent readings of the same series:
recurring-ical-events expanding the iCalendar text, and dateutil's rrule built by hand on the
series' wall clock (RFC 5545 3.3.10 RRULE values, 3.8.5.3 counted from DTSTART)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import recurring_ical_events
from dateutil.rrule import DAILY, WEEKLY, rrule
from icalendar import Calendar

from calendars.times import rule_starts
from integrations.providers.base import RemoteEvent, RemoteOccurrence
from integrations.providers.exchange.mapping import original_starts as exchange_original_starts
from integrations.providers.graph.mapping import original_starts as graph_original_starts

BERLIN = ZoneInfo("Europe/Berlin")
# Mondays at 09:00 Berlin from 2 March 2026, across the change to summer time on 29 March.
FIRST = datetime(2026, 3, 2, 9, tzinfo=BERLIN)


def expanded(rule: str, *, dtstart: str = "DTSTART;TZID=Europe/Berlin:20260302T090000") -> list[datetime]:
    """The starts recurring-ical-events gives for a series with `rule`, as aware datetimes."""
    text = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:series@test\r\n"
        f"DTSTAMP:20260101T000000Z\r\n{dtstart}\r\nDURATION:PT30M\r\nRRULE:{rule}\r\n"
        "SUMMARY:Stand-up\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    events = recurring_ical_events.of(Calendar.from_ical(text)).between(date(2026, 1, 1), date(2027, 1, 1))
    return sorted(event.decoded("dtstart") for event in events)


@pytest.mark.parametrize(
    "until",
    ["20260413T070000Z", "20260413T090000", "20260413"],
    ids=["UTC", "local time", "date"],
)
def test_rule_starts_repeat_on_the_wall_clock_and_read_every_form_of_until(until):
    """09:00 stays 09:00 Berlin across the DST change (07:00 UTC after, 08:00 before); UNTIL in
    UTC or as a local time ends the series with the 13 April occurrence; as a date (not allowed
    with a timed DTSTART by RFC 5545 3.3.10, written by some clients) it is read as that day's
    midnight, as recurring-ical-events reads it, so 6 April is the last (trial fault 11)."""
    rule = f"FREQ=WEEKLY;BYDAY=MO;UNTIL={until}"

    got = rule_starts(FIRST, [rule], until=datetime(2027, 1, 1, tzinfo=UTC))

    assert got == expanded(rule)
    hours = [8, 8, 8, 8, 7, 7, 7]
    assert [moment.astimezone(UTC).hour for moment in got] == (hours[:-1] if until == "20260413" else hours)
    assert all(moment.tzinfo == BERLIN for moment in got)


def test_rule_starts_bounds_after_excluded_until_included_or_not_and_limit():
    every_day = rrule(DAILY, dtstart=FIRST.replace(tzinfo=None), count=40)  # dateutil on the wall clock
    on_berlin = [moment.replace(tzinfo=BERLIN) for moment in every_day]
    after, until = on_berlin[3], on_berlin[10]

    assert rule_starts(FIRST, ["FREQ=DAILY"], after=after, until=until) == on_berlin[4:11]
    assert rule_starts(FIRST, ["FREQ=DAILY"], after=after, until=until, until_included=False) == on_berlin[4:10]
    assert rule_starts(FIRST, ["FREQ=DAILY"], until=until, limit=3) == on_berlin[:3]
    assert rule_starts(FIRST, ["FREQ=DAILY"], until=until, limit=None) == on_berlin[:11]
    # COUNT runs from DTSTART, whatever the lower bound (RFC 5545 3.3.10).
    assert rule_starts(FIRST, ["FREQ=DAILY;COUNT=5"], after=on_berlin[2], until=on_berlin[30]) == on_berlin[3:5]


def test_rule_starts_of_a_date_series_give_dates():
    start = date(2026, 3, 2)
    want = [day.date() for day in rrule(WEEKLY, dtstart=datetime(2026, 3, 2), until=datetime(2026, 4, 13))]
    assert rule_starts(start, ["RRULE:FREQ=WEEKLY;UNTIL=20260413"], until=date(2026, 12, 31)) == want
    assert want == [day.date() for day in expanded("FREQ=WEEKLY;UNTIL=20260413", dtstart="DTSTART;VALUE=DATE:20260302")]


def test_graph_original_starts_are_the_series_starts_in_utc_before_the_bound():
    series = RemoteEvent(
        start=FIRST.astimezone(UTC),
        end=FIRST.astimezone(UTC) + timedelta(minutes=30),
        time_zone="Europe/Berlin",
        rrules=["FREQ=WEEKLY;BYDAY=MO;UNTIL=20260413T070000Z"],
    )
    want = [moment.astimezone(UTC) for moment in expanded("FREQ=WEEKLY;BYDAY=MO;UNTIL=20260413T070000Z")]

    assert graph_original_starts(series, datetime(2027, 1, 1, tzinfo=UTC)) == want
    # The bound is not included: a start at the bound is left out.
    assert graph_original_starts(series, want[4]) == want[:4]


def test_graph_original_starts_of_a_date_series_are_midnights_on_its_wall_clock():
    series = RemoteEvent(
        start=date(2026, 3, 23),
        end=date(2026, 3, 24),
        all_day=True,
        time_zone="Europe/Berlin",
        rrules=["FREQ=WEEKLY;UNTIL=20260413"],
    )
    days = expanded("FREQ=WEEKLY;UNTIL=20260413", dtstart="DTSTART;VALUE=DATE:20260323")
    want = [datetime(d.year, d.month, d.day, tzinfo=BERLIN).astimezone(UTC) for d in days]

    assert graph_original_starts(series, datetime(2027, 1, 1, tzinfo=UTC)) == want
    assert [moment.hour for moment in want] == [23, 22, 22, 22]  # midnight Berlin: winter, then summer time


def test_exchange_instance_indexes_count_the_series_from_its_first_occurrence():
    """EWS names an occurrence by its 1-based InstanceIndex in the series (MS-OXWSCORE
    OccurrenceItemId): the fifth Monday, after the DST change, is index 5."""
    want = [moment.astimezone(UTC) for moment in expanded("FREQ=WEEKLY;BYDAY=MO;COUNT=10")]
    moved = want[6]
    series = RemoteEvent(
        start=FIRST,
        end=FIRST + timedelta(minutes=30),
        time_zone="Europe/Berlin",
        rrules=["FREQ=WEEKLY;BYDAY=MO;COUNT=10"],
        exdates=[want[4].astimezone(BERLIN)],
        overrides=[
            RemoteOccurrence(
                original_start=moved.astimezone(BERLIN),
                start=moved + timedelta(hours=2),
                end=moved + timedelta(hours=3),
            )
        ],
    )

    starts = exchange_original_starts(series)

    assert starts == {start: index for index, start in enumerate(want[:7], start=1)}
    assert starts[want[4]] == 5
