"""CalDAV-only cases of appointments on technicians' phones (trials F13, F14, uifix 5). The
scenarios every connector shares (an entry or an occurrence deleted, cancelled or moved on one
technician's phone, by one or by all) run on CalDAV in test_caldav_shared.py; kept here is what they
do not cover: an occurrence cancelled on a single technician's series, an EXDATE while the helpdesk
changed the series, a planned request's entry deleted on the phone saying so on the request, and
the log naming each occurrence a phone changed on a shared series.

Real Radicale, Alice's phone in Amsterdam; what a phone holds is read with the `caldav` package and
expanded with recurring-ical-events, never from our code."""

from datetime import UTC, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events

from calendars import services as calendar_services
from calendars.models import Appointment
from integrations.models import SyncLink, SyncLogEntry
from tests.integrations.shared_scenarios import agent_names, next_monday_15, standup
from tests.integrations.test_caldav_sync import pull
from tickets import services as ticket_services
from tickets.models import Request

pytestmark = pytest.mark.django_db

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
WEEK = timedelta(weeks=1)


@pytest.fixture
def first_monday():
    """Next week's Monday, 15:00 in Amsterdam: the team stand-up's first occurrence."""
    return next_monday_15()


def marker_of(appointment, agent_calendar) -> str:
    return SyncLink.objects.get(appointment=appointment, agent_calendar=agent_calendar).marker


def phone_starts(phone, uid: str, first) -> list:
    """The starts (UTC) of the entry's occurrences on that phone, as recurring-ical-events expands
    the text Radicale holds."""
    calendar = icalendar.Calendar.from_ical(phone.by_uid(uid).data)
    return sorted(
        i.decoded("dtstart").astimezone(UTC)
        for i in recurring_ical_events.of(calendar).between(first - timedelta(days=1), first + 6 * WEEK)
    )


def add_exdate(phone, uid: str, moment) -> None:
    """What a phone does for "delete this occurrence": an EXDATE on the series' own entry."""
    event = phone.by_uid(uid)
    calendar = icalendar.Calendar.from_ical(event.data)
    master = next(c for c in calendar.walk("VEVENT") if "RECURRENCE-ID" not in c)
    master.add("exdate", moment.astimezone(AMSTERDAM))
    event.data = calendar.to_ical().decode()
    event.save()


def occurrence_at(master, moment) -> Appointment:
    return master.occurrences.get(original_start=moment)


