"""A shared appointment (S1.3 "one entry with other attendees") on every connector: the scenarios the
CalDAV suite runs (tests/integrations/test_caldav_shared.py), written once here and run against
the Exchange (EWS), Microsoft Graph and Google peers by their own modules, each through the real
client library.

The helpdesk writes one entry per technician, in that technician's own calendar, with nobody
invited (S3.5): each technician is the organiser of their copy (EWS MyResponseType "Organizer",
Graph responseStatus "organizer", Google organizer.self), so no server delivers an invitation that
would become a second entry. A change made on one technician's copy is that technician's answer as
an attendee (planner Op.ANSWER): a deleted entry or a cancelled occurrence takes that technician off
(the others keep it); a move or a rename is written back with the helpdesk's version.

Declining is not something a technician can do to the helpdesk's copy (they organise it; Outlook
and Google only offer to delete it, which `deleted_on_one_takes_only_that_technician_off` covers);
an invitation from someone else that they decline and keep in view is
`declined_invitation_leaves_the_helpdesk`.

Each connector module gives a `Calendars` adapter: what the technician's own client (Outlook, the
Google Calendar app) does to their calendar, and what the server itself shows, read from the
peer's state and its own series expansion, never from our code.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import WEEKLY, rrule
from django.utils import timezone

from calendars import services as calendar_services
from calendars.models import Appointment, CalendarSettings, ConflictRule, EditScope
from integrations.models import AgentCalendar, SyncLink, SyncLogEntry
from integrations.sync import engine
from tickets import services as ticket_services

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
LONDON = ZoneInfo("Europe/London")
WEEK = timedelta(weeks=1)
HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)


class Calendars(Protocol):
    """One connector's peer, seen as each technician's own calendar client sees it."""

    def entries(self, address: str) -> list[dict]:
        """Every stored entry (a single or a series' master, not its occurrences) of the mailbox's
        calendar: {"id", "subject", "body" (its description as stored), "start" (UTC), "attendees"
        (addresses invited), "organiser_is_self"}."""

    def view(self, address: str, start: datetime, end: datetime) -> list[tuple[datetime, datetime, str]]:
        """(start, end, subject), UTC, of what the calendar shows between start and end, occurrences
        expanded by the server (or an independent reader of its data)."""

    def delete(self, address: str, entry_id: str) -> None: ...

    def move(self, address: str, entry_id: str, start: datetime, end: datetime, subject: str) -> None: ...

    def cancel_occurrence(self, address: str, master_id: str, original_start: datetime) -> None: ...

    def move_occurrence(
        self, address: str, master_id: str, original_start: datetime, start: datetime, end: datetime
    ) -> None: ...

    def add(self, address: str, subject: str, start: datetime, end: datetime) -> str:
        """An entry the technician makes in their own client, nobody invited; its id."""

    def invitation(self, address: str, subject: str, start: datetime, end: datetime) -> str:
        """An invitation from carol@example.org (outside the helpdesk) as it lands in the mailbox's
        calendar, not answered yet; its id."""

    def decline(self, address: str, entry_id: str) -> None:
        """The technician declines it in their client, which keeps it in the calendar, marked so."""

    def lose_answer(self, address: str, operation: str, entry_id: str | None = None, *, times: int = 1) -> None:
        """The server's next `times` calls of `operation` ("create", "update" or "delete"; of the
        entry `entry_id`) in the mailbox's calendar are carried out, each answered by nothing (the
        connection closed)."""

    def answer_again(self) -> None:
        """Every answer arrives again: answers still set to be lost are not."""


def sync(agent_calendar: AgentCalendar):
    """One push and pull of the technician's calendar, as the beat task runs it."""
    agent_calendar.refresh_from_db()
    return engine.sync_agent_calendar(agent_calendar, pull=True)


def next_monday_15() -> datetime:
    """Next week's Monday, 15:00 in Amsterdam."""
    today = timezone.now().astimezone(AMSTERDAM)
    monday = today + timedelta(days=7 - today.weekday())
    return monday.replace(hour=15, minute=0, second=0, microsecond=0)


def on_site_together(agents, start, capture) -> Appointment:
    with capture(execute=True):
        return calendar_services.create_appointment(
            subject="On site together", start=start, end=start + 2 * HOUR, agents=agents
        )


def standup(agents, first, capture) -> Appointment:
    """A weekly 30-minute stand-up, four times, on every technician given: pushed to each."""
    with capture(execute=True):
        return calendar_services.create_recurring_appointment(
            rule="RRULE:FREQ=WEEKLY;COUNT=4",
            agents=agents,
            start=first,
            end=first + timedelta(minutes=30),
            time_zone=AMSTERDAM,
            subject="Weekly team stand-up",
        )


def remote_id(appointment: Appointment, agent_calendar: AgentCalendar) -> str:
    return SyncLink.objects.get(appointment=appointment, agent_calendar=agent_calendar).remote_id


def agent_names(appointment: Appointment) -> list[str]:
    return sorted(agent.user.username for agent in appointment.agents.all())


def utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def quiet(*agent_calendars: AgentCalendar) -> list[tuple[int, int]]:
    """(pushed, pulled) of one more sync of each calendar: (0, 0) each once the sync converged."""
    return [(report.pushed, report.pulled) for report in map(sync, agent_calendars)]


def converged(capture, *agent_calendars: AgentCalendar) -> None:
    """Converged: the next sync of each calendar has nothing left to write or read."""
    with capture(execute=True):
        again = quiet(*agent_calendars)
    assert again == [(0, 0)] * len(agent_calendars), again


# --- the scenarios ------------------------------------------------------------------------------------


def reaches_each_calendar_once(calendars: Calendars, alice_cal, bob_cal, capture) -> None:
    """One entry in each technician's calendar, each organised by that technician with nobody
    invited; a pull on both imports nothing back and writes nothing (S3.9)."""
    alice_cal.agent.import_external = True
    alice_cal.agent.save()
    start = next_monday_15()
    job = on_site_together([alice_cal.agent, bob_cal.agent], start, capture)

    for agent_calendar in (alice_cal, bob_cal):
        (entry,) = calendars.entries(agent_calendar.agent.mailbox)
        assert entry["id"] == remote_id(job, agent_calendar)
        assert (entry["subject"], entry["start"]) == ("On site together", utc(start))
        assert entry["attendees"] == [] and entry["organiser_is_self"]
    converged(capture, alice_cal, bob_cal)
    assert Appointment.objects.count() == 1
    assert [len(calendars.entries(c.agent.mailbox)) for c in (alice_cal, bob_cal)] == [1, 1]


def deleted_on_one_takes_only_that_technician_off(calendars: Calendars, alice_cal, bob_cal, capture) -> None:
    start = next_monday_15()
    job = on_site_together([alice_cal.agent, bob_cal.agent], start, capture)
    calendars.delete(alice_cal.agent.mailbox, remote_id(job, alice_cal))

    with capture(execute=True):
        sync(alice_cal)

    job = Appointment.objects.get(pk=job.pk)
    assert agent_names(job) == ["bob"]
    assert not SyncLink.objects.filter(appointment=job, agent_calendar=alice_cal).exists()
    assert calendars.entries(alice_cal.agent.mailbox) == []
    assert [(e["subject"], e["start"]) for e in calendars.entries(bob_cal.agent.mailbox)] == [
        ("On site together", utc(start))
    ]
    converged(capture, alice_cal, bob_cal)
    assert calendars.entries(alice_cal.agent.mailbox) == []


