"""A series put on another clock on the phone at the same instants keeps those instants in the
helpdesk (review 8 F2).
Expected occurrences by dateutil (`expanded`) and recurring-ical-events (`phone_view`)."""

from datetime import datetime

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