def test_single_technician_occurrence_cancelled_on_the_phone_is_still_cancelled(
    alice_calendar, alice_phone, first_monday, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        series = calendar_services.create_recurring_appointment(
            rule="RRULE:FREQ=WEEKLY;COUNT=4",
            agents=[alice_calendar.agent],
            start=first_monday,
            end=first_monday + timedelta(minutes=30),
            time_zone=AMSTERDAM,
            subject="Own weekly check",
        )
    add_exdate(alice_phone, marker_of(series, alice_calendar), first_monday + WEEK)

    with django_capture_on_commit_callbacks(execute=True):
        pull(alice_calendar)

    assert occurrence_at(series, first_monday + WEEK).is_cancelled


def test_planned_request_deleted_on_the_phone_says_so_on_the_request(
    alice_calendar, alice_phone, first_monday, django_capture_on_commit_callbacks, client, coordinator
):
    alice = alice_calendar.agent
    with django_capture_on_commit_callbacks(execute=True):
        request = ticket_services.create_request(
            summary="Move desk phones to new floor", assigned_agents=[alice], planned_start=first_monday
        )
    appointment = Appointment.objects.get(request=request)
    alice_phone.delete(marker_of(appointment, alice_calendar))

    with django_capture_on_commit_callbacks(execute=True):
        pull(alice_calendar)

    request = Request.objects.get(pk=request.pk)
    assert request.planned_start is None  # SPEC S3.8: the deletion still flows
    line = request.history.get()
    moment = line.created_at.astimezone(AMSTERDAM)
    expected = f"Unplanned from {alice.name}'s calendar on {moment:%a %-d %b %Y %H:%M} {moment.tzname()}"
    assert line.text == expected
    client.force_login(coordinator)
    body = client.get(f"/api/requests/{request.pk}/").json()
    assert [item["text"] for item in body["history"]] == [expected]
    assert body["history"][0]["agent"] == alice.pk
    page = client.get(f"/requests/{request.pk}/")
    assert expected.replace("'", "&#x27;") in page.content.decode()


def test_shared_occurrence_cancelled_while_the_helpdesk_changed_the_series_still_counts(
    alice_calendar, bob_calendar, alice_phone, first_monday, django_capture_on_commit_callbacks
):
    """Both sides changed (the helpdesk wins by default): the helpdesk's new subject is written
    back to Alice's phone, and the occurrence she cancelled there is still her own answer."""
    alice, bob = alice_calendar.agent, bob_calendar.agent
    series = standup([alice, bob], first_monday, django_capture_on_commit_callbacks)
    uid_alice = marker_of(series, alice_calendar)
    with django_capture_on_commit_callbacks(execute=False):  # changed, not pushed yet
        calendar_services.update_appointment(Appointment.objects.get(pk=series.pk), subject="Stand-up (new room)")
    second = first_monday + WEEK
    add_exdate(alice_phone, uid_alice, second)

    with django_capture_on_commit_callbacks(execute=True):
        pull(alice_calendar)

    assert agent_names(occurrence_at(series, second)) == ["bob"]
    assert not occurrence_at(series, second).is_cancelled
    every = [(first_monday + n * WEEK).astimezone(UTC) for n in range(4)]
    assert phone_starts(alice_phone, uid_alice, first_monday) == [m for m in every if m != second.astimezone(UTC)]
    assert str(alice_phone.by_uid(uid_alice).icalendar_component["summary"]) == "Stand-up (new room)"


def test_shared_series_occurrences_changed_on_one_phone_are_named_in_the_log(
    alice_calendar, bob_calendar, alice_phone, first_monday, django_capture_on_commit_callbacks
):
    """Trial (uifix 5): Alice's phone moves the 2nd stand-up an hour later and renames the 3rd
    (two RECURRENCE-ID overrides, RFC 5545 3.8.4.4); the series is shared, so the helpdesk's
    version is written back, and the log said only "occurrences changed on their own 1 of
    them". Now it names each occurrence by the date and time the series gave it, on Alice's
    clock, and what her phone had there. The expected text is written from the phone's edit."""
    alice, bob = alice_calendar.agent, bob_calendar.agent
    series = standup([alice, bob], first_monday, django_capture_on_commit_callbacks)
    uid = marker_of(series, alice_calendar)
    second, third = first_monday + WEEK, first_monday + 2 * WEEK
    entry = alice_phone.by_uid(uid)
    calendar = entry.icalendar_instance
    master = next(c for c in calendar.walk("VEVENT") if c.get("recurrence-id") is None)
    for original, start, summary in (
        (second, second + timedelta(hours=1), str(master["summary"])),
        (third, third, "Stand-up in room 2"),
    ):
        override = icalendar.Event()
        override.add("uid", uid)
        override.add("summary", summary)
        override.add("dtstamp", first_monday)
        override.add("recurrence-id", original)
        override.add("dtstart", start)
        override.add("dtend", start + timedelta(minutes=30))
        calendar.add_component(override)
    entry.save()

    with django_capture_on_commit_callbacks(execute=True):
        pull(alice_calendar)

    log = SyncLogEntry.objects.filter(agent_calendar=alice_calendar, direction="out").latest("pk")
    moved_to, moved_end = second + timedelta(hours=1), second + timedelta(hours=1, minutes=30)
    assert log.message.startswith("Shared with 2 technicians: change it in the helpdesk.")
    assert log.message.endswith(
        "occurrences changed on their own: "
        f"{second:%a %-d %b %Y %H:%M} (moved to {moved_to:%a %-d %b %Y %H:%M}\u2013{moved_end:%H:%M}); "
        f"{third:%a %-d %b %Y %H:%M} (subject 'Stand-up in room 2')."
    ), log.message
    assert "of them" not in log.message
    # Written back: the phone has the series as the helpdesk has it again.
    every = [(first_monday + n * WEEK).astimezone(UTC) for n in range(4)]
    assert phone_starts(alice_phone, uid, first_monday) == every