def moved_on_one_is_written_back_and_logged(calendars: Calendars, alice_cal, bob_cal, capture) -> None:
    start = next_monday_15()
    job = on_site_together([alice_cal.agent, bob_cal.agent], start, capture)
    later = start + 3 * HOUR
    calendars.move(alice_cal.agent.mailbox, remote_id(job, alice_cal), later, later + 2 * HOUR, "Moved by Alice")

    with capture(execute=True):
        sync(alice_cal)

    job = Appointment.objects.get(pk=job.pk)
    assert (job.start, job.subject, agent_names(job)) == (start, "On site together", ["alice", "bob"])
    window = (start - HOUR, start + 6 * HOUR)
    every = [(utc(start), utc(start + 2 * HOUR), "On site together")]
    assert calendars.view(alice_cal.agent.mailbox, *window) == every
    assert calendars.view(bob_cal.agent.mailbox, *window) == every
    entry = SyncLogEntry.objects.filter(agent_calendar=alice_cal, direction="out").latest("pk")
    assert entry.message.startswith("Shared with 2 technicians: change it in the helpdesk.")
    assert entry.overwritten["subject"] == "Moved by Alice"
    assert "start" in entry.overwritten
    converged(capture, alice_cal, bob_cal)


def second_standup_cancelled_by_alice(calendars: Calendars, alice_cal, bob_cal, capture) -> tuple:
    """The shared stand-up, its second occurrence cancelled in Alice's calendar and pulled:
    (master, first start, second start)."""
    first = next_monday_15()
    series = standup([alice_cal.agent, bob_cal.agent], first, capture)
    second = first + WEEK
    calendars.cancel_occurrence(alice_cal.agent.mailbox, remote_id(series, alice_cal), second)
    with capture(execute=True):
        sync(alice_cal)
    return series, first, second


def occurrence_cancelled_on_one_takes_only_that_technician_off(
    calendars: Calendars, alice_cal, bob_cal, capture
) -> None:
    series, first, second = second_standup_cancelled_by_alice(calendars, alice_cal, bob_cal, capture)

    occurrence = series.occurrences.get(original_start=second)
    assert not occurrence.is_cancelled
    assert agent_names(occurrence) == ["bob"]
    assert agent_names(series.occurrences.get(original_start=first + 2 * WEEK)) == ["alice", "bob"]
    assert agent_names(Appointment.objects.get(pk=series.pk)) == ["alice", "bob"]
    entry = SyncLogEntry.objects.filter(agent_calendar=alice_cal, direction="in").latest("pk")
    assert "taken off the occurrence" in entry.message and "stays for the others" in entry.message
    window = (first - HOUR, first + 5 * WEEK)
    every = [(utc(first + n * WEEK), utc(first + n * WEEK + timedelta(minutes=30))) for n in range(4)]
    converged(capture, alice_cal, bob_cal)
    assert [(s, e) for s, e, _ in calendars.view(bob_cal.agent.mailbox, *window)] == every
    assert [(s, e) for s, e, _ in calendars.view(alice_cal.agent.mailbox, *window)] == [
        span for span in every if span[0] != utc(second)
    ]


def occurrence_cancelled_by_everyone_is_cancelled(calendars: Calendars, alice_cal, bob_cal, capture) -> None:
    series, first, second = second_standup_cancelled_by_alice(calendars, alice_cal, bob_cal, capture)
    calendars.cancel_occurrence(bob_cal.agent.mailbox, remote_id(series, bob_cal), second)

    with capture(execute=True):
        sync(bob_cal)

    assert series.occurrences.get(original_start=second).is_cancelled
    assert agent_names(series.occurrences.get(original_start=first + 2 * WEEK)) == ["alice", "bob"]


def occurrence_moved_on_one_is_written_back(calendars: Calendars, alice_cal, bob_cal, capture) -> None:
    first = next_monday_15()
    series = standup([alice_cal.agent, bob_cal.agent], first, capture)
    second = first + WEEK
    calendars.move_occurrence(
        alice_cal.agent.mailbox,
        remote_id(series, alice_cal),
        second,
        second + HOUR,
        second + HOUR + timedelta(minutes=30),
    )

    with capture(execute=True):
        sync(alice_cal)

    occurrence = series.occurrences.get(original_start=second)
    assert (occurrence.start, agent_names(occurrence)) == (second, ["alice", "bob"])
    window = (first - HOUR, first + 5 * WEEK)
    every = [(utc(first + n * WEEK), utc(first + n * WEEK + timedelta(minutes=30))) for n in range(4)]
    for agent_calendar in (alice_cal, bob_cal):
        assert [(s, e) for s, e, _ in calendars.view(agent_calendar.agent.mailbox, *window)] == every
    converged(capture, alice_cal, bob_cal)


def helpdesk_change_reaches_every_calendar(calendars: Calendars, alice_cal, bob_cal, capture) -> None:
    """The organiser's change (made in the helpdesk) reaches every technician's entry."""
    start = next_monday_15()
    job = on_site_together([alice_cal.agent, bob_cal.agent], start, capture)
    later = start + timedelta(days=1)

    with capture(execute=True):
        calendar_services.update_appointment(job, subject="On site, second day", start=later, end=later + 2 * HOUR)

    window = (start - HOUR, later + 6 * HOUR)
    expected = [(utc(later), utc(later + 2 * HOUR), "On site, second day")]
    for agent_calendar in (alice_cal, bob_cal):
        assert calendars.view(agent_calendar.agent.mailbox, *window) == expected
        assert len(calendars.entries(agent_calendar.agent.mailbox)) == 1


def technician_taken_off_loses_the_entry(calendars: Calendars, alice_cal, bob_cal, capture) -> None:
    start = next_monday_15()
    job = on_site_together([alice_cal.agent, bob_cal.agent], start, capture)

    with capture(execute=True):
        calendar_services.update_appointment(job, agents=[alice_cal.agent])

    assert calendars.entries(bob_cal.agent.mailbox) == []
    assert [e["subject"] for e in calendars.entries(alice_cal.agent.mailbox)] == ["On site together"]
    converged(capture, alice_cal, bob_cal)
    assert agent_names(Appointment.objects.get(pk=job.pk)) == ["alice"]


def deleted_in_the_helpdesk_leaves_every_calendar(calendars: Calendars, alice_cal, bob_cal, capture) -> None:
    job = on_site_together([alice_cal.agent, bob_cal.agent], next_monday_15(), capture)

    with capture(execute=True):
        calendar_services.delete_appointment(job)

    assert calendars.entries(alice_cal.agent.mailbox) == calendars.entries(bob_cal.agent.mailbox) == []
    assert not SyncLink.objects.exists()


def deleted_by_everyone_goes(calendars: Calendars, alice_cal, bob_cal, capture) -> None:
    """Deletion on one side, then on the other: the last technician's deletion removes it (S3.8)."""
    job = on_site_together([alice_cal.agent, bob_cal.agent], next_monday_15(), capture)
    for agent_calendar in (alice_cal, bob_cal):
        calendars.delete(agent_calendar.agent.mailbox, remote_id(job, agent_calendar))
        with capture(execute=True):
            sync(agent_calendar)

    assert not Appointment.objects.filter(pk=job.pk).exists()
    assert calendars.entries(alice_cal.agent.mailbox) == calendars.entries(bob_cal.agent.mailbox) == []


def declined_invitation_leaves_the_helpdesk(calendars: Calendars, alice_cal, bob_cal, capture) -> None:
    """An invitation from someone outside (not the helpdesk's) that Bob declines in his calendar,
    which keeps it there marked declined (EWS MyResponseType "Decline", Graph responseStatus
    "declined", Google attendees[self].responseStatus "declined"): not imported, and one imported
    while he had not answered leaves the helpdesk. Nothing is deleted from his calendar."""
    bob = bob_cal.agent
    bob.import_external = True
    bob.save()
    start = next_monday_15()
    kick_off = calendars.invitation(bob.mailbox, "Customer kick-off", start, start + HOUR)
    webinar = calendars.invitation(bob.mailbox, "Vendor webinar", start + 2 * HOUR, start + 3 * HOUR)
    calendars.decline(bob.mailbox, webinar)

    with capture(execute=True):
        sync(bob_cal)
    assert [(a.subject, agent_names(a)) for a in Appointment.objects.all()] == [("Customer kick-off", ["bob"])]

    calendars.decline(bob.mailbox, kick_off)
    with capture(execute=True):
        sync(bob_cal)

    assert not Appointment.objects.exists()
    assert sorted(e["subject"] for e in calendars.entries(bob.mailbox)) == ["Customer kick-off", "Vendor webinar"]
    converged(capture, bob_cal)
    assert not Appointment.objects.exists()


