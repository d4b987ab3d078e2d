"""Only the year the helpdesk keeps counts against a series' cap of starts a year, however long ago
the series began (found while profiling issue 14's import: a daily series begun in 2010 was refused
as "more than 5,000 a year"). The counts are dateutil's."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr
from django.core.exceptions import ValidationError

from calendars import services

AMS = ZoneInfo("Europe/Amsterdam")
SINCE_2010 = datetime(2010, 1, 4, 9, 15, tzinfo=AMS)

# The span counted is the one occurrences are made for, which starts at the import window's start
# (CalendarSettings.import_days_past, 30 by default).
pytestmark = pytest.mark.django_db


def test_a_daily_rule_begun_in_2010_is_accepted():
    local = SINCE_2010.replace(tzinfo=None)
    # dateutil: over 5,000 starts from 2010 up to a year from now, 365 or 366 in any one year.
    assert rrulestr("FREQ=DAILY", dtstart=local).between(local, datetime.now() + timedelta(days=365), inc=True)[5000]

    services.check_rule("RRULE:FREQ=DAILY", start=SINCE_2010, zone=AMS)


def test_a_rule_denser_than_the_cap_is_still_refused_however_old():
    hourly = "FREQ=DAILY;BYHOUR=" + ",".join(str(hour) for hour in range(24))
    local = SINCE_2010.replace(tzinfo=None)
    assert len(rrulestr(hourly, dtstart=local).between(local, local + timedelta(days=365), inc=True)) > 5000

    with pytest.raises(ValidationError, match="more than 5,000 times in a year"):
        services.check_rule("RRULE:" + hourly, start=SINCE_2010, zone=AMS)


THIRTEEN_A_DAY = "FREQ=DAILY;BYHOUR=" + ",".join(str(hour) for hour in range(6, 19))


def _dateutil_count(rule: str, start: datetime, first: datetime, last: datetime) -> int:
    return len(rrulestr(rule, dtstart=start).between(first, last, inc=True))


def test_the_count_against_the_cap_is_of_the_span_whose_occurrences_are_made(alice):
    """Review 14: the cap counted the starts from now to a year ahead, but occurrences are made from
    the import window's start (30 days back) to a year ahead. A series begun 60 days ago with 13
    starts a day has 4,745 in the year ahead (under the cap) but over 5,000 in the span its rows
    are made for: it was let through and made more rows than the cap. Counts: dateutil."""
    now = datetime.now(AMS).replace(microsecond=0)
    start = (now - timedelta(days=60)).replace(hour=6, minute=0, second=0)
    local = start.replace(tzinfo=None)
    year_ahead = _dateutil_count(
        THIRTEEN_A_DAY, local, now.replace(tzinfo=None), (now + timedelta(days=365)).replace(tzinfo=None)
    )
    made_for = _dateutil_count(
        THIRTEEN_A_DAY,
        local,
        (now - timedelta(days=30)).replace(tzinfo=None),
        (now + timedelta(days=365)).replace(tzinfo=None),
    )
    assert year_ahead <= 5000 < made_for

    with pytest.raises(ValidationError, match="more than 5,000 times in a year and the 30 days before it"):
        services.create_recurring_appointment(
            rule="RRULE:" + THIRTEEN_A_DAY,
            agents=[alice],
            subject="Rounds",
            start=start,
            end=start + timedelta(minutes=30),
        )


def test_a_series_let_through_makes_as_many_occurrences_as_were_counted(alice):
    """The same series with 12 starts a day: what the cap counted (`kept_span`, `times.starts_in_span`)
    is what is made, dateutil's count of the import window's start (30 days back, the default
    CalendarSettings.import_days_past) to a year (365 days) ahead."""
    twelve = "FREQ=DAILY;BYHOUR=" + ",".join(str(hour) for hour in range(6, 18))
    now = datetime.now(AMS).replace(microsecond=0)
    start = (now - timedelta(days=60)).replace(hour=6, minute=0, second=0)

    master = services.create_recurring_appointment(
        rule="RRULE:" + twelve, agents=[alice], subject="Rounds", start=start, end=start + timedelta(minutes=30)
    )

    # The span written out, as instants (days of 24 hours from now, whatever the DST changes
    # between), read on the series' wall clock for dateutil: the series began before it.
    now = datetime.now(UTC)
    first, last = now - timedelta(days=30), now + timedelta(days=365)
    expected = _dateutil_count(
        twelve,
        start.replace(tzinfo=None),
        first.astimezone(AMS).replace(tzinfo=None),
        last.astimezone(AMS).replace(tzinfo=None),
    )
    assert master.occurrences.count() == expected
    assert abs(expected - (365 + 30) * 12) <= 12  # a year and 30 days of 12 a day
