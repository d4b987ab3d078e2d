"""A recurring series syncs as one remote entry: RRULE, EXDATE for cancelled, overrides for moved."""

from datetime import timedelta

import icalendar
import pytest
import recurring_ical_events

from calendars import services as calendar_services
from calendars.models import Appointment
from integrations.models import SyncLink
from integrations.sync import engine
from tests.integrations.series import make_daily_series, with_a_moved_and_a_cancelled_occurrence

pytestmark = pytest.mark.django_db


def remote_starts(phone, marker, start, end):
    calendar = icalendar.Calendar.from_ical(phone.by_uid(marker).data)
    return sorted(event.decoded("dtstart") for event in recurring_ical_events.of(calendar).between(start, end))


def local_starts(master, start, end):
    return sorted(
        Appointment.objects.visible()
        .filter(master=master, start__gte=start, start__lt=end)
        .values_list("start", flat=True)
    )


@pytest.fixture
def series(alice_calendar, tomorrow_9, django_capture_on_commit_callbacks):
    return with_a_moved_and_a_cancelled_occurrence(
        alice_calendar.agent,
        django_capture_on_commit_callbacks,
        rule="RRULE:FREQ=DAILY;COUNT=6",
        start=tomorrow_9,
        moved=1,
        cancelled=2,
        later=timedelta(hours=3),
    )


def test_series_with_a_moved_and_a_cancelled_occurrence_is_one_entry_with_the_same_occurrences(
    series, alice_phone, tomorrow_9
):
    entries = alice_phone.entries()
    assert len(entries) == 1
    marker = SyncLink.objects.get(appointment=series).marker
    window = (tomorrow_9 - timedelta(days=1), tomorrow_9 + timedelta(days=10))

    assert remote_starts(alice_phone, marker, *window) == local_starts(series, *window)
    assert len(local_starts(series, *window)) == 5
    assert not SyncLink.objects.filter(appointment__master=series).exists()


def test_occurrence_moved_in_another_client_moves_in_the_helpdesk(series, alice_calendar, alice_phone, tomorrow_9):
    engine.sync_agent_calendar(alice_calendar, pull=True)
    marker = SyncLink.objects.get(appointment=series).marker
    fourth = series.occurrences.order_by("original_start")[3]
    entry = alice_phone.by_uid(marker)
    calendar = entry.icalendar_instance
    master = next(c for c in calendar.walk("VEVENT") if c.get("recurrence-id") is None)
    moved = icalendar.Event()
    for name in ("uid", "summary"):
        moved.add(name, master[name])
    moved.add("dtstamp", tomorrow_9)
    moved.add("recurrence-id", fourth.original_start)
    moved.add("dtstart", fourth.original_start + timedelta(hours=5))
    moved.add("dtend", fourth.original_start + timedelta(hours=6))
    calendar.add_component(moved)
    entry.save()

    engine.sync_agent_calendar(alice_calendar, pull=True)

    fourth.refresh_from_db()
    assert fourth.start == fourth.original_start + timedelta(hours=5)
    assert fourth.is_modified
    window = (tomorrow_9 - timedelta(days=1), tomorrow_9 + timedelta(days=10))
    assert remote_starts(alice_phone, marker, *window) == local_starts(series, *window)


def test_a_moved_occurrence_of_a_private_helpdesk_series_follows_the_phone_renaming_the_series(
    alice_calendar, alice_phone, tomorrow_9
):
    """The kind of the Google long-profile failure `S8 differs` (seed 7) on CalDAV: the helpdesk's own
    series, made private (CLASS:PRIVATE: the helpdesk still writes and keeps its texts), has one
    occurrence moved and pushed as a RECURRENCE-ID override (a whole VEVENT of its own, RFC 5545
    3.8.4.4, with its own SUMMARY); then the phone renames the series (the master's SUMMARY alone).
    The override's SUMMARY was a copy of the series' old one, never its own (F-SERIES-SUBJ): the
    moved occurrence follows the series in the helpdesk, and the helpdesk writes the new name into the
    override, so the phone shows it too. Expected values: recurring-ical-events over the phone's own
    copy of the entry."""
    master = make_daily_series(alice_calendar.agent, tomorrow_9)
    calendar_services.update_appointment(master, private=True)
    engine.sync_agent_calendar(alice_calendar, pull=True)
    second = Appointment.objects.visible().filter(master=master).order_by("start")[1]
    shift = timedelta(hours=2)
    calendar_services.update_appointment(second, start=second.start + shift, end=second.end + shift)
    engine.sync_agent_calendar(alice_calendar, pull=True)
    marker = SyncLink.objects.get(appointment=master).marker
    entry = alice_phone.by_uid(marker)
    calendar = entry.icalendar_instance
    (series,) = [c for c in calendar.walk("VEVENT") if c.get("recurrence-id") is None]
    assert str(series["class"]) == "PRIVATE"
    series.pop("summary")
    series.add("summary", "S1 visit (phone)")
    entry.save()

    engine.sync_agent_calendar(alice_calendar, pull=True)

    window = (tomorrow_9 - timedelta(hours=1), tomorrow_9 + timedelta(days=5))
    phone = icalendar.Calendar.from_ical(alice_phone.by_uid(marker).data)
    shown = sorted((e.decoded("dtstart"), str(e["summary"])) for e in recurring_ical_events.of(phone).between(*window))
    assert [summary for _, summary in shown] == ["S1 visit (phone)"] * 4
    occurrences = Appointment.objects.visible().filter(master=master).order_by("start")
    assert [(o.start, o.subject) for o in occurrences] == shown