def lost_create_outside_the_window_is_found_by_its_marker(calendars: Calendars, alice_cal, bob_cal, capture) -> None:
    """A create the server stored but whose answer never came (the push gave up: the link holds no
    remote id and is marked unconfirmed, as `engine._Run._failed` leaves it), for a job beyond the
    import window, then deleted in the helpdesk: the pull that follows cannot see the entry in its
    listing of the window, so it asks the server for our marker (CalDAV UID, EWS and Graph extended
    property, Google's event id) and deletes it, rather than forgetting the link and leaving an
    entry nobody manages on the technician's calendar."""
    settings = CalendarSettings.load()
    settings.import_days_future = 14
    settings.save()
    job = on_site_together([alice_cal.agent], next_monday_15() + 4 * WEEK, capture)
    assert [e["subject"] for e in calendars.entries(alice_cal.agent.mailbox)] == ["On site together"]
    SyncLink.objects.filter(appointment=job).update(  # the answer to the create was lost
        remote_id="",
        version="",
        remote_hash="",
        local_hash="",
        span_start=None,
        span_end=None,
        snapshot={engine.UNCONFIRMED_CREATE: True},
        failures=1,
    )

    with capture(execute=True):
        calendar_services.delete_appointment(job)
    sync(alice_cal)

    assert calendars.entries(alice_cal.agent.mailbox) == []
    assert not SyncLink.objects.exists()


def whole_series_moves_half_an_hour_later(calendars: Calendars, alice_cal, bob_cal, capture) -> None:
    """The helpdesk moves the whole stand-up from 15:00 to 15:30 (trial fault 1): each exception
    moves with its series (RFC 5545 3.8.5.1 EXDATE and 3.8.4.4 RECURRENCE-ID name an instance the
    rule gives, so they must be at 15:30 too). The occurrence Alice cancelled on her phone stays off
    her calendar only, the one cancelled in the helpdesk stays cancelled everywhere, the one moved to
    Tuesday stays there once: no doubles, nothing cancelled comes back. The right value is dateutil's
    expansion of the shifted rule; what each calendar shows is read from the server's own data."""
    series, first, _second = second_standup_cancelled_by_alice(calendars, alice_cal, bob_cal, capture)
    third, fourth = first + 2 * WEEK, first + 3 * WEEK
    half = timedelta(minutes=30)
    tuesday = fourth + timedelta(days=1)
    with capture(execute=True):
        calendar_services.cancel_occurrence(series.occurrences.get(original_start=third))
        calendar_services.update_appointment(
            series.occurrences.get(original_start=fourth), start=tuesday, end=tuesday + half
        )

    with capture(execute=True):
        calendar_services.update_appointment(
            Appointment.objects.get(pk=series.pk), start=first + half, end=first + 2 * half
        )

    local = first.astimezone(AMSTERDAM).replace(tzinfo=None) + half
    shifted = [moment.replace(tzinfo=AMSTERDAM) for moment in rrule(WEEKLY, count=4, dtstart=local)]
    assert shifted[2] == third + half  # the shifted rule's third start: the cancelled one, still cancelled
    bobs = [(utc(s), utc(s + half)) for s in (shifted[0], shifted[1])] + [(utc(tuesday), utc(tuesday + half))]
    alices = [span for span in bobs if span[0] != utc(shifted[1])]
    window = (first - HOUR, first + 5 * WEEK)
    for agent_calendar, expected in ((alice_cal, alices), (bob_cal, bobs)):
        seen = [(s, e) for s, e, _ in calendars.view(agent_calendar.agent.mailbox, *window)]
        assert seen == expected, (agent_calendar.agent.mailbox, seen, expected)
        shown = Appointment.objects.visible().filter(master=series.pk, agents=agent_calendar.agent)
        assert [(utc(s), utc(e)) for s, e in shown.values_list("start", "end")] == expected
    converged(capture, alice_cal, bob_cal)
    for agent_calendar, expected in ((alice_cal, alices), (bob_cal, bobs)):
        assert [(s, e) for s, e, _ in calendars.view(agent_calendar.agent.mailbox, *window)] == expected


def this_and_following_splits_the_series(calendars: Calendars, alice_cal, bob_cal, capture) -> None:
    """The helpdesk moves the third stand-up "and the following ones" half an hour later, renamed:
    the series ends before it (UNTIL, RFC 5545 3.3.10) and a new series starts at it. Each
    calendar then holds two series, the old one updated and the new one created, and shows what
    dateutil expands of the two rules; a pull brings nothing back and writes nothing."""
    first = next_monday_15()
    series = standup([alice_cal.agent, bob_cal.agent], first, capture)
    third, half = first + 2 * WEEK, timedelta(minutes=30)

    with capture(execute=True):
        new = calendar_services.edit_occurrences(
            series.occurrences.get(original_start=third),
            scope=EditScope.FOLLOWING,
            subject="Weekly stand-up, new room",
            start=third + half,
            end=third + 2 * half,
        )

    local = first.astimezone(AMSTERDAM).replace(tzinfo=None)
    old = [(m.replace(tzinfo=AMSTERDAM), "Weekly team stand-up") for m in rrule(WEEKLY, count=2, dtstart=local)]
    later = rrule(WEEKLY, count=2, dtstart=local + 2 * WEEK + half)
    expected = sorted(
        (utc(s), utc(s + half), subject)
        for s, subject in [*old, *((m.replace(tzinfo=AMSTERDAM), "Weekly stand-up, new room") for m in later)]
    )
    window = (first - HOUR, first + 5 * WEEK)
    for agent_calendar in (alice_cal, bob_cal):
        assert calendars.view(agent_calendar.agent.mailbox, *window) == expected
        assert len(calendars.entries(agent_calendar.agent.mailbox)) == 2  # two series
        assert remote_id(new, agent_calendar) != remote_id(series, agent_calendar)
    converged(capture, alice_cal, bob_cal)
    for agent_calendar in (alice_cal, bob_cal):
        assert calendars.view(agent_calendar.agent.mailbox, *window) == expected


# --- one technician's entry changed on both sides (SPEC S3.8: never a lost change) --------------------


def projector(agent, start, capture) -> Appointment:
    """A 90-minute visit on one technician's calendar, pushed."""
    with capture(execute=True):
        return calendar_services.create_appointment(
            subject="Projector shows no signal", start=start, end=start + 90 * MINUTE, agents=[agent]
        )


def phone_move_and_helpdesk_note_are_both_kept(calendars: Calendars, alice_cal, bob_cal, capture) -> None:
    """The technician moves the entry on their phone while the coordinator only adds a note (the
    push meets the phone's newer version: 412 / ErrorIrresolvableConflict): merged per field
    against the last synced state, the time comes from the phone and the note from the helpdesk,
    on both sides. Nobody changed a field both did, so it is no conflict and nothing is listed as
    overwritten."""
    mailbox = alice_cal.agent.mailbox
    start = next_monday_15()
    job = projector(alice_cal.agent, start, capture)
    later = start + 4 * HOUR
    calendars.move(mailbox, remote_id(job, alice_cal), later, later + 90 * MINUTE, "Projector shows no signal")
    with capture(execute=True):
        calendar_services.update_appointment(job, note="Bring the HDMI adapter")
    with capture(execute=True):
        sync(alice_cal)

    job.refresh_from_db()
    assert (job.start, job.end, job.note) == (later, later + 90 * MINUTE, "Bring the HDMI adapter")
    window = (start - HOUR, start + 8 * HOUR)
    assert calendars.view(mailbox, *window) == [(utc(later), utc(later + 90 * MINUTE), "Projector shows no signal")]
    (entry,) = calendars.entries(mailbox)
    assert "Bring the HDMI adapter" in entry["body"]
    log = SyncLogEntry.objects.filter(agent_calendar=alice_cal)
    assert not log.filter(result=SyncLogEntry.Result.CONFLICT).exists()
    assert all(not e.overwritten for e in log)
    converged(capture, alice_cal)
    job.refresh_from_db()
    assert (job.start, job.note) == (later, "Bring the HDMI adapter")


