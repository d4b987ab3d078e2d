"""A series stopped now (calendars.services.stop_repeating) reaches the CalDAV calendar as the
same one entry whose RRULE ends (UNTIL) at the last start before now, with no EXDATE for the
dropped future: a rule change, not a deletion per occurrence (RFC 5545 3.3.10). What the server
holds is expanded by recurring-ical-events; the expected starts come from dateutil."""

from datetime import UTC

import icalendar
import pytest
import recurring_ical_events

from calendars.models import Appointment
from integrations.models import SyncLink
from tests.integrations.series import helpdesk_view_utc, kept_view, pushed_series, stop_a_pushed_series

pytestmark = pytest.mark.django_db


def test_a_stopped_series_reaches_caldav_as_one_entry_with_an_ended_rule(
    alice_calendar, alice_phone, django_capture_on_commit_callbacks
):
    kept, window, () = stop_a_pushed_series(alice_calendar, django_capture_on_commit_callbacks)
    master = Appointment.objects.get(master=None, subject="Weekly check")

    assert len(alice_phone.entries()) == 1
    calendar = icalendar.Calendar.from_ical(alice_phone.by_uid(SyncLink.objects.get(appointment=master).marker).data)
    (event,) = calendar.walk("VEVENT")
    assert event["RRULE"]["UNTIL"] == [kept[-1]]
    assert "COUNT" not in event["RRULE"] and "EXDATE" not in event
    shown = sorted(
        (e.decoded("dtstart").astimezone(UTC), e.decoded("dtend").astimezone(UTC), str(e["summary"]))
        for e in recurring_ical_events.of(calendar).between(*window)
    )
    assert shown == kept_view(kept) == helpdesk_view_utc(*window)


def test_stopping_a_series_queues_one_push_of_the_calendar(
    alice_calendar, alice_phone, pushes_run, django_capture_on_commit_callbacks
):
    # The stop removes four later occurrences and changes the rule: one push carries it all.
    _kept, _window, (pushes,) = stop_a_pushed_series(alice_calendar, django_capture_on_commit_callbacks, pushes_run)

    assert pushes == [alice_calendar.pk]


def test_a_stopped_all_day_series_ends_on_a_date_on_caldav(
    alice_calendar, alice_phone, django_capture_on_commit_callbacks
):
    from datetime import date, timedelta

    from dateutil import rrule
    from django.utils import timezone

    from calendars import services as calendar_services

    today = timezone.localdate()
    first = today - timedelta(weeks=2, days=1)
    span = (first, first + timedelta(days=1))
    master = pushed_series(
        alice_calendar, "FREQ=WEEKLY;COUNT=6", span, django_capture_on_commit_callbacks, all_day=True
    )
    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.stop_repeating(Appointment.objects.get(pk=master.pk))

    calendar = icalendar.Calendar.from_ical(alice_phone.by_uid(SyncLink.objects.get(appointment=master).marker).data)
    (event,) = calendar.walk("VEVENT")
    kept = [day.date() for day in rrule.rrule(rrule.WEEKLY, count=6, dtstart=first) if day.date() < today]
    # RFC 5545 3.3.10: with a DATE DTSTART, UNTIL is a DATE too.
    assert event["RRULE"]["UNTIL"] == [kept[-1]] and type(kept[-1]) is date
    shown = [
        e.decoded("dtstart") for e in recurring_ical_events.of(calendar).between(first, today + timedelta(weeks=8))
    ]
    assert shown == kept
