"""Review finding 5, on every connector: a refusal of ONE entry is told apart from the calendar's
loss of rights. Written once here and run by each connector's module (test_caldav_refusals.py,
exchange/, graph/ and google/ test_*_refusals.py) through its `Refusals` adapter, each against its
peer through the real client library; the peers refuse as their protocol documents say they do
(Graph and EWS: 403 / ErrorAccessDenied; CalDAV: 403, RFC 4918 and RFC 3744 7.1.1; Google: 403
with the calendar's accessRole as calendarList gives it).

- a refused read of one entry: that entry is named in the sync log as not imported, the others
  come in, the calendar is not failing;
- a refused write of one entry: that entry's link fails with a reason saying the calendar would not
  take the change (the helpdesk keeps its side), backs off (a pull right after does not send it
  again), the calendar is not failing and the other entries sync;
- the calendar made read-only: the calendar is failing, saying it may only be read now, and the
  helpdesk's change waits pending without a failure of its own (nothing to retry per entry).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

import pytest
from django.utils import timezone

from calendars import services as calendar_services
from calendars.models import Appointment
from integrations.models import AgentCalendar, SyncLink, SyncLogEntry
from integrations.sync import engine
from tests.integrations.importing import start_importing
from tests.integrations.shared_scenarios import HOUR, next_monday_15, remote_id, sync
from tests.integrations.test_caldav_sync import make

# Said by every connector's refusal of one write (the engine's reason for that entry).
KEPT = "the helpdesk keeps its own version"
SECOND = timedelta(seconds=1)


class Refusals(Protocol):
    """One connector's peer as the technician's calendar server: entries made there, and its rights."""

    def add(self, address: str, subject: str, start: datetime, end: datetime) -> str:
        """An entry the technician makes in their own client; its id as the helpdesk holds it."""

    def subjects(self, address: str) -> list[str]:
        """The subjects of the entries the server holds in the mailbox's calendar, sorted."""

    def refuse_entry(self, address: str, entry_id: str, *, reads: bool = False) -> None:
        """The server refuses this one entry from now on: its changes (with `reads`, reading it too)."""

    def drop_write_right(self, address: str) -> None:
        """The connection's account may only read the mailbox's calendar from now on."""


def _calendar(alice_cal) -> AgentCalendar:
    return AgentCalendar.objects.get(pk=alice_cal.pk)


def a_refused_write_fails_that_entry_alone(peer: Refusals, alice_cal, capture) -> None:
    mailbox = alice_cal.agent.mailbox
    start = next_monday_15()
    locked = make(alice_cal.agent, start, capture, subject="Locked visit")
    other = make(alice_cal.agent, start + 2 * HOUR, capture, subject="Other visit")
    peer.refuse_entry(mailbox, remote_id(locked, alice_cal))

    with capture(execute=True):
        calendar_services.update_appointment(locked, subject="Locked visit moved")
        calendar_services.update_appointment(other, subject="Other visit moved")

    calendar = _calendar(alice_cal)
    assert calendar.state == AgentCalendar.State.ACTIVE, calendar.last_error
    link = SyncLink.objects.get(appointment=locked)
    assert link.failures == 1 and link.next_attempt_at > timezone.now()
    assert KEPT in link.last_error
    (logged,) = SyncLogEntry.objects.filter(result=SyncLogEntry.Result.ERROR)
    assert logged.link_id == link.pk and KEPT in logged.message
    assert peer.subjects(mailbox) == ["Locked visit", "Other visit moved"]
    locked.refresh_from_db()
    assert locked.subject == "Locked visit moved"  # the helpdesk keeps its side

    sync(alice_cal)  # a pull right after: the refused write waits for its back-off to end

    assert SyncLink.objects.get(pk=link.pk).failures == 1
    assert SyncLogEntry.objects.filter(result=SyncLogEntry.Result.ERROR).count() == 1
    assert _calendar(alice_cal).state == AgentCalendar.State.ACTIVE


def a_refused_write_retried_keeps_one_line_with_its_tries(peer: Refusals, alice_cal, capture) -> None:
    """Task push 4: a push of an existing entry that the server refuses at every retry keeps one
    line on the sync log, counting the attempts (`SyncLogEntry.tries`), not one line per attempt."""
    mailbox = alice_cal.agent.mailbox
    locked = make(alice_cal.agent, next_monday_15(), capture, subject="Locked visit")
    peer.refuse_entry(mailbox, remote_id(locked, alice_cal))
    with capture(execute=True):
        calendar_services.update_appointment(locked, subject="Locked visit moved")
    (first,) = SyncLogEntry.objects.filter(result=SyncLogEntry.Result.ERROR)

    for _ in range(3):  # each retry once the link's back-off has ended
        link = SyncLink.objects.get(appointment=locked)
        engine.sync_agent_calendar(_calendar(alice_cal), pull=False, now=link.next_attempt_at + SECOND)

    assert SyncLink.objects.get(appointment=locked).failures == 4
    (logged,) = SyncLogEntry.objects.filter(result=SyncLogEntry.Result.ERROR)
    assert (logged.pk, logged.tries, logged.message) == (first.pk, 4, first.message)
    assert logged.first_at == first.created_at < logged.created_at
    assert peer.subjects(mailbox) == ["Locked visit"]


def a_calendar_made_read_only_is_failing_and_the_change_waits(peer: Refusals, alice_cal, capture) -> None:
    mailbox = alice_cal.agent.mailbox
    appointment = make(alice_cal.agent, next_monday_15(), capture)
    peer.drop_write_right(mailbox)

    with capture(execute=True):
        calendar_services.update_appointment(appointment, subject="Moved visit")

    calendar = _calendar(alice_cal)
    assert calendar.state == AgentCalendar.State.FAILING
    assert "may only read" in calendar.last_error and mailbox in calendar.last_error
    link = SyncLink.objects.get()
    assert link.pending and link.failures == 0  # waits for the right, no back-off of its own
    assert not SyncLogEntry.objects.filter(result=SyncLogEntry.Result.ERROR, link__isnull=False).exists()
    assert peer.subjects(mailbox) == ["Server room visit"]


def a_refused_read_leaves_that_entry_out_alone(peer: Refusals, alice_cal, capture) -> None:
    mailbox = alice_cal.agent.mailbox
    start_importing(alice_cal)
    start = next_monday_15()
    hidden = peer.add(mailbox, "Private review", start, start + HOUR)
    peer.add(mailbox, "Team lunch", start + 2 * HOUR, start + 3 * HOUR)
    peer.refuse_entry(mailbox, hidden, reads=True)

    sync(alice_cal)

    assert list(Appointment.objects.values_list("subject", flat=True)) == ["Team lunch"]
    (logged,) = SyncLogEntry.objects.filter(result=SyncLogEntry.Result.ERROR)
    assert logged.operation == "read" and "was not imported" in logged.message
    assert _calendar(alice_cal).state == AgentCalendar.State.ACTIVE


SCENARIOS = [
    a_refused_write_fails_that_entry_alone,
    a_refused_write_retried_keeps_one_line_with_its_tries,
    a_calendar_made_read_only_is_failing_and_the_change_waits,
    a_refused_read_leaves_that_entry_out_alone,
]
each_scenario = pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