def stand_up_moved_an_hour(first: datetime) -> list[datetime]:
    """The stand-up's four starts from `first`, moved an hour later on the Amsterdam wall clock:
    dateutil's expansion of the moved rule."""
    local = first.astimezone(AMSTERDAM).replace(tzinfo=None) + HOUR
    return [moment.replace(tzinfo=AMSTERDAM) for moment in rrule(WEEKLY, count=4, dtstart=local)]


def both_sides_show_without_conflict(
    calendars: Calendars, alice_cal, series: Appointment, first, expected: list, capture
) -> None:
    """The stand-up starting at `first` shows `expected` ((start, end) in UTC, in order) on the
    technician's calendar and in the helpdesk, with no conflict logged, and stays so."""
    mailbox = alice_cal.agent.mailbox
    window = (first - HOUR, first + 5 * WEEK)
    seen = sorted((s, e) for s, e, _ in calendars.view(mailbox, *window))
    assert seen == expected, (seen, expected)
    shown = Appointment.objects.visible().filter(master=series.pk)
    helpdesk = sorted((utc(s), utc(e)) for s, e in shown.values_list("start", "end"))
    assert helpdesk == expected, (helpdesk, expected)
    log = SyncLogEntry.objects.filter(agent_calendar=alice_cal)
    assert not log.filter(result=SyncLogEntry.Result.CONFLICT).exists(), [e.message for e in log]
    converged(capture, alice_cal)
    assert sorted((s, e) for s, e, _ in calendars.view(mailbox, *window)) == expected


def phone_moves_the_stand_up_an_hour(calendars: Calendars, alice_cal, series: Appointment, first) -> None:
    """The technician moves the whole 30-minute stand-up (from `first`) an hour later on the phone."""
    half = timedelta(minutes=30)
    calendars.move(
        alice_cal.agent.mailbox, remote_id(series, alice_cal), first + HOUR, first + HOUR + half, "Weekly team stand-up"
    )


def helpdesk_moves_the_stand_up_an_hour(series: Appointment, first, capture) -> None:
    """The coordinator moves the whole 30-minute stand-up (from `first`) an hour later."""
    half = timedelta(minutes=30)
    with capture(execute=True):
        calendar_services.update_appointment(
            Appointment.objects.get(pk=series.pk), start=first + HOUR, end=first + HOUR + half
        )


def moved_an_hour_without_its_third(calendars: Calendars, alice_cal, series: Appointment, first, capture) -> None:
    """The stand-up starting at `first` is, on both sides, weekly an hour later without its third
    occurrence (dateutil's expansion of the moved rule), with no conflict logged, and stays so."""
    half = timedelta(minutes=30)
    expected = [(utc(s), utc(s + half)) for n, s in enumerate(stand_up_moved_an_hour(first)) if n != 2]
    both_sides_show_without_conflict(calendars, alice_cal, series, first, expected, capture)


def helpdesk_cancellation_and_phone_series_move_are_both_kept(
    calendars: Calendars, alice_cal, bob_cal, capture
) -> None:
    """Review 6: the technician moves the whole stand-up an hour later on their phone while the
    coordinator cancels its third occurrence (the push meets the phone's newer version). The two
    touch different things (the series' time; one occurrence), so both are kept, and it is no
    conflict: the series runs at 16:00 and the third occurrence stays cancelled there (RFC 5545
    3.8.5.1: an EXDATE names an instance of the rule as it is, so it moves with the series). The
    right value is dateutil's expansion of the moved rule without its third start; what the
    calendar shows is read from the server's own data."""
    first = next_monday_15()
    series = standup([alice_cal.agent], first, capture)
    phone_moves_the_stand_up_an_hour(calendars, alice_cal, series, first)
    with capture(execute=True):
        calendar_services.cancel_occurrence(series.occurrences.get(original_start=first + 2 * WEEK))
    with capture(execute=True):
        sync(alice_cal)

    moved_an_hour_without_its_third(calendars, alice_cal, series, first, capture)


def phone_cancellation_and_helpdesk_series_move_are_both_kept(
    calendars: Calendars, alice_cal, bob_cal, capture
) -> None:
    """Review 6, the other way round: the technician cancels the third stand-up on their phone
    while the coordinator moves the whole series an hour later (the push meets the phone's newer
    version). Both are kept and it is no conflict: the series runs at 16:00 without its third
    occurrence, on both sides (RFC 5545 3.8.5.1: the EXDATE moves with the series). The right value
    is dateutil's expansion of the moved rule without its third start."""
    mailbox = alice_cal.agent.mailbox
    first = next_monday_15()
    series = standup([alice_cal.agent], first, capture)
    calendars.cancel_occurrence(mailbox, remote_id(series, alice_cal), first + 2 * WEEK)
    helpdesk_moves_the_stand_up_an_hour(series, first, capture)
    with capture(execute=True):
        sync(alice_cal)

    moved_an_hour_without_its_third(calendars, alice_cal, series, first, capture)


def helpdesk_occurrence_move_and_phone_series_move_are_both_kept(
    calendars: Calendars, alice_cal, bob_cal, capture
) -> None:
    """Review finding 2: the technician moves the whole stand-up an hour later on their phone while
    the coordinator moves its third occurrence on its own to 17:30. Different things, both kept,
    no conflict: the series runs at 16:00 (dateutil's expansion of the moved rule) and the third
    occurrence stays where the coordinator put it (RFC 5545 3.8.4.4: a RECURRENCE-ID names the
    instance of the rule as it is, so it moves with the series; the occurrence keeps its own
    times), on both sides."""
    half = timedelta(minutes=30)
    first = next_monday_15()
    series = standup([alice_cal.agent], first, capture)
    phone_moves_the_stand_up_an_hour(calendars, alice_cal, series, first)
    put = first + 2 * WEEK + 150 * MINUTE  # 17:30 of the third week
    with capture(execute=True):
        calendar_services.update_appointment(
            series.occurrences.get(original_start=first + 2 * WEEK), start=put, end=put + half
        )
    with capture(execute=True):
        sync(alice_cal)

    moved = stand_up_moved_an_hour(first)
    expected = sorted((utc(s), utc(s + half)) for s in [*moved[:2], put, moved[3]])
    both_sides_show_without_conflict(calendars, alice_cal, series, first, expected, capture)


def helpdesk_rename_of_one_occurrence_and_phone_series_move_are_both_kept(
    calendars: Calendars, alice_cal, bob_cal, capture
) -> None:
    """Review 7 F7: the technician moves the whole stand-up an hour later on their phone while the
    coordinator renames its third occurrence only (its times untouched; the push meets the phone's
    newer version). Both kept, no conflict: an occurrence edited in its text only follows the
    series' move (as the helpdesk's own series move and Google's "all events" change move it), so
    every stand-up runs at 16:00 (dateutil's expansion of the moved rule), on both sides, and the
    third keeps its own name. The bug this guards: the third stayed at 15:00 on both sides, an
    occurrence "moved back" on its own that nobody moved."""
    half = timedelta(minutes=30)
    first = next_monday_15()
    series = standup([alice_cal.agent], first, capture)
    phone_moves_the_stand_up_an_hour(calendars, alice_cal, series, first)
    with capture(execute=True):
        calendar_services.update_appointment(
            series.occurrences.get(original_start=first + 2 * WEEK), subject="Stand-up, room 2"
        )
    with capture(execute=True):
        sync(alice_cal)

    moved = stand_up_moved_an_hour(first)
    expected = [(utc(s), utc(s + half)) for s in moved]
    both_sides_show_without_conflict(calendars, alice_cal, series, first, expected, capture)
    third = series.occurrences.get(original_start=moved[2])
    assert (third.start, third.subject) == (moved[2], "Stand-up, room 2")
    subjects = [subject for _, _, subject in calendars.view(alice_cal.agent.mailbox, first - HOUR, first + 5 * WEEK)]
    assert "Stand-up, room 2" in subjects[2] and all("room 2" not in s for n, s in enumerate(subjects) if n != 2)


