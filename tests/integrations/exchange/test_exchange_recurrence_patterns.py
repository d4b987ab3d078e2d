"""RRULE <-> Exchange recurrence patterns through the translation Microsoft 365 shares (review 2,
faults 4, 5 and 6). The cases are tests/integrations/microsoft_patterns.py; the right occurrences
come from dateutil's RFC 5545 expansion; the peer expands what Exchange holds by the EWS recurrence
schema (Weekday = Monday to Friday, DayOfWeekIndex)."""

import pytest

from integrations.providers.base import ProviderError, RemoteEvent, RemoteRef
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
