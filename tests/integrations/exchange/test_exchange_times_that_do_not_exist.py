"""An EWS entry whose t:Start or t:End is no time that exists is refused naming the value, as the
CalDAV, Google and Graph connectors name theirs (`base.no_such_time`, trial 6). exchangelib answers
None for an xs:dateTime it cannot read and keeps no text, so the refusal named the field only.

Expected values: XML Schema 1.1 Part 2, 3.3.7 (xs:dateTime, EWS's type for t:Start and t:End, MS-OXWS
2.2.4.3): hour 00-23 (24 only as 24:00:00), a day the month has, a year up to 9999 in Python's range;
the texts below break exactly one of those. Through the real exchangelib against the local EWS peer."""

import logging
import re
from datetime import timedelta

import pytest

from integrations.providers.base import UnreadableEntry

from .conftest import ALICE
from .test_exchange_provider import next_monday


@pytest.mark.parametrize(
    ("field", "text"),
    [
        ("Start", "{day}T25:00:00Z"),  # hour 25
        ("End", "2027-02-30T10:00:00Z"),  # 30 February
        ("Start", "10000-01-01T00:00:00Z"),  # a year past 9999
    ],
    ids=["hour-25", "30-february", "year-10000"],
)
def test_an_entry_whose_time_does_not_exist_is_named_unreadable_with_its_value(
    provider, calendar, ews, window, field, text
):
    start = next_monday(9)
    item_id = ews.outlook_create(ALICE, subject="Site visit", start=start, end=start + timedelta(hours=1))
    kept = ews.outlook_create(
        ALICE, subject="Other visit", start=start + timedelta(days=1), end=start + timedelta(days=1, hours=1)
    )
    sent = text.format(day=start.date().isoformat())
    ews.send_times_as(ALICE, item_id, **{field: sent})

    page = provider.list_changes(calendar, None, window)

    assert f"its {field} {sent!r} is not a date or time that exists" in page.unreadable[item_id]
    assert [event.remote_id for event in page.changed] == [kept]


def test_a_start_past_the_years_python_reads_after_its_offset_is_named_with_its_value(provider, calendar, ews, window):
    """9999-12-31T23:30:00-01:00 is 10000-01-01T00:30Z: exchangelib raises reading it (its UTC value
    is past datetime's range) instead of answering None, which ends its reading of the whole answer
    (so the pull stops here, as before); the refusal now names the text too."""
    start = next_monday(9)
    item_id = ews.outlook_create(ALICE, subject="Site visit", start=start, end=start + timedelta(hours=1))
    ews.send_times_as(ALICE, item_id, Start="9999-12-31T23:30:00-01:00")

    with pytest.raises(UnreadableEntry, match=re.escape("its Start '9999-12-31T23:30:00-01:00' is not a date or")):
        provider.list_changes(calendar, None, window)


def test_reading_the_values_leaves_exchangelibs_logger_as_it_was(provider, calendar, ews, window):
    """The client lowers exchangelib.fields' level to INFO while it parses (the level of the line
    that holds the value) and puts it back: no filter stays, the level is the one set before."""
    log = logging.getLogger("exchangelib.fields")
    level, filters = log.level, list(log.filters)
    start = next_monday(9)
    item_id = ews.outlook_create(ALICE, subject="Site visit", start=start, end=start + timedelta(hours=1))
    ews.send_times_as(ALICE, item_id, Start=f"{start.date().isoformat()}T25:00:00Z")

    provider.list_changes(calendar, None, window)

    assert (log.level, log.filters) == (level, filters)