def phone_cancellation_and_move_of_a_series_with_a_cancelled_day_are_both_kept(
    calendars: Calendars, alice_cal, bob_cal, capture
) -> None:
    """Review finding 3: as `phone_cancellation_and_helpdesk_series_move_are_both_kept`, but the
    series already had its second stand-up cancelled (synced) before the coordinator moves it an
    hour later, which moves that cancellation too, while the phone cancels the third. Both kept,
    no conflict: weekly at 16:00 without its second and third (dateutil's expansion of the moved
    rule), on both sides."""
    mailbox, half = alice_cal.agent.mailbox, timedelta(minutes=30)
    first = next_monday_15()
    series = standup([alice_cal.agent], first, capture)
    with capture(execute=True):
        calendar_services.cancel_occurrence(series.occurrences.get(original_start=first + WEEK))
    with capture(execute=True):
        sync(alice_cal)
    calendars.cancel_occurrence(mailbox, remote_id(series, alice_cal), first + 2 * WEEK)
    helpdesk_moves_the_stand_up_an_hour(series, first, capture)
    with capture(execute=True):
        sync(alice_cal)

    expected = [(utc(s), utc(s + half)) for n, s in enumerate(stand_up_moved_an_hour(first)) if n not in (1, 2)]
    both_sides_show_without_conflict(calendars, alice_cal, series, first, expected, capture)


def both_moved_names_only_the_time(calendars: Calendars, alice_cal, bob_cal, capture) -> None:
    """Both sides move the entry and the coordinator also adds a note: the time is the one field
    both changed, so the conflict rule decides it (the helpdesk wins by default) and the log names
    start and end with the phone's values, and never the note only the helpdesk changed."""
    mailbox = alice_cal.agent.mailbox
    start = next_monday_15()
    job = projector(alice_cal.agent, start, capture)
    on_phone, in_helpdesk = start + 4 * HOUR, start + 2 * HOUR
    calendars.move(mailbox, remote_id(job, alice_cal), on_phone, on_phone + 90 * MINUTE, "Projector shows no signal")
    with capture(execute=True):
        calendar_services.update_appointment(
            job, start=in_helpdesk, end=in_helpdesk + 90 * MINUTE, note="Bring the HDMI adapter"
        )
    with capture(execute=True):
        report = sync(alice_cal)

    job.refresh_from_db()
    assert (job.start, job.note) == (in_helpdesk, "Bring the HDMI adapter")
    window = (start - HOUR, start + 8 * HOUR)
    assert calendars.view(mailbox, *window) == [
        (utc(in_helpdesk), utc(in_helpdesk + 90 * MINUTE), "Projector shows no signal")
    ]
    (conflict,) = SyncLogEntry.objects.filter(agent_calendar=alice_cal, result=SyncLogEntry.Result.CONFLICT)
    assert sorted(conflict.overwritten) == ["end", "start"]
    said = conflict.message[conflict.message.index("Overwritten in the external calendar:") :]
    assert "start " in said and "end " in said and "description" not in said, conflict.message
    assert "conflicts 1" in report.summary()
    converged(capture, alice_cal)


def planned_request_moved_on_the_phone_says_so_on_the_request(
    calendars: Calendars, alice_cal, bob_cal, capture
) -> None:
    """Trial fault 6: a request's planned entry moved on the technician's phone re-plans the
    request and leaves a line in its history, as a deletion does ("Unplanned from ...")."""
    alice = alice_cal.agent
    start = next_monday_15()
    with capture(execute=True):
        request = ticket_services.create_request(
            summary="Printer jams on tray 2", assigned_agents=[alice], planned_start=start
        )
    job = Appointment.objects.get(request=request)
    later = start + timedelta(days=1) - 6 * HOUR
    (entry,) = calendars.entries(alice.mailbox)
    calendars.move(alice.mailbox, remote_id(job, alice_cal), later, later + (job.end - job.start), entry["subject"])

    with capture(execute=True):
        sync(alice_cal)

    request.refresh_from_db()
    assert request.planned_start == later
    wall = later.astimezone(AMSTERDAM)  # alice's clock
    expected = f"Moved on {alice.name}'s calendar to {wall:%a %-d %b %Y %H:%M} {wall.tzname()}"
    assert [line.text for line in request.history.all()] == [expected]
    converged(capture, alice_cal)
    assert request.history.count() == 1


def planned_request_resized_on_the_phone_says_what_changed(calendars: Calendars, alice_cal, bob_cal, capture) -> None:
    """Trial 5: only the end of a request's planned entry changed on the phone (1:30 to 3:00); the
    history said "Moved ... to <the unchanged start>". It names the new end and length instead."""
    alice = alice_cal.agent
    start = next_monday_15()
    with capture(execute=True):
        request = ticket_services.create_request(
            summary="Projector shows no signal",
            assigned_agents=[alice],
            planned_start=start,
            estimate=timedelta(minutes=90),
        )
    job = Appointment.objects.get(request=request)
    (entry,) = calendars.entries(alice.mailbox)
    calendars.move(alice.mailbox, remote_id(job, alice_cal), start, start + 3 * HOUR, entry["subject"])

    with capture(execute=True):
        sync(alice_cal)

    request.refresh_from_db()
    assert (request.planned_start, request.estimate) == (start, 3 * HOUR)
    end = (start + 3 * HOUR).astimezone(AMSTERDAM)  # alice's clock
    expected = f"Resized on {alice.name}'s calendar: now ends {end:%a %-d %b %Y %H:%M} {end.tzname()} (length 3 h)"
    assert [line.text for line in request.history.all()] == [expected]
    converged(capture, alice_cal)


def firewall_update(alice_cal, capture):
    """A planned request on Alice's calendar next Monday at 15:00, pushed; the request and its entry."""
    with capture(execute=True):
        request = ticket_services.create_request(
            summary="Install firewall update", assigned_agents=[alice_cal.agent], planned_start=next_monday_15()
        )
    return request, Appointment.objects.get(request=request)


def deleted_on_the_phone_while_moved_comes_back_as_a_conflict(
    calendars: Calendars, alice_cal, bob_cal, capture
) -> None:
    """Trial fault 3: the technician deletes the entry while the coordinator moves it; the push
    meets a gone entry (412 / 404 / ErrorItemNotFound). The helpdesk wins by default, so the entry
    comes back at its new time, but as a conflict: counted, logged and on the request's history."""
    alice = alice_cal.agent
    request, job = firewall_update(alice_cal, capture)
    calendars.delete(alice.mailbox, remote_id(job, alice_cal))
    earlier, length = job.start - 2 * HOUR, job.end - job.start
    with capture(execute=True):
        calendar_services.update_appointment(job, start=earlier, end=earlier + length)

    with capture(execute=True):
        report = sync(alice_cal)

    said = f"{alice.name} removed this from their calendar; the helpdesk's change put it back."
    window = (earlier - HOUR, earlier + 6 * HOUR)
    assert [(s, e) for s, e, _subject in calendars.view(alice.mailbox, *window)] == [
        (utc(earlier), utc(earlier + length))
    ]
    (conflict,) = SyncLogEntry.objects.filter(agent_calendar=alice_cal, result=SyncLogEntry.Result.CONFLICT)
    assert conflict.message == said
    assert "conflicts 1" in report.summary()
    assert [line.text for line in request.history.all()] == [said]
    converged(capture, alice_cal)


