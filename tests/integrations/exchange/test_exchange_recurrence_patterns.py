"""RRULE <-> Exchange recurrence patterns through the translation Microsoft 365 shares (review 2,
faults 4, 5 and 6). The cases are tests/integrations/microsoft_patterns.py; the right occurrences
come from dateutil's RFC 5545 expansion; the peer expands what Exchange holds by the EWS recurrence
schema (Weekday = Monday to Friday, DayOfWeekIndex)."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr

from integrations.providers.base import ProviderError, RemoteEvent, RemoteRef, Window
from tests.integrations.microsoft_patterns import (
    FIRSTS,
    HOUR,
    REFUSED,
    REFUSED_BY_EXCHANGE_ONLY,
    WRITABLE,
    YEAR,
    dateutil_starts,
)
from tests.peers.ews import Recurrence

from .conftest import ALICE


def _server_starts(ews, first) -> list:
    return sorted(entry.start for entry in ews.calendar_view(ALICE, first - HOUR, first + YEAR + HOUR))


@pytest.mark.parametrize("first", FIRSTS)
@pytest.mark.parametrize("case", WRITABLE)
def test_a_helpdesk_series_is_written_to_exchange_with_the_occurrences_its_rule_gives(
    provider, calendar, ews, case, first
):
    event = RemoteEvent(start=first, end=first + HOUR, subject="Rota", rrules=[case.rule], time_zone="UTC")

    ref = provider.create(calendar, event)

    assert _server_starts(ews, first) == dateutil_starts(case.rule, first)
    read = provider.get(calendar, RemoteRef(ref.remote_id))
    assert read.exdates == []
    assert dateutil_starts(read.rrules[0], first) == dateutil_starts(case.rule, first)


@pytest.mark.parametrize("first", FIRSTS)
@pytest.mark.parametrize("case", WRITABLE)
def test_an_outlook_series_reads_with_the_occurrences_outlook_shows_and_none_cancelled(
    provider, calendar, ews, case, first
):
    recurrence = Recurrence(**case.ews, start_date=first.date())
    item_id = ews.outlook_create(
        ALICE, subject=case.why or case.rule, start=first, end=first + HOUR, time_zone="UTC", recurrence=recurrence
    )

    event = provider.get(calendar, RemoteRef(item_id))

    assert event.exdates == []
    assert dateutil_starts(event.rrules[0], event.start) == dateutil_starts(case.rule, first)


@pytest.mark.parametrize(("rule", "named"), REFUSED + REFUSED_BY_EXCHANGE_ONLY)
def test_a_rule_no_exchange_pattern_says_is_refused_with_its_reason(provider, calendar, ews, rule, named):
    first = FIRSTS[0].values[0]
    event = RemoteEvent(start=first, end=first + HOUR, subject="Rota", rrules=[rule], time_zone="UTC")

    with pytest.raises(ProviderError, match="Exchange cannot hold") as refused:
        provider.create(calendar, event)

    assert named in str(refused.value)
    assert ews.calendar_view(ALICE, first - HOUR, first + YEAR) == []


AMSTERDAM = ZoneInfo("Europe/Amsterdam")


@pytest.mark.parametrize(
    ("first", "recurrence"),
    [
        (
            date(2027, 3, 6),
            Recurrence(
                "RelativeYearlyRecurrence", days_of_week=["WeekendDay"], day_of_week_index="First", month="March"
            ),
        ),
        (
            date(2027, 1, 29),
            Recurrence("RelativeMonthlyRecurrence", interval=2, days_of_week=["Weekday"], day_of_week_index="Last"),
        ),
        (
            date(2027, 1, 11),
            Recurrence("RelativeMonthlyRecurrence", days_of_week=["Monday"], day_of_week_index="Second"),
        ),
        (date(2027, 3, 15), Recurrence("AbsoluteYearlyRecurrence", day_of_month=15, month="March")),
        (
            date(2027, 1, 3),
            Recurrence(
                "WeeklyRecurrence",
                interval=2,
                days_of_week=["Sunday", "Tuesday"],
                first_day_of_week="Sunday",
                range="EndDateRecurrence",
                end_date=date(2027, 6, 30),
            ),
        ),
        (date(2027, 1, 4), Recurrence("DailyRecurrence", interval=3, range="NumberedRecurrence", count=5)),
    ],
)
def test_an_outlook_series_is_read_as_a_rule_giving_the_occurrences_outlook_shows(
    provider, calendar, ews, window, first, recurrence
):
    # Read through ms_recurrence, the translation Microsoft 365 shares; the right occurrences are the
    # ones the local Exchange shows, and the rule read must give them under dateutil (RFC 5545).
    start = datetime(first.year, first.month, first.day, 9, tzinfo=AMSTERDAM)
    ews.outlook_create(ALICE, subject="Outlook rota", start=start, end=start + HOUR, recurrence=recurrence)
    span = (start - HOUR, start + 2 * YEAR)

    page = provider.list_changes(calendar, None, Window(*span))
    assert page.unreadable == {}
    (event,) = page.changed

    shown = sorted(entry.start for entry in ews.calendar_view(ALICE, *span))
    expanded = rrulestr(event.rrules[0], dtstart=event.start).between(*span, inc=True)
    assert [moment.astimezone(UTC) for moment in expanded] == [moment.astimezone(UTC) for moment in shown]
