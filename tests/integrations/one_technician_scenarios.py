"""A helpdesk appointment on one technician's calendar, the same on every connector: written once
here, run by each connector's module (test_caldav_shared.py, exchange/, graph/ and google/
test_*_shared.py) through its `Calendars` adapter (tests/integrations/shared_scenarios.py), each
against its peer through the real client library. What a calendar holds is read from the peer's
own state, never from our code. These were near-copies in each connector's sync suite."""

from __future__ import annotations

from datetime import UTC

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from agents.models import AgentSyncPolicy
from calendars import services as calendar_services
from calendars.models import Appointment, CalendarSettings, ConflictRule, SyncPolicy
from integrations import services
from integrations.models import AgentCalendar, SyncLink, SyncLogEntry
from integrations.sync import engine
from tests.integrations.shared_scenarios import HOUR, Calendars, next_monday_15, remote_id, sync
from tests.integrations.test_caldav_sync import make


def subjects(calendars: Calendars, agent_calendar: AgentCalendar) -> list[str]:
    return sorted(entry["subject"] for entry in calendars.entries(agent_calendar.agent.mailbox))


def deleted_appointment_deletes_the_entry_and_then_its_link(calendars: Calendars, alice_cal, capture) -> None:
    appointment = make(alice_cal.agent, next_monday_15(), capture)
    assert subjects(calendars, alice_cal) == ["Server room visit"]

    with capture(execute=True):
        calendar_services.delete_appointment(appointment)

    assert calendars.entries(alice_cal.agent.mailbox) == []
    assert not SyncLink.objects.exists()


def deleting_an_entry_already_gone_counts_as_done(calendars: Calendars, alice_cal, capture) -> None:
    appointment = make(alice_cal.agent, next_monday_15(), capture)
    calendars.delete(alice_cal.agent.mailbox, remote_id(appointment, alice_cal))

    with capture(execute=True):
        calendar_services.delete_appointment(appointment)

    assert not SyncLink.objects.exists()
    assert not SyncLogEntry.objects.filter(result=SyncLogEntry.Result.ERROR).exists()


def never_policy_pushes_nothing(calendars: Calendars, alice_cal, capture) -> None:
    alice = alice_cal.agent
    alice.sync_policy = AgentSyncPolicy.NEVER
    alice.save()

    make(alice, next_monday_15(), capture)

    assert calendars.entries(alice.mailbox) == []
    assert not SyncLink.objects.exists()


def ask_keeps_the_appointment_waiting_until_approved(calendars: Calendars, alice_cal, capture) -> None:
    settings = CalendarSettings.load()
    settings.sync_policy = SyncPolicy.ASK  # S3.3, set for everyone
    settings.save()
    appointment = make(alice_cal.agent, next_monday_15(), capture)
    assert calendars.entries(alice_cal.agent.mailbox) == []
    link = SyncLink.objects.get(appointment=appointment)
    assert link.approval == SyncLink.Approval.WAITING

    with capture(execute=True):
        services.approve(link)

    assert subjects(calendars, alice_cal) == ["Server room visit"]
    with capture(execute=True):
        again = sync(alice_cal)
    assert (again.pushed, again.pulled) == (0, 0)


def entry_deleted_on_the_calendar_deletes_the_appointment(calendars: Calendars, alice_cal, capture) -> None:
    appointment = make(alice_cal.agent, next_monday_15(), capture)
    sync(alice_cal)
    calendars.delete(alice_cal.agent.mailbox, remote_id(appointment, alice_cal))

    sync(alice_cal)

    assert not Appointment.objects.exists()
    assert not SyncLink.objects.exists()


def modification_beats_deletion(calendars: Calendars, alice_cal, capture) -> None:
    """Deleted on the calendar while changed in the helpdesk: the change wins and is written again."""
    appointment = make(alice_cal.agent, next_monday_15(), capture)
    sync(alice_cal)
    calendars.delete(alice_cal.agent.mailbox, remote_id(appointment, alice_cal))
    calendar_services.update_appointment(appointment, subject="Still needed")  # its push not run yet

    sync(alice_cal)

    assert list(Appointment.objects.values_list("subject", flat=True)) == ["Still needed"]
    assert subjects(calendars, alice_cal) == ["Still needed"]


def both_sides_changed_before_a_pull(calendars: Calendars, alice_cal, capture, rule: str) -> tuple[str, str]:
    """The entry renamed on the calendar while the helpdesk renamed the appointment (its push not run
    yet), under the admins' conflict rule, then one sync: (subject in the helpdesk, on the calendar)."""
    settings = CalendarSettings.load()
    settings.conflict_rule = rule
    settings.save()
    start = next_monday_15()
    appointment = make(alice_cal.agent, start, capture)
    sync(alice_cal)
    calendars.move(alice_cal.agent.mailbox, remote_id(appointment, alice_cal), start, start + HOUR, "Changed there")
    calendar_services.update_appointment(appointment, subject="Changed in the helpdesk")

    sync(alice_cal)

    appointment.refresh_from_db()
    (shown,) = subjects(calendars, alice_cal)
    return appointment.subject, shown