def deleted_on_the_phone_while_moved_wins_under_the_external_rule(
    calendars: Calendars, alice_cal, bob_cal, capture
) -> None:
    """Fault 3 under "External calendar wins": the deletion wins, and the request is unplanned as a
    plain remote deletion unplans it, with the conflict logged and counted."""
    settings = CalendarSettings.load()
    settings.conflict_rule = ConflictRule.EXTERNAL_WINS
    settings.save()
    alice = alice_cal.agent
    request, job = firewall_update(alice_cal, capture)
    calendars.delete(alice.mailbox, remote_id(job, alice_cal))
    earlier = job.start - 2 * HOUR
    with capture(execute=True):
        calendar_services.update_appointment(job, start=earlier, end=earlier + (job.end - job.start))

    with capture(execute=True):
        report = sync(alice_cal)

    request.refresh_from_db()
    assert request.planned_start is None
    assert not Appointment.objects.filter(pk=job.pk).exists()
    assert calendars.entries(alice.mailbox) == []
    (conflict,) = SyncLogEntry.objects.filter(agent_calendar=alice_cal, result=SyncLogEntry.Result.CONFLICT)
    assert conflict.message.startswith(f"{alice.name} removed this from their calendar while the helpdesk changed it")
    assert "conflicts 1" in report.summary()
    assert [line.text.split(" on ")[0] for line in request.history.all()] == [f"Unplanned from {alice.name}'s calendar"]
    converged(capture, alice_cal)


def overwritten_phone_change_is_on_the_request(calendars: Calendars, alice_cal, bob_cal, capture) -> None:
    """An overwritten change of the technician's is seen by the coordinator too: both move a
    request's entry, the helpdesk wins, and the request's history says what the phone had (on
    the technician's clock), not only the technician's sync page."""
    alice = alice_cal.agent
    request, job = firewall_update(alice_cal, capture)
    length = job.end - job.start
    on_phone, in_helpdesk = job.start + 4 * HOUR, job.start + 2 * HOUR
    (entry,) = calendars.entries(alice.mailbox)
    calendars.move(alice.mailbox, remote_id(job, alice_cal), on_phone, on_phone + length, entry["subject"])
    with capture(execute=True):
        calendar_services.update_appointment(job, start=in_helpdesk, end=in_helpdesk + length)

    with capture(execute=True):
        sync(alice_cal)

    wall = on_phone.astimezone(AMSTERDAM)  # alice's clock
    (line,) = request.history.all()
    assert line.text.startswith(f"A change on {alice.name}'s calendar was overwritten by the helpdesk's version.")
    assert f"start {wall:%a %-d %b %Y %H:%M}" in line.text
    # Read in London (trial F-HIST-TZ), the phone's start is on that reader's clock, named.
    london = on_phone.astimezone(LONDON)
    assert f"start {london:%a %-d %b %Y %H:%M} {london.tzname()}" in line.text_on(LONDON)
    request.refresh_from_db()
    assert request.planned_start == in_helpdesk
    converged(capture, alice_cal)


# --- conflicts the rule decides, told in the log and on the request (SPEC S3.8) ----------------------


def external_rule() -> None:
    settings = CalendarSettings.load()
    settings.conflict_rule = ConflictRule.EXTERNAL_WINS
    settings.save()


def state_lost(job: Appointment) -> None:
    """The link as one made before the last synced state was kept, or whose sealed state could not
    be opened (another key): its hashes, no snapshot."""
    SyncLink.objects.filter(appointment=job).update(snapshot={})


def moved_on_the_phone_and_noted_in_the_helpdesk(calendars: Calendars, alice_cal, job: Appointment) -> datetime:
    """The projector visit moved four hours later on the phone while the coordinator adds a note
    (its push not run yet); the phone's new start."""
    later = job.start + 4 * HOUR
    calendars.move(
        alice_cal.agent.mailbox, remote_id(job, alice_cal), later, later + 90 * MINUTE, "Projector shows no signal"
    )
    calendar_services.update_appointment(job, note="Bring the HDMI adapter")
    return later


def old_link_learns_its_state_and_then_merges_field_by_field(calendars: Calendars, alice_cal, bob_cal, capture) -> None:
    """A link without its last synced state, in which nothing changed, gets that state at the next
    sync; so when the phone then moves the entry and the coordinator adds a note, each side keeps
    its own change (a three-way merge, as `phone_move_and_helpdesk_note_are_both_kept`), rather
    than the helpdesk's whole version moving the entry back."""
    mailbox = alice_cal.agent.mailbox
    start = next_monday_15()
    job = projector(alice_cal.agent, start, capture)
    state_lost(job)
    with capture(execute=True):
        first = sync(alice_cal)
    assert (first.pushed, first.pulled, first.conflicts) == (0, 0, 0)

    later = moved_on_the_phone_and_noted_in_the_helpdesk(calendars, alice_cal, job)
    with capture(execute=True):
        report = sync(alice_cal)

    job.refresh_from_db()
    assert (job.start, job.end, job.note) == (later, later + 90 * MINUTE, "Bring the HDMI adapter")
    window = (start - HOUR, start + 8 * HOUR)
    assert calendars.view(mailbox, *window) == [(utc(later), utc(later + 90 * MINUTE), "Projector shows no signal")]
    assert "Bring the HDMI adapter" in calendars.entries(mailbox)[0]["body"]
    assert "conflicts 0" in report.summary()
    converged(capture, alice_cal)


def both_changed_without_state_is_decided_field_by_field(calendars: Calendars, alice_cal, bob_cal, capture) -> None:
    """Both sides changed an entry whose link has no last synced state: compared as on a first
    sync, each field that differs is the helpdesk's (the default rule), the log says so and names
    only those fields with the phone's values, and the state is stored, so the next change on both
    sides (the phone's subject, the helpdesk's location) merges field by field: both kept."""
    mailbox = alice_cal.agent.mailbox
    start = next_monday_15()
    job = projector(alice_cal.agent, start, capture)
    state_lost(job)
    moved_on_the_phone_and_noted_in_the_helpdesk(calendars, alice_cal, job)

    with capture(execute=True):
        report = sync(alice_cal)

    job.refresh_from_db()
    assert (job.start, job.note) == (start, "Bring the HDMI adapter")
    window = (start - HOUR, start + 8 * HOUR)
    assert calendars.view(mailbox, *window) == [(utc(start), utc(start + 90 * MINUTE), "Projector shows no signal")]
    (conflict,) = SyncLogEntry.objects.filter(agent_calendar=alice_cal, result=SyncLogEntry.Result.CONFLICT)
    assert conflict.message.startswith(
        "No last synced state to compare with; compared field by field: start, end and description differed, "
        "the helpdesk's version kept. Stored now: the next change merges field by field."
    ), conflict.message
    assert {"start", "end"} <= set(conflict.overwritten) <= {"start", "end", "body"}
    assert "conflicts 1" in report.summary()

    calendars.move(mailbox, remote_id(job, alice_cal), start, start + 90 * MINUTE, "Projector replaced")
    calendar_services.update_appointment(job, location="Room 4")  # its push not run yet
    with capture(execute=True):
        again = sync(alice_cal)

    job.refresh_from_db()
    assert (job.subject, job.location) == ("Projector replaced", "Room 4")
    assert calendars.view(mailbox, *window) == [(utc(start), utc(start + 90 * MINUTE), "Projector replaced")]
    assert "conflicts 0" in again.summary()
    converged(capture, alice_cal)


def moved_on_the_phone(calendars: Calendars, alice_cal, job: Appointment) -> datetime:
    """The technician moves the request's entry four hours later on the phone; the new start."""
    later, length = job.start + 4 * HOUR, job.end - job.start
    (entry,) = calendars.entries(alice_cal.agent.mailbox)
    calendars.move(alice_cal.agent.mailbox, remote_id(job, alice_cal), later, later + length, entry["subject"])
    return later


