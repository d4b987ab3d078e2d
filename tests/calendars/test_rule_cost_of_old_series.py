"""Only the year the helpdesk keeps counts against a series' cap of starts a year, however long ago
the series began (found while profiling issue 14's import: a daily series begun in 2010 was refused
as "more than 5,000 a year"). The counts are dateutil's."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr
from django.core.exceptions import ValidationError

from calendars import services

AMS = ZoneInfo("Europe/Amsterdam")
SINCE_2010 = datetime(2010, 1, 4, 9, 15, tzinfo=AMS)


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
