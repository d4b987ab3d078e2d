"""A series' rule changed over the API (PATCH `recurrence`) reaches the technician's CalDAV
calendar as the same one entry with the new RRULE: occurrences moved or cancelled on their own
that the new rule still gives keep their RECURRENCE-ID override or EXDATE there, those it no
longer gives are gone from it (RFC 5545 3.8.4.4, 3.8.5.1; Google's recurringEventId exceptions
go the same way when a series' rule changes).

The path from the API to the connector is shared by every provider (services.change_schedule
announces the master, the sync pushes it on commit): one connector, a real Radicale, is enough.
Expected occurrences come from dateutil's rrule; what the server holds is read back through
recurring-ical-events."""

from datetime import timedelta

import icalendar
import pytest
import recurring_ical_events
from dateutil import rrule
from rest_framework.test import APIClient

from calendars.models import Appointment
from integrations.models import SyncLink
from tests.integrations.series import HOUR, make_weekly_series

pytestmark = pytest.mark.django_db
WEEK = timedelta(weeks=1)


@pytest.fixture
def series(alice_calendar, tomorrow_9, django_capture_on_commit_callbacks):
    """Weekly from tomorrow 09:00, six times, an hour each; the second occurrence moved three hours
    later and the third cancelled, each pushed on its own."""
    return make_weekly_series(alice_calendar.agent, tomorrow_9, django_capture_on_commit_callbacks)


def patch_rule(master: Appointment, rule: str, capture) -> dict:
    client = APIClient()
    client.force_authenticate(master.agents.get().user)
    with capture(execute=True):
        response = client.patch(f"/api/appointments/{master.pk}/", {"recurrence": rule}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def on_server(phone, master: Appointment, start, end) -> list[tuple]:
    """(start, end) of every occurrence of the series' entry on the server, as recurring-ical-events
    expands it, and the RECURRENCE-IDs the entry holds."""
    calendar = icalendar.Calendar.from_ical(phone.by_uid(SyncLink.objects.get(appointment=master).marker).data)
    shown = sorted(
        (event.decoded("dtstart"), event.decoded("dtend"))
        for event in recurring_ical_events.of(calendar).between(start, end)
    )
    overrides = sorted(c.decoded("recurrence-id") for c in calendar.walk("VEVENT") if c.get("recurrence-id"))
    return shown, overrides


def test_a_new_rule_over_the_api_reaches_caldav_without_the_exceptions_it_no_longer_gives(
    series, alice_phone, tomorrow_9, django_capture_on_commit_callbacks
):
    patch_rule(series, "FREQ=WEEKLY;INTERVAL=2;COUNT=4", django_capture_on_commit_callbacks)

    days = list(rrule.rrule(rrule.WEEKLY, interval=2, count=4, dtstart=tomorrow_9))
    cancelled = days[1]  # the third week, cancelled on its own, and still given: stays cancelled
    window = (tomorrow_9 - timedelta(days=1), tomorrow_9 + 10 * WEEK)
    shown, overrides = on_server(alice_phone, series, *window)
    assert shown == [(day, day + HOUR) for day in days if day != cancelled]
    assert overrides == []  # the moved second week is not one of the new rule's: gone, not left orphaned
    assert len(alice_phone.entries()) == 1


def test_a_new_rule_over_the_api_keeps_on_caldav_the_exceptions_it_still_gives(
    series, alice_phone, tomorrow_9, django_capture_on_commit_callbacks
):
    patch_rule(series, "FREQ=WEEKLY;COUNT=8", django_capture_on_commit_callbacks)

    days = list(rrule.rrule(rrule.WEEKLY, count=8, dtstart=tomorrow_9))
    moved, cancelled = days[1], days[2]
    expected = sorted(
        [(day, day + HOUR) for day in days if day not in (moved, cancelled)] + [(moved + 3 * HOUR, moved + 4 * HOUR)]
    )
    window = (tomorrow_9 - timedelta(days=1), tomorrow_9 + 10 * WEEK)
    shown, overrides = on_server(alice_phone, series, *window)
    assert shown == expected
    assert overrides == [moved]
    helpdesk = Appointment.objects.visible().filter(master=series).order_by("start").values_list("start", "end")
    assert list(helpdesk) == expected
