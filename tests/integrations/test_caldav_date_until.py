"""Trial fault 11: a timed series whose RRULE ends on a DATE (`UNTIL=20270329` on a DTSTART with a
TZID), which RFC 5545 3.3.10 does not allow but some clients write. dateutil and
recurring-ical-events read that UNTIL as the day's midnight (no occurrence on 29 Mar); the helpdesk
counted the whole day and booked the technician on the 29th, which her phone does not show.
Expected values: recurring-ical-events on the object as stored on Radicale, and dateutil."""

from datetime import UTC, datetime

import icalendar
import pytest
import recurring_ical_events
from dateutil.rrule import rrulestr
from django.utils import timezone

from calendars.models import Appointment
from integrations.models import SyncLogEntry
from integrations.sync import engine
from tests.integrations.importing import start_importing
from tests.repeated_hour import AMS

pytestmark = pytest.mark.django_db
RULE = "FREQ=DAILY;UNTIL=20270329"


@pytest.fixture
def importing(alice_calendar):
    return start_importing(alice_calendar)


def _phone_writes_the_series(alice_phone) -> None:
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    alice_phone.calendar.save_event(
        ical=(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Other client//EN\r\nBEGIN:VEVENT\r\n"
            f"UID:date-until\r\nDTSTAMP:{stamp}\r\nDTSTART;TZID=Europe/Amsterdam:20270322T090000\r\n"
            f"DTEND;TZID=Europe/Amsterdam:20270322T100000\r\nRRULE:{RULE}\r\nSUMMARY:Site visit\r\n"
            "END:VEVENT\r\nEND:VCALENDAR\r\n"
        )
    )


def test_a_timed_series_with_a_date_until_has_the_occurrences_other_readers_give(importing, alice_phone):
    _phone_writes_the_series(alice_phone)

    engine.sync_agent_calendar(importing, pull=True)

    master = Appointment.objects.get(subject="Site visit", master__isnull=True)
    held = [start.astimezone(UTC) for start in master.occurrences.order_by("start").values_list("start", flat=True)]
    text = alice_phone.by_uid("date-until").data
    shown = recurring_ical_events.of(icalendar.Calendar.from_ical(text)).between(
        datetime(2027, 3, 20), datetime(2027, 4, 5)
    )
    phone = sorted(e.decoded("dtstart").astimezone(UTC) for e in shown)
    by_dateutil = [
        moment.replace(tzinfo=AMS).astimezone(UTC) for moment in rrulestr(RULE, dtstart=datetime(2027, 3, 22, 9, 0))
    ]
    assert len(by_dateutil) == 7  # 22 to 28 March
    assert phone == by_dateutil
    assert held == by_dateutil
    # The client's rule is left as it wrote it on the server.
    assert f"RRULE:{RULE}" in text.replace("\r\n", "\n")


def test_a_date_until_on_a_timed_series_is_named_in_the_sync_log(importing, alice_phone):
    _phone_writes_the_series(alice_phone)

    engine.sync_agent_calendar(importing, pull=True)

    messages = list(SyncLogEntry.objects.values_list("message", flat=True))
    assert any("UNTIL=20270329" in message and "2027-03-29" in message for message in messages), messages
