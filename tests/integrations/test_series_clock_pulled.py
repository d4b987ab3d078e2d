"""A series put on another clock on the phone at the same instants keeps those instants in the
helpdesk (review 8 F2).
Expected occurrences by dateutil (`expanded`) and recurring-ical-events (`phone_view`)."""

from datetime import UTC, datetime

import pytest

from tests.integrations.shared_scenarios import sync
from tests.integrations.test_series_move_meets_exceptions import (
    AMS,
    HOUR,
    NEW_YORK,
    expanded,
    helpdesk_view,
    phone_view,
    synced_series,
)

pytestmark = pytest.mark.django_db


def test_phone_changes_only_the_zone_of_a_series_keeping_its_instants(
    alice_calendar, alice_phone, django_capture_on_commit_callbacks
):
    """The phone re-saves the series on New York's clock at the same instants (03:00 there) and
    renames it: the helpdesk must not keep 09:00 on the new clock (14:00Z, six hours off)."""
    first = datetime(2027, 1, 4, 9, tzinfo=AMS)  # 08:00Z
    rule = "FREQ=WEEKLY;COUNT=4"
    series, marker = synced_series(
        alice_calendar, django_capture_on_commit_callbacks, rule=rule, first=first, length=HOUR, subject="Weekly call"
    )
    moved = first.astimezone(NEW_YORK)  # 03:00 New York: the same instant
    alice_phone.edit(marker, dtstart=moved, dtend=moved + HOUR, summary="Weekly call (New York)")
    sync(alice_calendar)

    expected = expanded(rule, moved, HOUR)
    assert phone_view(alice_phone, marker) == expected
    assert helpdesk_view(series) == expected


# Task times, fault 3: the readers mark a zone they named (RemoteEvent.zone_named); the engine takes
# a pulled change of a series' clock only from a named one, UTC written as such included.
SPRING = datetime(2027, 3, 15, 9, tzinfo=AMS)  # Mondays over Amsterdam's change of 28 March 2027
SPRING_RULE = "FREQ=WEEKLY;COUNT=4"


def _spring_series(alice_calendar, capture):
    """The weekly hour from SPRING by SPRING_RULE on Amsterdam's clock, synced: (series, marker)."""
    return synced_series(alice_calendar, capture, rule=SPRING_RULE, first=SPRING, length=HOUR, subject="Weekly call")


def test_phone_moves_a_series_onto_utc_and_the_helpdesk_follows_that_clock(
    alice_calendar, alice_phone, django_capture_on_commit_callbacks
):
    """DTSTART re-saved an hour later in UTC form (RFC 5545 3.3.5 form #2: a real clock, UTC), 09:00Z:
    every Monday is 09:00Z, also after Amsterdam's change (10:00 there would be 08:00Z). The reader
    named UTC, so the engine takes it (it took no "UTC" before: that string was also the readers'
    fallback for a zone they could not name)."""
    series, marker = _spring_series(alice_calendar, django_capture_on_commit_callbacks)
    moved = SPRING.astimezone(UTC) + HOUR
    alice_phone.edit(marker, dtstart=moved, dtend=moved + HOUR, summary="Weekly call (UTC)")
    sync(alice_calendar)

    expected = expanded(SPRING_RULE, moved, HOUR)
    assert phone_view(alice_phone, marker) == expected
    assert helpdesk_view(series) == expected
    series.schedule.refresh_from_db()
    assert str(series.schedule.time_zone) in ("UTC", "Etc/UTC")


def test_phone_writes_a_series_start_floating_and_the_series_keeps_its_clock(
    alice_calendar, alice_phone, django_capture_on_commit_callbacks
):
    """A floating DTSTART (no TZID, RFC 5545 3.3.5 form #1) names no zone: read on the technician's
    wall clock (Amsterdam's), the series stays on its own clock and its times."""
    series, marker = _spring_series(alice_calendar, django_capture_on_commit_callbacks)
    floating = SPRING.replace(tzinfo=None)
    alice_phone.edit(marker, dtstart=floating, dtend=floating + HOUR, summary="Weekly call (floating)")
    sync(alice_calendar)

    assert helpdesk_view(series) == expanded(SPRING_RULE, SPRING, HOUR)
    series.schedule.refresh_from_db()
    assert str(series.schedule.time_zone) == "Europe/Amsterdam"


def test_phone_puts_a_series_on_another_named_clock_at_the_same_instants_and_the_helpdesk_follows_it(
    alice_calendar, alice_phone, django_capture_on_commit_callbacks
):
    """DTSTART re-saved on New York's clock at the same instant (04:00 there, 08:00Z) over the weeks
    the two zones' DST differs (New York changes on 14 March, Amsterdam on 28 March 2027): the rule
    repeats on New York's wall clock (RFC 5545 3.3.10), so the Mondays after 28 March are 08:00Z,
    not Amsterdam's 07:00Z."""
    series, marker = _spring_series(alice_calendar, django_capture_on_commit_callbacks)
    moved = SPRING.astimezone(NEW_YORK)
    alice_phone.edit(marker, dtstart=moved, dtend=moved + HOUR, summary="Weekly call (New York)")
    sync(alice_calendar)

    expected = expanded(SPRING_RULE, moved, HOUR)
    assert phone_view(alice_phone, marker) == expected
    assert helpdesk_view(series) == expected
