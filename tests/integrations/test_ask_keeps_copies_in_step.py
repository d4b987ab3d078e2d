"""Policy Ask (S3.3), trial report F3: what an approved appointment's later changes do on the phone.

The rule (integrations.services.approval_after_change): Ask gates whether an appointment goes onto
the technician's calendar, once per appointment; a copy that is there is kept in step (moves,
resizes, renames and cancelled occurrences are pushed at once) and its removal always flows.
Declining an entry that never reached the calendar leaves nothing there.

What is on the phone is read with the caldav client (tests/integrations/conftest.OtherClient) and
expanded with recurring-ical-events, never with our own mapping.
"""

from datetime import UTC, timedelta

import icalendar
import pytest
import recurring_ical_events
from dateutil.rrule import DAILY, rrule

from calendars import services as calendar_services
from calendars.models import Appointment
from integrations import services
from integrations.models import SyncLink
from integrations.sync import engine
from tests.integrations.conftest import USERS, OtherClient

pytestmark = pytest.mark.django_db
HOUR = timedelta(hours=1)


def approve_then_move(agent, start, capture):
    """Shared by the connectors' tests of F3: an appointment at `start` under Ask, approved (pushed),
    then moved an hour earlier; returns it, with the push of the move done."""
    with capture(execute=True):
        appointment = calendar_services.create_appointment(
            subject="Server room visit", start=start, end=start + HOUR, agents=[agent]
        )
    with capture(execute=True):
        services.approve(SyncLink.objects.get(appointment=appointment))
    with capture(execute=True):
        calendar_services.update_appointment(appointment, start=start - HOUR, end=start)
    return appointment


@pytest.fixture
def approved(asking, tomorrow_9, django_capture_on_commit_callbacks):
    """An appointment Alice approved: on her phone at 10:00-11:00."""
    with django_capture_on_commit_callbacks(execute=True):
        appointment = calendar_services.create_appointment(
            subject="Server room audit", start=tomorrow_9 + HOUR, end=tomorrow_9 + 2 * HOUR, agents=[asking.agent]
        )
    with django_capture_on_commit_callbacks(execute=True):
        services.approve(SyncLink.objects.get(appointment=appointment))
    return appointment


def on_phone(phone) -> list[tuple[str, object, object]]:
    """(summary, start, end) of every entry on the phone, in UTC."""
    found = []
    for entry in phone.entries():
        event = entry.icalendar_component
        found.append(
            (str(event["summary"]), event.decoded("dtstart").astimezone(UTC), event.decoded("dtend").astimezone(UTC))
        )
    return sorted(found)


def utc(moment):
    return moment.astimezone(UTC)


def change(capture, appointment, **changes):
    with capture(execute=True):
        return calendar_services.update_appointment(appointment, **changes)


def test_approved_appointment_moved_is_moved_on_the_phone_at_once(
    approved, alice_phone, tomorrow_9, django_capture_on_commit_callbacks
):
    """The trial's 148: moved from 10:00 to 09:00 after approval; the phone must say 09:00, not keep 10:00."""
    assert on_phone(alice_phone) == [("Server room audit", utc(tomorrow_9 + HOUR), utc(tomorrow_9 + 2 * HOUR))]

    change(django_capture_on_commit_callbacks, approved, start=tomorrow_9, end=tomorrow_9 + HOUR)

    assert on_phone(alice_phone) == [("Server room audit", utc(tomorrow_9), utc(tomorrow_9 + HOUR))]
    assert SyncLink.objects.get(appointment=approved).approval == SyncLink.Approval.NOT_NEEDED
    assert not services_waiting(approved)


def services_waiting(appointment) -> bool:
    return SyncLink.objects.filter(appointment=appointment, approval=SyncLink.Approval.WAITING).exists()


def test_approved_appointment_resized_and_renamed_reaches_the_phone(
    approved, alice_phone, tomorrow_9, django_capture_on_commit_callbacks
):
    change(django_capture_on_commit_callbacks, approved, end=tomorrow_9 + 3 * HOUR)
    assert on_phone(alice_phone) == [("Server room audit", utc(tomorrow_9 + HOUR), utc(tomorrow_9 + 3 * HOUR))]

    change(django_capture_on_commit_callbacks, approved, subject="Server room audit (second floor)")
    assert on_phone(alice_phone) == [
        ("Server room audit (second floor)", utc(tomorrow_9 + HOUR), utc(tomorrow_9 + 3 * HOUR))
    ]
    assert not services_waiting(approved)


