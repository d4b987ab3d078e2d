"""RRULE -> Exchange recurrence patterns through the translation Microsoft 365 shares (review 2,
faults 4 and 6). The right occurrences come from dateutil's RFC 5545 expansion; the peer expands
what Exchange holds by the EWS recurrence schema (Weekday = Monday to Friday, DayOfWeekIndex)."""

from datetime import UTC, datetime, timedelta

import pytest
from dateutil.rrule import rrulestr

from integrations.providers.base import ProviderError, RemoteEvent

from .conftest import ALICE

HOUR = timedelta(hours=1)
FIRST = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # a Monday
YEAR = timedelta(days=365)


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR",  # every weekday, weekends left out
        "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=1",  # the first weekday of the month
        "FREQ=MONTHLY;BYDAY=SA,SU;BYSETPOS=-1",  # the last weekend day of the month
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=SU,MO;WKST=SU",
    ],
)
def test_a_helpdesk_series_is_written_to_exchange_with_the_occurrences_its_rule_gives(provider, calendar, ews, rule):
    event = RemoteEvent(start=FIRST, end=FIRST + HOUR, subject="Rota", rrules=[rule], time_zone="UTC")

    provider.create(calendar, event)

    shown = sorted(entry.start for entry in ews.calendar_view(ALICE, FIRST - HOUR, FIRST + YEAR + HOUR))
    assert shown == list(rrulestr(rule, dtstart=FIRST).between(FIRST - HOUR, FIRST + YEAR + HOUR, inc=True))


@pytest.mark.parametrize(
    ("rule", "named"),
    [
        ("FREQ=MONTHLY;BYDAY=MO", "every MO of the month"),
        ("FREQ=MONTHLY;BYMONTHDAY=1,15", "BYMONTHDAY"),
        ("FREQ=YEARLY;BYMONTH=1,7", "BYMONTH"),
        ("FREQ=MONTHLY;BYDAY=MO,WE;BYSETPOS=2", "one weekday, every day, weekdays or weekend days"),
    ],
)
def test_a_rule_no_exchange_pattern_says_is_refused_with_its_reason(provider, calendar, ews, rule, named):
    event = RemoteEvent(start=FIRST, end=FIRST + HOUR, subject="Rota", rrules=[rule], time_zone="UTC")

    with pytest.raises(ProviderError, match="Exchange cannot hold") as refused:
        provider.create(calendar, event)

    assert named in str(refused.value)
    assert ews.calendar_view(ALICE, FIRST - HOUR, FIRST + YEAR) == []
