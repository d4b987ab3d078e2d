"""Scenarios every connector runs against its own peer: a reminder changed in the technician's
own client meeting a later helpdesk change (trial fault 8), or changed or removed there alone and
taken by the helpdesk (task remind), and a helpdesk change made while the push of an earlier one
is in flight (trial fault 1, the `SyncLink.changes` compare-and-set). Each connector's module
says what its client does and reads what its server holds."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from django.db import connection as db_connection

from calendars import services as calendar_services
from calendars.models import Appointment
from integrations.models import SyncLink, SyncLogEntry
from tests.integrations.importing import start_importing
from tests.integrations.series import HOUR
from tests.integrations.test_caldav_sync import make, pull

# (changes made in the helpdesk after the phone's reminder edit, the reminder the calendar then holds)
REMINDER_CASES = [
    ({"subject": "Boiler check (gas)"}, ("Boiler check (gas)", 45)),
    ({"subject": "Boiler check (gas)", "reminder_minutes": 30}, ("Boiler check (gas)", 30)),
    ({"reminder_minutes": 30}, ("Boiler check", 30)),
]
REMINDER_IDS = ["another field: the phone's reminder kept", "the helpdesk's reminder: written", "the reminder alone"]


def once_during(is_the_request: Callable[..., bool], change: Callable[[], None]) -> tuple[list, Callable]:
    """A server hook that runs `change()` once, in the server's thread, when a request
    `is_the_request(*request)` arrives, before it is handled; and the list its outcome ("done" or
    the exception) is put in, for the test to assert."""
    outcome: list = []

    def hook(*request) -> None:
        if outcome or not is_the_request(*request):
            return
        try:
            change()
            outcome.append("done")
        except Exception as error:  # shown by the caller's assertion
            outcome.append(error)
        finally:
            db_connection.close()  # this thread's own connection

    return outcome, hook


def change_after_a_reminder_edited_there(
    agent_calendar, start, capture, changes: dict, edit_reminder: Callable[[str, int], None]
) -> Appointment:
    """A helpdesk entry with a 15-minute reminder, its reminder set to 45 minutes in the
    technician's own client (`edit_reminder(remote_id, minutes)`) and pulled, then `changes` made
    in the helpdesk and pushed."""
    appointment = make(agent_calendar.agent, start, capture, subject="Boiler check", reminder_minutes=15)
    edit_reminder(SyncLink.objects.get(appointment=appointment).remote_id, 45)
    pull(agent_calendar)
    appointment.refresh_from_db()
    with capture(execute=True):
        calendar_services.update_appointment(appointment, **changes)
    assert not SyncLink.objects.get(appointment=appointment).pending
    return appointment


def a_reminder_changed_there_is_taken(
    agent_calendar, start, capture, edit_reminder: Callable[[str, int], None]
) -> Appointment:
    """Task remind: a helpdesk entry with a 15-minute reminder, its reminder set to 30 minutes in
    the technician's own client (`edit_reminder(remote_id, minutes)`) and pulled. The helpdesk
    takes it with one inbound log line naming the reminder, nothing is pushed back, and the next
    pull has nothing to do. Returns the appointment; the caller reads what the server holds."""
    appointment = make(agent_calendar.agent, start, capture, subject="Boiler check", reminder_minutes=15)
    edit_reminder(SyncLink.objects.get(appointment=appointment).remote_id, 30)

    report = pull(agent_calendar)

    appointment.refresh_from_db()
    assert appointment.reminder_minutes == 30
    assert (report.pulled, report.pushed, report.conflicts) == (1, 0, 0)
    line = SyncLogEntry.objects.latest("id")
    assert (line.direction, line.operation, line.result) == ("in", "update", SyncLogEntry.Result.OK)
    assert line.message == f"Changed in {agent_calendar.agent.name}'s calendar: reminder."
    assert not SyncLink.objects.get(appointment=appointment).pending
    again = pull(agent_calendar)
    assert (again.pulled, again.pushed) == (0, 0)
    return appointment


def an_alarm_removed_there_is_taken(
    agent_calendar, make_there: Callable[[], None], remove_alarm: Callable[[str], None]
) -> Appointment:
    """Task remind: an entry made in the technician's own client with a 30-minute alarm
    (`make_there()`) is imported with it; the alarm is then removed there (`remove_alarm(remote_id)`)
    and the next pull leaves the helpdesk's entry without a reminder, with one inbound log line
    naming it and nothing pushed back. Returns the appointment; the caller reads the server."""
    agent_calendar = start_importing(agent_calendar)
    make_there()
    pull(agent_calendar)
    link = SyncLink.objects.get(agent_calendar=agent_calendar)
    appointment = link.appointment
    assert appointment.reminder_minutes == 30

    remove_alarm(link.remote_id)
    report = pull(agent_calendar)

    appointment.refresh_from_db()
    assert appointment.reminder_minutes is None
    assert (report.pulled, report.pushed, report.conflicts) == (1, 0, 0)
    line = SyncLogEntry.objects.latest("id")
    assert (line.direction, line.operation) == ("in", "update")
    assert line.message == f"Changed in {agent_calendar.agent.name}'s calendar: reminder."
    again = pull(agent_calendar)
    assert (again.pulled, again.pushed) == (0, 0)
    return appointment


def _renamed_keeping_no_reminder(agent_calendar, appointment: Appointment, capture) -> Appointment:
    """`appointment` (with "no reminder") renamed in the helpdesk and pushed: it keeps "no
    reminder", and the next pull has nothing to do. Returns it."""
    with capture(execute=True):
        calendar_services.update_appointment(appointment, subject="Boiler check (gas)")
    appointment.refresh_from_db()
    assert (appointment.no_reminder, appointment.reminder_minutes) == (True, None)
    again = pull(agent_calendar)
    assert (again.pulled, again.pushed) == (0, 0)
    return appointment