def conflict_helpdesk_wins_by_default(calendars: Calendars, alice_cal, capture) -> None:
    assert CalendarSettings.load().conflict_rule == ConflictRule.HELPDESK_WINS  # the default (S3.8)
    outcome = both_sides_changed_before_a_pull(calendars, alice_cal, capture, ConflictRule.HELPDESK_WINS)

    assert outcome == ("Changed in the helpdesk", "Changed in the helpdesk")
    assert SyncLogEntry.objects.get(result=SyncLogEntry.Result.CONFLICT).overwritten["subject"] == "Changed there"


def conflict_external_wins_when_admins_choose_it(calendars: Calendars, alice_cal, capture) -> None:
    outcome = both_sides_changed_before_a_pull(calendars, alice_cal, capture, ConflictRule.EXTERNAL_WINS)

    assert outcome == ("Changed there", "Changed there")
    conflict = SyncLogEntry.objects.get(result=SyncLogEntry.Result.CONFLICT)
    assert conflict.overwritten["subject"] == "Changed in the helpdesk"


def import_off_imports_nothing(calendars: Calendars, alice_cal, capture) -> None:
    """Import is off for a technician unless switched on (S3.4): their own entries stay theirs."""
    assert not alice_cal.agent.import_external
    sync(alice_cal)
    start = next_monday_15()
    calendars.add(alice_cal.agent.mailbox, "Dentist", start, start + HOUR)

    sync(alice_cal)

    assert not Appointment.objects.exists()
    assert subjects(calendars, alice_cal) == ["Dentist"]


def imported_entry_changed_there_is_named_in_the_log(calendars: Calendars, alice_cal, capture) -> None:
    """Trial fault 7, pulled in a batch: an entry Alice made in her own client is imported (S3.4),
    then moved an hour later and renamed there. Imported and on her calendar alone, its update is
    written with the other pulled updates of the run at once (engine `_flush_pulls`), and its log
    line names what changed, in the words the one-by-one pull uses, instead of an empty message.
    What changed is what her client wrote: the entry's SUMMARY, DTSTART and DTEND (RFC 5545
    3.8.1.12, 3.8.2.4, 3.8.2.2), which the helpdesk calls subject, start and end."""
    alice = alice_cal.agent
    alice.import_external = True
    alice.save()
    start = next_monday_15()
    entry_id = calendars.add(alice.mailbox, "Dentist", start, start + HOUR)
    with capture(execute=True):
        sync(alice_cal)
    (appointment,) = Appointment.objects.filter(source=Appointment.Source.EXTERNAL)

    calendars.move(alice.mailbox, entry_id, start + HOUR, start + 2 * HOUR, "Dentist, later")
    with capture(execute=True):
        sync(alice_cal)

    appointment.refresh_from_db()
    assert (appointment.start, appointment.end, appointment.subject) == (
        start + HOUR,
        start + 2 * HOUR,
        "Dentist, later",
    )
    (entry,) = SyncLogEntry.objects.filter(agent_calendar=alice_cal, direction="in", operation="update")
    assert entry.result == SyncLogEntry.Result.OK
    assert entry.message == f"Changed in {alice.name}'s calendar: subject, start and end.", entry.message


def helpdesk_move_is_named_in_the_pushed_line(calendars: Calendars, alice_cal, capture) -> None:
    """The push of an update says what changed in the helpdesk, as a pulled update's line says
    what changed there, instead of an empty message; Exchange, Graph and Google send it in a
    batch (the provider's apply_bulk), CalDAV alone, one log line each way. The coordinator moved
    the appointment an hour later: its start and end changed; the server holds the new start."""
    start = next_monday_15()
    appointment = make(alice_cal.agent, start, capture)
    with capture(execute=True):
        calendar_services.update_appointment(appointment, start=start + HOUR, end=start + 2 * HOUR)

    (shown,) = calendars.entries(alice_cal.agent.mailbox)
    assert shown["start"] == (start + HOUR).astimezone(UTC)
    entry = SyncLogEntry.objects.filter(agent_calendar=alice_cal, direction="out", operation="update").latest("pk")
    assert (entry.result, entry.message) == (SyncLogEntry.Result.OK, "Changed in the helpdesk: start and end.")


# --- a write the server made whose answer was lost (connection reset, timeout after the commit) ---


def _lose_every_answer(calendars: Calendars, alice_cal, operation: str, entry_id: str | None = None) -> None:
    """The server carries out the write and every retry of it, answering none (more than the HTTP
    policy tries): the push fails, and the next sync meets what the server made of it. Answers
    arrive again after the push (`calendars.answer_again()`)."""
    times = 3 * django_settings.SYNC_RETRY_ATTEMPTS
    calendars.lose_answer(alice_cal.agent.mailbox, operation, entry_id, times=times)


def _no_conflict_and_nothing_failing() -> None:
    assert (
        list(SyncLogEntry.objects.filter(result=SyncLogEntry.Result.CONFLICT).values_list("message", flat=True)) == []
    )
    assert not SyncLink.objects.filter(failures__gt=0).exists()