def removed_in_the_helpdesk_while_moved_on_the_phone_is_a_conflict(
    calendars: Calendars, alice_cal, bob_cal, capture
) -> None:
    """The mirror of `deleted_on_the_phone_while_moved_comes_back_as_a_conflict`: the coordinator
    removes the request's entry while the technician moves it on the phone. Both changed it, so
    the rule decides (SPEC S3.8; the helpdesk wins by default): the removal reaches the calendar,
    as a conflict that is counted, logged with what the phone had, and told on the request."""
    alice = alice_cal.agent
    request, job = firewall_update(alice_cal, capture)
    later = moved_on_the_phone(calendars, alice_cal, job)
    calendar_services.delete_appointment(job)  # its push not run yet

    with capture(execute=True):
        report = sync(alice_cal)

    assert calendars.entries(alice.mailbox) == []
    assert not Appointment.objects.exists()
    said = f"{alice.name} changed this on their calendar after the helpdesk removed it from there; "
    said += "the helpdesk's removal won"
    (conflict,) = SyncLogEntry.objects.filter(agent_calendar=alice_cal, result=SyncLogEntry.Result.CONFLICT)
    assert conflict.message.startswith(said), conflict.message
    assert mapping_moment(conflict.overwritten["start"]) == utc(later)
    assert "conflicts 1" in report.summary()
    wall = later.astimezone(AMSTERDAM)  # alice's clock
    (line,) = [line.text for line in request.history.all() if line.text.startswith(said)]
    assert f"Overwritten in {alice.name}'s calendar: start {wall:%a %-d %b %Y %H:%M}" in line
    converged(capture, alice_cal)
    assert not Appointment.objects.exists()


def removed_in_the_helpdesk_while_moved_comes_back_under_the_external_rule(
    calendars: Calendars, alice_cal, bob_cal, capture
) -> None:
    """The same under "External calendar wins": the phone's change wins, so the entry stays on the
    calendar at the phone's time and comes back into the helpdesk (as the technician's own
    entry: the request stays unplanned), a conflict counted, logged and told on the request."""
    external_rule()
    alice = alice_cal.agent
    request, job = firewall_update(alice_cal, capture)
    later = moved_on_the_phone(calendars, alice_cal, job)
    length = job.end - job.start
    calendar_services.delete_appointment(job)  # its push not run yet

    with capture(execute=True):
        report = sync(alice_cal)

    window = (later - 6 * HOUR, later + 6 * HOUR)
    assert [(s, e) for s, e, _subject in calendars.view(alice.mailbox, *window)] == [(utc(later), utc(later + length))]
    (back,) = Appointment.objects.all()
    assert (back.start, back.end, agent_names(back)) == (later, later + length, ["alice"])
    said = f"{alice.name} changed this on their calendar after the helpdesk removed it from there; the change won"
    (conflict,) = SyncLogEntry.objects.filter(agent_calendar=alice_cal, result=SyncLogEntry.Result.CONFLICT)
    assert conflict.message.startswith(said), conflict.message
    assert "conflicts 1" in report.summary()
    assert [line.text for line in request.history.all() if line.text.startswith(said)] == [conflict.message]
    converged(capture, alice_cal)
    assert Appointment.objects.count() == 1


def overwritten_helpdesk_change_is_on_the_request(calendars: Calendars, alice_cal, bob_cal, capture) -> None:
    """The mirror of `overwritten_phone_change_is_on_the_request`: under "External calendar wins",
    both move a request's entry, the phone wins, and the request's history says what the
    helpdesk had (on the technician's clock), in the same words the other direction uses."""
    external_rule()
    alice = alice_cal.agent
    request, job = firewall_update(alice_cal, capture)
    in_helpdesk, length = job.start + 2 * HOUR, job.end - job.start
    on_phone = moved_on_the_phone(calendars, alice_cal, job)
    calendar_services.update_appointment(job, start=in_helpdesk, end=in_helpdesk + length)  # its push not run yet
    wall = in_helpdesk.astimezone(AMSTERDAM)  # alice's clock
    lead = f"A change in the helpdesk was overwritten by {alice.name}'s calendar's version."

    with capture(execute=True):
        sync(alice_cal)

    (line,) = [line.text for line in request.history.all() if line.text.startswith(lead)]
    assert f"Overwritten in the helpdesk: start {wall:%a %-d %b %Y %H:%M}" in line, line
    request.refresh_from_db()
    assert request.planned_start == on_phone
    converged(capture, alice_cal)


def removed_and_pushed_at_once_while_moved_is_a_conflict(calendars: Calendars, alice_cal, bob_cal, capture) -> None:
    """The coordinator's removal pushed at once (no pull in between) after the technician moved the
    entry: the deletion is conditional on the version last read (CalDAV If-Match, RFC 7232 3.1;
    Google If-Match, Calendar API "Versions of resources"; Graph's $batch DELETE with If-Match), so
    the server refuses it (412), the
    entry is read again and the conflict rule decides, logged and told on the request, as after a
    pull. Runs where the protocol offers a conditional deletion (`CONDITIONAL_DELETE`)."""
    alice = alice_cal.agent
    request, job = firewall_update(alice_cal, capture)
    moved_on_the_phone(calendars, alice_cal, job)

    with capture(execute=True):
        calendar_services.delete_appointment(job)

    assert calendars.entries(alice.mailbox) == []
    said = f"{alice.name} changed this on their calendar after the helpdesk removed it from there; "
    said += "the helpdesk's removal won"
    (conflict,) = SyncLogEntry.objects.filter(agent_calendar=alice_cal, result=SyncLogEntry.Result.CONFLICT)
    assert conflict.message.startswith(said), conflict.message
    assert [line.text for line in request.history.all() if line.text.startswith(said)] != []
    converged(capture, alice_cal)
    assert not Appointment.objects.exists()


def phone_cancellation_kept_when_the_helpdesk_renames_a_series_with_a_moved_occurrence(
    calendars: Calendars, alice_cal, bob_cal, capture
) -> None:
    """Trial fault 4: Alice's stand-up has its third occurrence moved on its own (synced); her phone
    cancels the second (an EXDATE, RFC 5545 3.8.5.1) while, before the next pull, the coordinator
    renames the series (SUMMARY, 3.8.1.12: another property). SPEC S3.8 merges field by field and
    each left-out date or moved occurrence is an item of its own: the new name comes from the
    helpdesk AND the cancellation from the phone, on both sides, with no conflict. The right
    occurrences are dateutil's expansion of the rule less the cancelled date; what the calendar
    shows is read from the server's own data."""
    mailbox = alice_cal.agent.mailbox
    first = next_monday_15()
    series = standup([alice_cal.agent], first, capture)
    second, third = first + WEEK, first + 2 * WEEK
    moved = third + 2 * HOUR
    half = timedelta(minutes=30)
    with capture(execute=True):
        calendar_services.update_appointment(
            series.occurrences.get(original_start=third), start=moved, end=moved + half
        )
    converged(capture, alice_cal)

    calendars.cancel_occurrence(mailbox, remote_id(series, alice_cal), second)
    with capture(execute=True):
        calendar_services.update_appointment(Appointment.objects.get(pk=series.pk), subject="Team stand-up v3")
    with capture(execute=True):
        sync(alice_cal)

    local = first.astimezone(AMSTERDAM).replace(tzinfo=None)
    starts = [moment.replace(tzinfo=AMSTERDAM) for moment in rrule(WEEKLY, count=4, dtstart=local)]
    expected = [(utc(s), utc(s + half)) for s in starts if s not in (second, third)]
    expected = sorted([*expected, (utc(moved), utc(moved + half))])
    series = Appointment.objects.get(pk=series.pk)
    assert series.subject == "Team stand-up v3"
    assert series.occurrences.get(original_start=second).is_cancelled
    shown = Appointment.objects.visible().filter(master=series.pk)
    assert sorted((utc(s), utc(e)) for s, e in shown.values_list("start", "end")) == expected
    window = (first - HOUR, first + 5 * WEEK)
    assert [(s, e) for s, e, _ in calendars.view(mailbox, *window)] == expected
    assert {subject for _, _, subject in calendars.view(mailbox, *window)} == {"Team stand-up v3"}
    assert not SyncLogEntry.objects.filter(result=SyncLogEntry.Result.CONFLICT).exists()
    assert all(not entry.overwritten for entry in SyncLogEntry.objects.all())
    converged(capture, alice_cal)
    assert [(s, e) for s, e, _ in calendars.view(mailbox, *window)] == expected