def a_helpdesk_entry_s_alarm_removed_there_stays_removed(
    agent_calendar, start, capture, remove_alarm: Callable[[str], None]
) -> Appointment:
    """A helpdesk entry whose reminder is not set (so the global default, 15 minutes, goes out)
    has its alarm removed in the technician's own client (`remove_alarm(remote_id)`). The pull
    stores "no reminder" (not "not set", which is the default again), with one inbound log line
    and nothing pushed back; a later helpdesk change of another field is pushed without an alarm,
    and the next pull has nothing to do. Returns the appointment; the caller reads the server."""
    appointment = make(agent_calendar.agent, start, capture, subject="Boiler check")
    assert appointment.reminder_minutes is None  # not set: the default goes out
    remove_alarm(SyncLink.objects.get(appointment=appointment).remote_id)

    report = pull(agent_calendar)

    appointment.refresh_from_db()
    assert (appointment.no_reminder, appointment.reminder_minutes) == (True, None)
    assert (report.pulled, report.pushed, report.conflicts) == (1, 0, 0)
    line = SyncLogEntry.objects.latest("id")
    assert line.message == f"Changed in {agent_calendar.agent.name}'s calendar: reminder."
    return _renamed_keeping_no_reminder(agent_calendar, appointment, capture)


def a_reminder_removed_in_the_helpdesk_goes_out(agent_calendar, start, capture) -> Appointment:
    """A helpdesk entry with the global default reminder (15 minutes) out on the calendar gets "no
    reminder" in the helpdesk: pushed, it survives a later change of another field, and the next
    pull has nothing to do. Returns the appointment; the caller reads what the server holds."""
    appointment = make(agent_calendar.agent, start, capture, subject="Boiler check")
    with capture(execute=True):
        calendar_services.update_appointment(appointment, no_reminder=True)
    assert not SyncLink.objects.get(appointment=appointment).pending
    return _renamed_keeping_no_reminder(agent_calendar, appointment, capture)


def move_while_a_rename_is_pushed(
    agent, start: datetime, hook: Callable[[Callable | None], None], is_the_write: Callable[..., bool]
) -> datetime:
    """Rename a committed appointment; while its push's write is in flight (`is_the_write(*request)`
    is true in the server's `before_request` hook, installed by `hook`), move it from the server's
    thread. Returns the start it was moved to; the caller reads what the server holds. Needs
    `django_db(transaction=True)`: the move commits while the push runs."""
    appointment = calendar_services.create_appointment(
        subject="Race", start=start, end=start + HOUR, agents=[agent]
    )  # committed: pushed on commit (Celery eager)
    assert SyncLink.objects.get(appointment=appointment).remote_id
    moved = start + 2 * HOUR

    def move() -> None:
        calendar_services.update_appointment(Appointment.objects.get(pk=appointment.pk), start=moved, end=moved + HOUR)

    outcome, move_during_the_write = once_during(is_the_write, move)
    hook(move_during_the_write)
    calendar_services.update_appointment(appointment, subject="Race renamed")
    hook(None)
    assert outcome == ["done"]
    assert not SyncLink.objects.get(appointment=appointment).pending
    assert not SyncLogEntry.objects.filter(result=SyncLogEntry.Result.CONFLICT).exists()
    return moved


def give_back_while_its_removal_is_pushed(
    agent, other, start: datetime, hook: Callable[[Callable | None], None], is_the_delete, *, away_again: bool
) -> Appointment:
    """Task push 3: an appointment of `agent`'s, pushed, is given to `other` (no calendar of theirs
    here), so its entry is deleted from `agent`'s calendar; while that delete is in flight
    (`is_the_delete(*request)` in the server's `before_request` hook, installed by `hook`) the
    helpdesk gives it back to `agent` (and, `away_again`, to `other` once more). Returns the
    appointment; the caller reads what the server holds. Needs `django_db(transaction=True)`."""
    appointment = calendar_services.create_appointment(
        subject="Race", start=start, end=start + HOUR, agents=[agent]
    )  # committed: pushed on commit (Celery eager)
    assert SyncLink.objects.get(appointment=appointment).remote_id

    def give_back() -> None:
        fresh = Appointment.objects.get(pk=appointment.pk)
        calendar_services.reassign_appointment(fresh, from_agent=other, to_agent=agent)
        if away_again:
            calendar_services.reassign_appointment(fresh, from_agent=agent, to_agent=other)

    outcome, give_back_during_the_delete = once_during(is_the_delete, give_back)
    hook(give_back_during_the_delete)
    calendar_services.reassign_appointment(appointment, from_agent=agent, to_agent=other)
    hook(None)
    assert outcome == ["done"]
    links = SyncLink.objects.filter(agent_calendar__agent=agent)
    if away_again:
        assert not links.exists()  # forgotten: nothing to put back
    else:
        (link,) = links
        assert link.appointment_id == appointment.pk and link.remote_id and not link.pending
    assert not SyncLogEntry.objects.filter(result=SyncLogEntry.Result.CONFLICT).exists()
    return appointment
