"""Booking a request again (parts task) against a real Radicale: the earlier booking's later part
leaves the technician's CalDAV calendar, so phones and other clients do not keep a stale duplicate.

The server is read with the caldav client (`calendar.search`) and the entries' SUMMARY, DTSTART and
DTEND with icalendar, not with our code; expected times are plain datetime arithmetic.
"""

from datetime import datetime, timedelta

import pytest
from dateutil.rrule import DAILY, FR, MO, TH, TU, WE, rrule
from django.utils import timezone

from calendars.models import Appointment
from integrations.models import SyncLink
from integrations.sync import engine
from tickets import services as ticket_services

pytestmark = pytest.mark.django_db


def _on_server(phone, around: datetime) -> list[tuple[str, datetime, datetime]]:
    """(SUMMARY, DTSTART, DTEND) of every entry on the CalDAV calendar in the three weeks around
    `around`, earliest first, as the caldav client reads them."""
    found = phone.calendar.search(start=around - timedelta(days=7), end=around + timedelta(days=14), event=True)
    rows = []
    for event in found:
        component = event.icalendar_component
        rows.append((str(component["summary"]), component["dtstart"].dt, component["dtend"].dt))
    return sorted(rows, key=lambda row: row[1])


@pytest.fixture
def days():
    """Nine o'clock on the next four working days (Monday to Friday, dateutil) on the local clock:
    a booking outside the default working week (08:00-17:00) would be asked about first."""
    local = timezone.localtime() + timedelta(days=1)
    first = local.replace(hour=9, minute=0, second=0, microsecond=0)
    rule = rrule(DAILY, byweekday=(MO, TU, WE, TH, FR), dtstart=first.replace(tzinfo=None))
    return [moment.replace(tzinfo=first.tzinfo) for moment in rule[:4]]


@pytest.fixture
def split_on_the_server(alice_calendar, alice_phone, days, django_capture_on_commit_callbacks):
    """A 12-hour job booked in two parts with Alice and pushed: 09:00-17:00 and the next day 09:00-13:00."""
    alice = alice_calendar.agent
    with django_capture_on_commit_callbacks(execute=True):
        ticket = ticket_services.create_request(
            summary="Server move", assigned_agents=[alice], estimate=timedelta(hours=12)
        )
        ticket_services.book_split(
            ticket,
            parts=[(days[0], days[0] + timedelta(hours=8)), (days[1], days[1] + timedelta(hours=4))],
            agents=[alice],
        )
    n = ticket.pk
    assert _on_server(alice_phone, days[0]) == [
        (f"#{n} Server move", days[0], days[0] + timedelta(hours=8)),
        (f"#{n} Server move (part 2 of 2)", days[1], days[1] + timedelta(hours=4)),
    ]
    return ticket


def test_booking_a_single_slot_after_a_split_deletes_the_stale_part_on_the_caldav_server(
    alice_calendar, alice_phone, days, split_on_the_server, django_capture_on_commit_callbacks
):
    ticket = split_on_the_server
    with django_capture_on_commit_callbacks(execute=True):
        ticket_services.update_request(ticket, estimate=timedelta(hours=6))
        booking = ticket_services.book_slot(ticket, start=days[2], agents=[alice_calendar.agent])

    assert [part.part for part in booking.replaced] == [2]
    assert _on_server(alice_phone, days[0]) == [(f"#{ticket.pk} Server move", days[2], days[2] + timedelta(hours=6))]
    assert SyncLink.objects.count() == 1


def test_a_part_moved_on_the_phone_is_replaced_and_reported_as_changed_by_hand(
    alice_calendar, alice_phone, days, split_on_the_server, django_capture_on_commit_callbacks
):
    ticket = split_on_the_server
    alice_calendar.refresh_from_db()
    engine.sync_agent_calendar(alice_calendar, pull=True)  # the first sync token
    part = Appointment.objects.get(request=ticket, part=2)
    moved = days[1] + timedelta(hours=2)
    alice_phone.edit(SyncLink.objects.get(appointment=part).marker, dtstart=moved, dtend=moved + timedelta(hours=4))
    alice_calendar.refresh_from_db()
    assert engine.sync_agent_calendar(alice_calendar, pull=True).pulled == 1

    with django_capture_on_commit_callbacks(execute=True):
        booking = ticket_services.book_split(
            ticket,
            parts=[(days[2], days[2] + timedelta(hours=8)), (days[3], days[3] + timedelta(hours=4))],
            agents=[alice_calendar.agent],
        )

    [replaced] = booking.replaced
    assert (replaced.part, replaced.start, replaced.end, replaced.edited) == (
        2,
        moved,
        moved + timedelta(hours=4),
        True,
    )
    n = ticket.pk
    assert _on_server(alice_phone, days[0]) == [
        (f"#{n} Server move", days[2], days[2] + timedelta(hours=8)),
        (f"#{n} Server move (part 2 of 2)", days[3], days[3] + timedelta(hours=4)),
    ]


def test_the_first_part_deleted_on_the_phone_unplans_the_request_and_the_later_part_leaves_the_server(
    alice_calendar, alice_phone, days, split_on_the_server, django_capture_on_commit_callbacks
):
    ticket = split_on_the_server
    alice_calendar.refresh_from_db()
    engine.sync_agent_calendar(alice_calendar, pull=True)  # the first sync token
    first = Appointment.objects.get(request=ticket, source=Appointment.Source.PLANNED)
    alice_phone.delete(SyncLink.objects.get(appointment=first).marker)

    with django_capture_on_commit_callbacks(execute=True):
        alice_calendar.refresh_from_db()
        engine.sync_agent_calendar(alice_calendar, pull=True)

    ticket.refresh_from_db()
    assert (ticket.planned_start, ticket.planned_length) == (None, None)
    assert not Appointment.objects.filter(request=ticket).exists()
    assert _on_server(alice_phone, days[0]) == []