def wall_clock(moment: datetime, zone) -> str:
    """A moment as the log names it, on `zone`'s wall clock: "Tue 30 Mar 2027 08:00"."""
    local = moment.astimezone(zone)
    return f"{local:%a} {local.day} {local:%b %Y %H:%M}"


def shared_series_deleted_on_one_phone_is_said_in_the_log(calendars: Calendars, alice_cal, bob_cal, capture) -> None:
    """Trial fault 7: Alice deletes the shared stand-up on her phone; she leaves every occurrence,
    Bob keeps them, and the log line says so instead of an empty message."""
    first = next_monday_15()
    series = standup([alice_cal.agent, bob_cal.agent], first, capture)
    calendars.delete(alice_cal.agent.mailbox, remote_id(series, alice_cal))

    with capture(execute=True):
        sync(alice_cal)

    assert agent_names(Appointment.objects.get(pk=series.pk)) == ["bob"]
    entry = SyncLogEntry.objects.filter(agent_calendar=alice_cal, direction="in").latest("pk")
    assert (entry.operation, entry.result) == ("delete", SyncLogEntry.Result.OK)
    name = alice_cal.agent.name
    assert entry.message == f"Deleted from {name}'s calendar: {name} taken off it; it stays for the others."


def phone_move_and_cancel_on_a_series_are_named_in_the_log(calendars: Calendars, alice_cal, bob_cal, capture) -> None:
    """Trial fault 7: Alice moves one occurrence of her own stand-up and cancels another on her
    phone; the pulled update's log line names both by the start the rule gives them (dateutil),
    on her wall clock, instead of an empty message."""
    first = next_monday_15()
    series = standup([alice_cal.agent], first, capture)
    local = first.astimezone(AMSTERDAM).replace(tzinfo=None)
    starts = [moment.replace(tzinfo=AMSTERDAM) for moment in rrule(WEEKLY, count=4, dtstart=local)]
    second, third = starts[1], starts[2]
    mailbox = alice_cal.agent.mailbox
    calendars.move_occurrence(mailbox, remote_id(series, alice_cal), second, second + HOUR, second + 90 * MINUTE)
    calendars.cancel_occurrence(mailbox, remote_id(series, alice_cal), third)

    with capture(execute=True):
        sync(alice_cal)

    assert series.occurrences.get(original_start=third).is_cancelled
    assert series.occurrences.get(original_start=second).start == second + HOUR
    entry = SyncLogEntry.objects.filter(agent_calendar=alice_cal, direction="in").latest("pk")
    assert (entry.operation, entry.result) == ("update", SyncLogEntry.Result.OK)
    zone = alice_cal.agent.zone
    assert entry.message == (
        f"Changed in {alice_cal.agent.name}'s calendar: the occurrence of {wall_clock(second, zone)} changed on its"
        f" own, the occurrence of {wall_clock(third, zone)} cancelled."
    )


def same_occurrence_changed_on_both_sides_is_the_only_conflict(
    calendars: Calendars, alice_cal, bob_cal, capture
) -> None:
    """SPEC S3.8 item by item: Alice's phone cancels the second and the third occurrence while the
    coordinator moves the second an hour later. Only the second was changed on both sides: the
    conflict rule (the helpdesk wins by default) keeps it moved, and the log lists only its
    cancellation as overwritten; the third stays cancelled on both sides. Expected starts from
    dateutil; what the calendar shows from the server's own data."""
    mailbox = alice_cal.agent.mailbox
    first = next_monday_15()
    series = standup([alice_cal.agent], first, capture)
    local = first.astimezone(AMSTERDAM).replace(tzinfo=None)
    starts = [moment.replace(tzinfo=AMSTERDAM) for moment in rrule(WEEKLY, count=4, dtstart=local)]
    second, third = starts[1], starts[2]
    half = timedelta(minutes=30)
    calendars.cancel_occurrence(mailbox, remote_id(series, alice_cal), second)
    calendars.cancel_occurrence(mailbox, remote_id(series, alice_cal), third)
    with capture(execute=True):
        calendar_services.update_appointment(
            series.occurrences.get(original_start=second), start=second + HOUR, end=second + HOUR + half
        )
    with capture(execute=True):
        sync(alice_cal)

    expected = sorted((utc(s), utc(s + half)) for s in [starts[0], second + HOUR, starts[3]])
    shown = Appointment.objects.visible().filter(master=series.pk)
    assert sorted((utc(s), utc(e)) for s, e in shown.values_list("start", "end")) == expected
    window = (first - HOUR, first + 5 * WEEK)
    assert [(s, e) for s, e, _ in calendars.view(mailbox, *window)] == expected
    (conflict,) = SyncLogEntry.objects.filter(result=SyncLogEntry.Result.CONFLICT)
    assert [mapping_moment(moment) for moment in conflict.overwritten["exdates"]] == [utc(second)]
    converged(capture, alice_cal)
    assert [(s, e) for s, e, _ in calendars.view(mailbox, *window)] == expected


def mapping_moment(tagged: str) -> datetime:
    """A snapshot moment of the sync log's `overwritten` ("T" + UTC ISO 8601) as an aware datetime."""
    assert tagged.startswith("T"), tagged
    return datetime.fromisoformat(tagged[1:])


SCENARIOS = [
    reaches_each_calendar_once,
    deleted_on_one_takes_only_that_technician_off,
    moved_on_one_is_written_back_and_logged,
    occurrence_cancelled_on_one_takes_only_that_technician_off,
    occurrence_cancelled_by_everyone_is_cancelled,
    occurrence_moved_on_one_is_written_back,
    helpdesk_change_reaches_every_calendar,
    technician_taken_off_loses_the_entry,
    deleted_in_the_helpdesk_leaves_every_calendar,
    deleted_by_everyone_goes,
    declined_invitation_leaves_the_helpdesk,
    lost_create_outside_the_window_is_found_by_its_marker,
    whole_series_moves_half_an_hour_later,
    this_and_following_splits_the_series,
    phone_move_and_helpdesk_note_are_both_kept,
    helpdesk_cancellation_and_phone_series_move_are_both_kept,
    helpdesk_occurrence_move_and_phone_series_move_are_both_kept,
    helpdesk_rename_of_one_occurrence_and_phone_series_move_are_both_kept,
    phone_cancellation_and_move_of_a_series_with_a_cancelled_day_are_both_kept,
    phone_cancellation_and_helpdesk_series_move_are_both_kept,
    both_moved_names_only_the_time,
    planned_request_moved_on_the_phone_says_so_on_the_request,
    planned_request_resized_on_the_phone_says_what_changed,
    deleted_on_the_phone_while_moved_comes_back_as_a_conflict,
    deleted_on_the_phone_while_moved_wins_under_the_external_rule,
    overwritten_phone_change_is_on_the_request,
    old_link_learns_its_state_and_then_merges_field_by_field,
    both_changed_without_state_is_decided_field_by_field,
    removed_in_the_helpdesk_while_moved_on_the_phone_is_a_conflict,
    removed_in_the_helpdesk_while_moved_comes_back_under_the_external_rule,
    overwritten_helpdesk_change_is_on_the_request,
    phone_cancellation_kept_when_the_helpdesk_renames_a_series_with_a_moved_occurrence,
    shared_series_deleted_on_one_phone_is_said_in_the_log,
    phone_move_and_cancel_on_a_series_are_named_in_the_log,
    same_occurrence_changed_on_both_sides_is_the_only_conflict,
]

# Each connector's module runs every scenario: `@each_scenario def test_...(scenario, ...)`.
each_scenario = pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)

# Connectors whose deletion is conditional on the version last read: CalDAV and Google (If-Match),
# Graph (its DELETE carries If-Match), EWS (DeleteItem does not check a change key, so the provider
# reads the entry's ChangeKey first with GetItem and refuses a changed one).
CONDITIONAL_DELETE = [removed_and_pushed_at_once_while_moved_is_a_conflict]
each_conditional_delete = pytest.mark.parametrize("scenario", CONDITIONAL_DELETE, ids=lambda s: s.__name__)
