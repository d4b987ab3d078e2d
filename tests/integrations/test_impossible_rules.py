"""A repeat rule no day can meet (found by the long fuzz campaign, issue 11): dateutil checks UNTIL
only on a start it found, so such a rule is walked to the year 9999 wherever the walk is meant to
stop (17 s for FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30, longer for finer ones), in every walk the
import makes. The entry check refuses it by name, in every connector's parser, at the cost of one
400-year cycle. The right answers come from dateutil itself, walked in full."""

import itertools
from datetime import datetime

import pytest
from dateutil.rrule import rrulestr

from integrations.providers.base import UnreadableEntry, gives_a_date
from integrations.providers.caldav import read_event

# Rare but possible: dateutil finds a start (checked below, from 2026).
POSSIBLE = [
    "FREQ=WEEKLY;BYDAY=MO",
    "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",
    "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO",  # a Monday 29 February: 2044
    "FREQ=MONTHLY;BYMONTH=2;BYDAY=5MO",  # a fifth Monday in February: 2044
    "FREQ=MONTHLY;BYDAY=-5FR",
    "FREQ=YEARLY;BYYEARDAY=366",
    "FREQ=YEARLY;BYWEEKNO=53;BYDAY=TH",
    "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
    "FREQ=DAILY;BYHOUR=9,17;BYSETPOS=2",
    "FREQ=HOURLY;INTERVAL=5;BYMONTH=2;BYMONTHDAY=29",
]
# Impossible: cheap enough for dateutil to walk in full here (a coarse period, or a short span).
IMPOSSIBLE_CHECKED = [
    "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
    "FREQ=YEARLY;BYMONTH=4;BYMONTHDAY=31",
    "FREQ=MONTHLY;BYMONTH=2;BYDAY=6MO",
    "FREQ=MONTHLY;BYDAY=MO;BYSETPOS=6",
    "FREQ=WEEKLY;BYDAY=MO;BYSETPOS=2",
]
# The fuzz campaign's kind, too slow for dateutil to walk here (minutes each).
IMPOSSIBLE_SLOW = [
    "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",
    "FREQ=MINUTELY;BYMONTH=11;BYMONTHDAY=31",
    "FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=30",
    "FREQ=DAILY;BYHOUR=9;BYSETPOS=2",
]


def dateutil_first(rule: str):
    return next(iter(rrulestr(rule, dtstart=datetime(2026, 1, 1, 9))), None)


@pytest.mark.parametrize("rule", POSSIBLE)
def test_a_rare_rule_gives_a_date_as_dateutil_finds(rule):
    assert dateutil_first(rule) is not None
    assert gives_a_date(rule)


@pytest.mark.parametrize("rule", IMPOSSIBLE_CHECKED)
def test_an_impossible_rule_gives_no_date_as_dateutil_finds(rule):
    assert dateutil_first(rule) is None
    assert not gives_a_date(rule)


@pytest.mark.parametrize("rule", IMPOSSIBLE_CHECKED + IMPOSSIBLE_SLOW)
def test_an_entry_with_an_impossible_rule_is_refused_by_name(rule):
    text = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//EN\r\nBEGIN:VEVENT\r\nUID:never\r\n"
        f"DTSTART:20261201T090000Z\r\nDTEND:20261201T100000Z\r\nRRULE:{rule}\r\nSUMMARY:Never\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    with pytest.raises(UnreadableEntry, match="never gives a date"):
        read_event(text, remote_id="/cal/never.ics")


@pytest.mark.parametrize("interval", ["0", "00", "-1", "x", "", "²"])
def test_an_interval_that_is_not_a_positive_whole_number_is_refused_by_name(interval):
    """RFC 5545 3.3.10: INTERVAL is a positive integer. dateutil reads INTERVAL=0 and gives the
    same start for ever (checked here): a walk that collects starts up to a date never ends."""
    if interval == "0":
        repeats = rrulestr("FREQ=YEARLY;INTERVAL=0", dtstart=datetime(2026, 1, 1))
        assert len(set(itertools.islice(repeats, 50))) == 1
    text = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//EN\r\nBEGIN:VEVENT\r\nUID:same\r\n"
        "DTSTART:20261201T090000Z\r\nDTEND:20261201T100000Z\r\n"
        f"RRULE:FREQ=DAILY;INTERVAL={interval};UNTIL=20270101T000000Z\r\nSUMMARY:Same\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    with pytest.raises(UnreadableEntry, match=r"INTERVAL|cannot be read"):
        read_event(text, remote_id="/cal/same.ics")


def test_a_positive_interval_is_read():
    assert read_event(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//EN\r\nBEGIN:VEVENT\r\nUID:two\r\n"
        "DTSTART:20261201T090000Z\r\nDTEND:20261201T100000Z\r\nRRULE:FREQ=WEEKLY;INTERVAL=2\r\n"
        "SUMMARY:Every other week\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        remote_id="/cal/two.ics",
    ).rrules == ["FREQ=WEEKLY;INTERVAL=2"]