def test_approved_appointment_deleted_leaves_the_phone(approved, alice_phone, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.delete_appointment(approved)

    assert alice_phone.entries() == []
    assert not SyncLink.objects.exists()


def test_approved_appointment_reassigned_away_leaves_the_phone_and_asks_the_new_technician(
    approved, alice_phone, bob_calendar, radicale, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.reassign_appointment(approved, from_agent=approved.agents.get(), to_agent=bob_calendar.agent)

    assert alice_phone.entries() == []
    bob_phone = OtherClient(radicale.url, "bob", USERS["bob"], bob_calendar.calendar_id)
    assert bob_phone.entries() == []  # Bob has not approved it yet
    assert SyncLink.objects.get(appointment=approved).approval == SyncLink.Approval.WAITING


def test_declined_change_of_an_appointment_never_approved_leaves_nothing_on_the_phone(
    asking, alice_phone, tomorrow_9, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        appointment = calendar_services.create_appointment(
            subject="Not for my phone", start=tomorrow_9, end=tomorrow_9 + HOUR, agents=[asking.agent]
        )
    with django_capture_on_commit_callbacks(execute=True):
        services.decline(SyncLink.objects.get(appointment=appointment))

    change(django_capture_on_commit_callbacks, appointment, start=tomorrow_9 + HOUR, end=tomorrow_9 + 2 * HOUR)
    engine.sync_agent_calendar(asking, pull=True)

    assert alice_phone.entries() == []


def declined(asking, start, capture) -> Appointment:
    """An hour of cabling check at `start`, declined by the technician under Ask."""
    with capture(execute=True):
        appointment = calendar_services.create_appointment(
            subject="Cabling check", start=start, end=start + HOUR, agents=[asking.agent]
        )
    with capture(execute=True):
        services.decline(SyncLink.objects.get(appointment=appointment))
    return appointment


def test_declined_appointment_stays_declined_when_the_coordinator_changes_it(
    asking, alice_phone, tomorrow_9, django_capture_on_commit_callbacks
):
    """Trial fault 5 (README, /me/approvals/: "asked once per appointment ... declining keeps it
    off"): a later move or rename is not a new question, and the coordinator keeps seeing "declined"."""
    appointment = declined(asking, tomorrow_9, django_capture_on_commit_callbacks)

    change(django_capture_on_commit_callbacks, appointment, start=tomorrow_9 + 4 * HOUR, end=tomorrow_9 + 5 * HOUR)
    change(django_capture_on_commit_callbacks, appointment, subject="Cabling check, floor 2")

    link = SyncLink.objects.get(appointment=appointment)
    assert (link.approval, link.pending) == (SyncLink.Approval.DECLINED, False)
    assert not SyncLink.objects.filter(approval=SyncLink.Approval.WAITING).exists()
    engine.sync_agent_calendar(asking, pull=True)
    assert alice_phone.entries() == []


def test_technician_put_on_a_declined_appointment_again_is_asked_again(
    asking, bob, tomorrow_9, django_capture_on_commit_callbacks
):
    appointment = declined(asking, tomorrow_9, django_capture_on_commit_callbacks)

    change(django_capture_on_commit_callbacks, appointment, agents=[bob])
    change(django_capture_on_commit_callbacks, appointment, agents=[asking.agent])

    assert SyncLink.objects.get(appointment=appointment, agent_calendar=asking).approval == SyncLink.Approval.WAITING


def test_cancelled_occurrence_of_an_approved_series_leaves_the_phone(
    asking, alice_phone, tomorrow_9, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        master = calendar_services.create_recurring_appointment(
            rule="RRULE:FREQ=DAILY;COUNT=4",
            agents=[asking.agent],
            start=tomorrow_9,
            end=tomorrow_9 + HOUR,
            subject="Stand-up",
        )
    link = SyncLink.objects.get(appointment=master)
    with django_capture_on_commit_callbacks(execute=True):
        services.approve(link)
    third = master.occurrences.order_by("original_start")[2]

    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.cancel_occurrence(third)

    calendar = icalendar.Calendar.from_ical(alice_phone.by_uid(link.marker).data)
    window = (tomorrow_9 - timedelta(days=1), tomorrow_9 + timedelta(days=10))
    on_the_phone = sorted(utc(e.decoded("dtstart")) for e in recurring_ical_events.of(calendar).between(*window))
    expected = [utc(d) for d in rrule(DAILY, count=4, dtstart=tomorrow_9) if d != third.original_start]
    assert on_the_phone == expected
    assert not services_waiting(master)


def test_change_held_by_the_old_rule_is_pushed_at_the_next_sync(approved, alice_phone, tomorrow_9):
    """A link left by the old rule (a change of an approved entry waiting for approval: the copy says
    10:00 while the helpdesk says 09:00) is pushed at the next sync, not held for ever."""
    Appointment.objects.filter(pk=approved.pk).update(start=tomorrow_9, end=tomorrow_9 + HOUR)
    SyncLink.objects.filter(appointment=approved).update(approval=SyncLink.Approval.WAITING, pending=True)

    engine.sync_agent_calendar(SyncLink.objects.get(appointment=approved).agent_calendar, pull=True)

    assert on_phone(alice_phone) == [("Server room audit", utc(tomorrow_9), utc(tomorrow_9 + HOUR))]
    assert SyncLink.objects.get(appointment=approved).approval == SyncLink.Approval.NOT_NEEDED


def test_migration_marks_stale_copies_for_a_push(approved, tomorrow_9):
    from importlib import import_module

    from django.apps import apps

    migration = import_module("integrations.migrations.0015_ask_stale_copies")
    SyncLink.objects.filter(appointment=approved).update(approval=SyncLink.Approval.DECLINED, pending=False)

    migration.bring_stale_copies_in_step(apps, None)

    link = SyncLink.objects.get(appointment=approved)
    assert (link.approval, link.pending) == (SyncLink.Approval.NOT_NEEDED, True)
