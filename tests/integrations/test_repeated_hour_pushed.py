"""Trial 2 fault N2 on CalDAV: a time in the repeated hour of the autumn change (the second 02:30
of 31 Oct 2027 in Europe/Amsterdam) is pushed in UTC form, since RFC 5545 3.3.5 reads
`DTSTART;TZID=Europe/Amsterdam:20271031T023000` as the FIRST 02:30. Read back from Radicale by
recurring-ical-events, an independent reader, the entry has the instants the helpdesk holds."""

from datetime import UTC, datetime, timedelta

import icalendar
import pytest
import recurring_ical_events

from integrations.models import SyncLink
from tests.repeated_hour import CASES, kept_after_an_edit_elsewhere, night_job

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("case", CASES)
def test_a_time_in_the_repeated_hour_reaches_caldav_as_its_own_instant(
    case, alice_calendar, alice_phone, django_capture_on_commit_callbacks
):
    start, end, start_utc, end_utc = CASES[case]
    # The offsets are the ones the API takes (+02:00 before the change, +01:00 after it).
    assert start.astimezone(UTC) == start_utc and end.astimezone(UTC) == end_utc
    appointment = night_job(case, alice_calendar.agent, django_capture_on_commit_callbacks)

    marker = SyncLink.objects.get(appointment=appointment).marker
    text = alice_phone.by_uid(marker).data
    shown = recurring_ical_events.of(icalendar.Calendar.from_ical(text)).between(
        datetime(2027, 10, 30), datetime(2027, 11, 2)
    )
    assert [(e.decoded("dtstart").astimezone(UTC), e.decoded("dtend").astimezone(UTC)) for e in shown] == [
        (start_utc, end_utc)
    ]
    assert end_utc - start_utc in (timedelta(hours=1), timedelta(hours=2))


@pytest.mark.parametrize("case", CASES)
def test_a_phone_edit_of_another_field_keeps_the_repeated_hour_entry_length(
    case, alice_calendar, alice_phone, django_capture_on_commit_callbacks
):
    # Trial 2 N2's second half: adding a location on the phone must not bring back an hour-early time.
    appointment = night_job(case, alice_calendar.agent, django_capture_on_commit_callbacks)
    marker = SyncLink.objects.get(appointment=appointment).marker
    kept_after_an_edit_elsewhere(
        case, appointment, alice_calendar, lambda: alice_phone.edit(marker, location="Server room")
    )