def _update_whose_answer_was_lost(calendars: Calendars, alice_cal, capture, rule: str) -> None:
    settings = CalendarSettings.load()
    settings.conflict_rule = rule
    settings.save()
    start = next_monday_15()
    appointment = make(alice_cal.agent, start, capture)
    _lose_every_answer(calendars, alice_cal, "update", remote_id(appointment, alice_cal))
    with capture(execute=True):  # the server makes this change; the helpdesk never hears so
        calendar_services.update_appointment(appointment, subject="First change")
    calendars.answer_again()
    assert SyncLink.objects.get().failures == 1

    with capture(execute=True):  # its push meets the entry as the lost write left it
        calendar_services.update_appointment(
            appointment, subject="Second change", start=start + HOUR, end=start + 2 * HOUR
        )
    sync(alice_cal)

    appointment.refresh_from_db()
    assert (appointment.subject, appointment.start) == ("Second change", start + HOUR)
    (entry,) = calendars.entries(alice_cal.agent.mailbox)
    assert (entry["subject"], entry["start"]) == ("Second change", start + HOUR)
    _no_conflict_and_nothing_failing()


def update_whose_answer_was_lost_is_known_as_ours(calendars: Calendars, alice_cal, capture) -> None:
    """The server made the helpdesk's change but the answer was lost, and the helpdesk changed the
    same field again before the retry: the entry's new version is our own write (as Outlook and
    Google's clients know theirs), not a change made there. No conflict is logged, the request is
    told nothing was overwritten, and the newest helpdesk values are on the calendar."""
    _update_whose_answer_was_lost(calendars, alice_cal, capture, ConflictRule.HELPDESK_WINS)


def update_whose_answer_was_lost_never_undoes_the_helpdesk(calendars: Calendars, alice_cal, capture) -> None:
    """As above, when the admins let the external calendar win a conflict: our own lost write must
    not win over the helpdesk's newer change as if the technician had made it."""
    _update_whose_answer_was_lost(calendars, alice_cal, capture, ConflictRule.EXTERNAL_WINS)


def create_whose_answer_was_lost_is_made_once(calendars: Calendars, alice_cal, capture) -> None:
    """The server made the entry but no answer came, not even to the retries: the next sync finds
    it by our marker, writes no second one and imports nothing back."""
    _lose_every_answer(calendars, alice_cal, "create")
    appointment = make(alice_cal.agent, next_monday_15(), capture)
    calendars.answer_again()

    with capture(execute=True):
        calendar_services.update_appointment(appointment, subject="Renamed before the retry")
    sync(alice_cal)
    sync(alice_cal)

    assert subjects(calendars, alice_cal) == ["Renamed before the retry"]
    assert list(Appointment.objects.values_list("subject", flat=True)) == ["Renamed before the retry"]
    assert remote_id(appointment, alice_cal) == calendars.entries(alice_cal.agent.mailbox)[0]["id"]
    _no_conflict_and_nothing_failing()


def delete_whose_answer_was_lost_counts_as_done(calendars: Calendars, alice_cal, capture) -> None:
    """The server deleted the entry but no answer came: the retry's "not found" is success."""
    appointment = make(alice_cal.agent, next_monday_15(), capture)
    _lose_every_answer(calendars, alice_cal, "delete", remote_id(appointment, alice_cal))
    with capture(execute=True):
        calendar_services.delete_appointment(appointment)
    calendars.answer_again()

    later = timezone.now() + 2 * HOUR  # the retry, once the failed push's back-off is over
    engine.sync_agent_calendar(AgentCalendar.objects.get(pk=alice_cal.pk), pull=False, now=later)

    assert calendars.entries(alice_cal.agent.mailbox) == []
    assert not SyncLink.objects.exists()
    _no_conflict_and_nothing_failing()


SCENARIOS = [
    deleted_appointment_deletes_the_entry_and_then_its_link,
    deleting_an_entry_already_gone_counts_as_done,
    never_policy_pushes_nothing,
    ask_keeps_the_appointment_waiting_until_approved,
    entry_deleted_on_the_calendar_deletes_the_appointment,
    modification_beats_deletion,
    conflict_helpdesk_wins_by_default,
    conflict_external_wins_when_admins_choose_it,
    import_off_imports_nothing,
    imported_entry_changed_there_is_named_in_the_log,
    helpdesk_move_is_named_in_the_pushed_line,
]

# Each connector's module runs every scenario: `@each_scenario def test_...(scenario, ...)`.
each_scenario = pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)

# A write the server carried out whose answer was lost, on every connector through a peer that can
# lose answers (`Calendars.lose_answer`): `@each_lost_answer def test_...(scenario, ...)`.
LOST_ANSWERS = [
    update_whose_answer_was_lost_is_known_as_ours,
    update_whose_answer_was_lost_never_undoes_the_helpdesk,
    create_whose_answer_was_lost_is_made_once,
    delete_whose_answer_was_lost_counts_as_done,
]
each_lost_answer = pytest.mark.parametrize("scenario", LOST_ANSWERS, ids=lambda s: s.__name__)
