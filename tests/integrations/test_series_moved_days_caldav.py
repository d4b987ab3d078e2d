"""A helpdesk series moved to another weekday reaches CalDAV (Radicale) as one consistent entry
(trial fault 1: Radicale got DTSTART on a Thursday, RRULE still BYDAY=WE, and an EXDATE on the new
start): DTSTART is the first instance of the moved RRULE (RFC 5545 3.8.5.3), and EXDATE and
RECURRENCE-ID name instances of it (3.8.5.1, 3.8.4.4). The occurrences on the server are
recurring-ical-events' expansion of the text Radicale holds; the rule's are dateutil's."""

from datetime import datetime, timedelta

import icalendar
import pytest
import recurring_ical_events
from dateutil.rrule import rrulestr
from django.utils import timezone

from calendars import services as calendar_services
from calendars.models import Appointment
from integrations.models import SyncLink
from tests.integrations.series import with_a_moved_and_a_cancelled_occurrence

pytestmark = pytest.mark.django_db


def test_a_monday_series_moved_to_tuesday_reaches_radicale_with_its_rule_and_exceptions_in_step(
    alice_calendar, alice_phone, django_capture_on_commit_callbacks
):
    zone = alice_calendar.agent.time_zone
    today = timezone.localtime(timezone=zone).date()
    monday = today + timedelta(days=7 - today.weekday())
    first = datetime(monday.year, monday.month, monday.day, 9, tzinfo=zone)
    rule = "FREQ=WEEKLY;COUNT=6;BYDAY=MO"
    master = with_a_moved_and_a_cancelled_occurrence(
        alice_calendar.agent,
        django_capture_on_commit_callbacks,
        rule=rule,
        start=first,
        moved=2,
        cancelled=3,
        later=timedelta(hours=4),
    )
    occurrences = list(master.occurrences.order_by("original_start"))

    tuesday = first + timedelta(days=1)
    with django_capture_on_commit_callbacks(execute=True):
        moved = calendar_services.edit_appointment(
            Appointment.objects.get(pk=master.pk), start=tuesday, end=tuesday + timedelta(hours=1)
        )

    assert moved.dropped_exceptions == []
    [_entry] = alice_phone.entries()
    text = alice_phone.by_uid(SyncLink.objects.get(appointment=master).marker).data
    calendar = icalendar.Calendar.from_ical(text)
    [series] = [event for event in calendar.walk("VEVENT") if not event.get("recurrence-id")]
    assert series.decoded("dtstart") == tuesday
    assert series["rrule"]["BYDAY"] == ["TU"]
    wall = tuesday.replace(tzinfo=None)
    tuesdays = [
        day.replace(tzinfo=zone) for day in rrulestr(series["rrule"].to_ical().decode(), dtstart=wall)
    ]  # DTSTART is the first instance of the rule as sent
    mondays = [day.replace(tzinfo=zone) for day in rrulestr(rule, dtstart=first.replace(tzinfo=None))]
    assert tuesdays[0] == tuesday
    assert [day + timedelta(days=1) for day in mondays] == tuesdays
    exdates = [moment.dt for line in _as_list(series.get("exdate")) for moment in line.dts]
    assert exdates == [occurrences[3].original_start + timedelta(days=1)]
    [override] = [event for event in calendar.walk("VEVENT") if event.get("recurrence-id")]
    assert override.decoded("recurrence-id") == occurrences[2].original_start + timedelta(days=1)
    assert override.decoded("dtstart") == occurrences[2].original_start + timedelta(hours=4)

    window = (first - timedelta(days=1), first + timedelta(weeks=7))
    on_server = sorted(event.decoded("dtstart") for event in recurring_ical_events.of(calendar).between(*window))
    here = Appointment.objects.visible().filter(master=master).order_by("start").values_list("start", flat=True)
    assert on_server == list(here)
    assert on_server == sorted(
        [day for day in tuesdays if day not in exdates and day != override.decoded("recurrence-id")]
        + [override.decoded("dtstart")]
    )


def _as_list(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
