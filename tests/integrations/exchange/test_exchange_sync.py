"""The sync engine against the local EWS server through the real exchangelib: the CalDAV scenarios, and
what Exchange adds (change keys, impersonation, sync states, series with exceptions). Deleting on
either side, an entry already gone, a change beating a deletion, both sides changed (each conflict
rule), policy Never, Ask's approval and import off are
tests/integrations/one_technician_scenarios.py, run on every connector."""

import contextlib
import os
import signal
import time
from datetime import UTC, timedelta

import pytest
from django.db import connections
from django.utils import timezone

from calendars import services as calendar_services
from calendars.models import Appointment, CalendarSettings, ConflictRule, SyncPolicy
from integrations import services
from integrations.models import AgentCalendar, SyncLink, SyncLogEntry
from integrations.providers.base import ConnectionProblem, ProviderError
from integrations.providers.exchange import HelpdeskLinkId
from integrations.sync import engine
from integrations.sync.inbound import inbound
from tests.integrations.series import helpdesk_view, make_weekly_series
from tests.integrations.stored_text import tables_holding
from tests.integrations.test_ask_keeps_copies_in_step import approve_then_move
from tests.integrations.test_caldav_sync import make, pull

from .conftest import ALICE

pytestmark = pytest.mark.django_db

MARKER_KEY = (HelpdeskLinkId.property_set_id, HelpdeskLinkId.property_name, "String")
HOUR = timedelta(hours=1)


def only_item(ews):
    (item,) = ews.items(ALICE)
    return item


def subjects_in_outlook(ews) -> list[str]:
    return sorted(item.subject for item in ews.items(ALICE))


def subjects_in_helpdesk() -> list[str]:
    return sorted(Appointment.objects.visible().values_list("subject", flat=True))


# --- push ---------------------------------------------------------------------------------------------


def test_new_appointment_is_pushed_with_our_link_id_and_no_invitation(
    alice_exchange, ews, tomorrow_9, django_capture_on_commit_callbacks
):
    appointment = make(alice_exchange.agent, tomorrow_9, django_capture_on_commit_callbacks, note="Bring keys")

    link = SyncLink.objects.get(appointment=appointment)
    item = only_item(ews)
    assert (item.subject, item.body, item.start, item.end) == (
        "Server room visit",
        "Bring keys",
        tomorrow_9,
        tomorrow_9 + HOUR,
    )
    assert item.start_tz == "W. Europe Standard Time"  # alice works in Europe/Amsterdam
    assert item.reminder_is_set
    assert item.extended[MARKER_KEY] == link.marker
    assert (link.remote_id, link.version) == (item.item_id, item.change_key)
    assert len(link.remote_id) > 150  # Exchange's ids are long; ours are stored whole
    assert ews.notifications == [("CreateItem", "SendToNone")]


def test_other_attendees_are_named_in_the_body_and_never_invited(
    alice_exchange, ews, tomorrow_9, django_capture_on_commit_callbacks
):
    """S3.5: no attendee is written (Exchange would send a meeting request to each); the people the
    helpdesk records are named in the body, and reading it back does not take that line for the note."""
    appointment = make(
        alice_exchange.agent,
        tomorrow_9,
        django_capture_on_commit_callbacks,
        note="Bring keys",
        other_attendees=["carol@example.com"],
    )

    item = only_item(ews)
    assert item.body == "Bring keys\n\nOther attendees: carol@example.com"
    assert ews.notifications == [("CreateItem", "SendToNone")]
    report = pull(alice_exchange)
    assert (report.pushed, report.pulled) == (0, 0)
    appointment.refresh_from_db()
    assert appointment.note == "Bring keys"


def test_changed_appointment_updates_the_entry_without_notifications(
    alice_exchange, ews, tomorrow_9, django_capture_on_commit_callbacks
):
    appointment = make(alice_exchange.agent, tomorrow_9, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.update_appointment(
            appointment, subject="Moved visit", start=tomorrow_9 + 2 * HOUR, end=tomorrow_9 + 3 * HOUR
        )

    item = only_item(ews)
    assert (item.subject, item.start, item.end) == ("Moved visit", tomorrow_9 + 2 * HOUR, tomorrow_9 + 3 * HOUR)
    assert SyncLink.objects.get().version == item.change_key
    assert ews.notifications[-1] == ("UpdateItem", "SendToNone")


# --- pull ----------------------------------------------------------------------------------------------


def test_entry_made_in_outlook_is_imported_on_its_own_wall_clock(importing_exchange, ews, tomorrow_9):
    start = tomorrow_9.astimezone(UTC)
    ews.outlook_create(
        ALICE, subject="Dentist", start=start, end=start + HOUR, time_zone="America/Los_Angeles", location="Town"
    )

    pull(importing_exchange)

    appointment = Appointment.objects.get()
    assert (appointment.subject, appointment.location, appointment.source) == (
        "Dentist",
        "Town",
        Appointment.Source.EXTERNAL,
    )
    assert (appointment.start, appointment.end) == (tomorrow_9, tomorrow_9 + HOUR)
    assert list(appointment.agents.all()) == [importing_exchange.agent]


def test_entry_changed_in_outlook_changes_the_appointment(
    alice_exchange, ews, tomorrow_9, django_capture_on_commit_callbacks
):
    appointment = make(alice_exchange.agent, tomorrow_9, django_capture_on_commit_callbacks)
    pull(alice_exchange)
    ews.outlook_update(
        ALICE,
        SyncLink.objects.get().remote_id,
        subject="Visit, new time",
        start=tomorrow_9 + 4 * HOUR,
        end=tomorrow_9 + 5 * HOUR,
    )

    pull(alice_exchange)

    appointment.refresh_from_db()
    assert (appointment.subject, appointment.start) == ("Visit, new time", tomorrow_9 + 4 * HOUR)
    assert len(ews.items(ALICE)) == 1
    assert SyncLink.objects.get().version == only_item(ews).change_key


def test_own_entries_are_never_imported_back(importing_exchange, ews, tomorrow_9, django_capture_on_commit_callbacks):
    make(importing_exchange.agent, tomorrow_9, django_capture_on_commit_callbacks)
    SyncLink.objects.all().delete()  # even with its sync status lost, our marker tells it apart

    pull(importing_exchange)

    assert Appointment.objects.count() == 1
    assert len(ews.items(ALICE)) == 1


def test_polling_an_unchanged_calendar_costs_exactly_one_request(
    importing_exchange, ews, tomorrow_9, django_capture_on_commit_callbacks
):
    appointment = make(importing_exchange.agent, tomorrow_9, django_capture_on_commit_callbacks)
    ews.outlook_create(ALICE, subject="Dentist", start=tomorrow_9 + 3 * HOUR, end=tomorrow_9 + 4 * HOUR)
    pull(importing_exchange)
    sequence = Appointment.objects.get(pk=appointment.pk).sequence
    before = ews.request_count

    report = pull(importing_exchange)

    assert ews.requests[before:] == ["SyncFolderItems"]
    assert (report.pushed, report.pulled, report.conflicts, report.failed) == (0, 0, 0, 0)
    assert Appointment.objects.get(pk=appointment.pk).sequence == sequence


# --- conflicts ------------------------------------------------------------------------------------------


@pytest.fixture
def conflict_rule(request):
    settings = CalendarSettings.load()
    settings.conflict_rule = request.param
    settings.save()
    return request.param


RULES = [
    pytest.param(ConflictRule.HELPDESK_WINS, ("Changed in the helpdesk", "Changed in Outlook"), id="helpdesk-wins"),
    pytest.param(ConflictRule.EXTERNAL_WINS, ("Changed in Outlook", "Changed in the helpdesk"), id="external-wins"),
]


@pytest.mark.parametrize("conflict_rule, outcome", RULES, indirect=["conflict_rule"])
def test_stale_change_key_on_push_is_decided_by_the_conflict_rule(
    alice_exchange, ews, tomorrow_9, django_capture_on_commit_callbacks, conflict_rule, outcome
):
    winner, loser = outcome
    appointment = make(alice_exchange.agent, tomorrow_9, django_capture_on_commit_callbacks)
    ews.outlook_update(ALICE, SyncLink.objects.get().remote_id, subject="Changed in Outlook")

    with django_capture_on_commit_callbacks(execute=True):  # the push holds the old change key
        calendar_services.update_appointment(appointment, subject="Changed in the helpdesk")

    appointment.refresh_from_db()
    assert (appointment.subject, only_item(ews).subject) == (winner, winner)
    conflict = SyncLogEntry.objects.get(result=SyncLogEntry.Result.CONFLICT)
    assert conflict.overwritten["subject"] == loser
    assert SyncLink.objects.get().version == only_item(ews).change_key


# --- Ask ------------------------------------------------------------------------------------------------


@pytest.fixture
def asking(alice_exchange):
    settings = CalendarSettings.load()
    settings.sync_policy = SyncPolicy.ASK
    settings.save()
    return alice_exchange


def test_ask_declined_appointment_never_reaches_outlook(asking, ews, tomorrow_9, django_capture_on_commit_callbacks):
    appointment = make(asking.agent, tomorrow_9, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        services.decline(SyncLink.objects.get(appointment=appointment))
    pull(asking)

    assert ews.items(ALICE) == []
    assert "CreateItem" not in ews.requests


def test_ask_approved_appointment_moved_then_deleted_follows_on_exchange(
    asking, ews, tomorrow_9, django_capture_on_commit_callbacks
):
    """Trial report F3: a change of an approved entry is pushed at once (not held for a new approval,
    which left the old time there), and its deletion always flows."""
    appointment = approve_then_move(asking.agent, tomorrow_9, django_capture_on_commit_callbacks)

    item = only_item(ews)
    assert (item.start, item.end) == (tomorrow_9 - HOUR, tomorrow_9)
    assert SyncLink.objects.get(appointment=appointment).approval == SyncLink.Approval.NOT_NEEDED
    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.delete_appointment(appointment)
    assert ews.items(ALICE) == []


# --- import rules ---------------------------------------------------------------------------------------


def test_private_entry_is_imported_as_busy_time_without_text(importing_exchange, ews, tomorrow_9):
    ews.outlook_create(
        ALICE,
        subject="Hospital",
        start=tomorrow_9,
        end=tomorrow_9 + HOUR,
        body="secret details",
        location="Room 1",
        sensitivity="Private",
        free_busy="Free",
    )

    pull(importing_exchange)

    appointment = Appointment.objects.get()
    assert (appointment.subject, appointment.note, appointment.location) == ("", "", "")
    assert appointment.private and appointment.busy
    assert appointment.start == tomorrow_9
    assert only_item(ews).subject == "Hospital"  # the helpdesk's blanking never reaches Outlook
    # Nor is its text readable anywhere the helpdesk stores it: log "(private)", snapshot sealed.
    assert tables_holding("Hospital", "secret details", "Room 1") == []
    assert SyncLogEntry.objects.get().subject == "(private)"


@pytest.fixture
def short_window(calendar_settings):
    calendar_settings.import_days_past, calendar_settings.import_days_future = 2, 3
    calendar_settings.save()
    return calendar_settings


def test_full_listing_imports_what_overlaps_the_window(alice_exchange, ews, short_window):
    alice = alice_exchange.agent
    alice.import_external = True
    alice.save()
    now = timezone.now().replace(microsecond=0)
    past_edge, future_edge = now - timedelta(days=2), now + timedelta(days=3)
    ews.outlook_create(ALICE, subject="Ends before the window", start=past_edge - 2 * HOUR, end=past_edge - HOUR)
    ews.outlook_create(ALICE, subject="Crosses the start", start=past_edge - HOUR, end=past_edge + HOUR)
    ews.outlook_create(ALICE, subject="Starts before the end", start=future_edge - HOUR, end=future_edge + HOUR)
    ews.outlook_create(ALICE, subject="Starts after the window", start=future_edge + HOUR, end=future_edge + 2 * HOUR)

    engine.sync_agent_calendar(alice_exchange, pull=True, now=now)

    assert subjects_in_helpdesk() == ["Crosses the start", "Starts before the end"]


def test_incremental_pull_ignores_changes_outside_the_window_until_they_move_in(
    importing_exchange, ews, short_window, tomorrow_9
):
    far = ews.outlook_create(
        ALICE, subject="Next month", start=tomorrow_9 + timedelta(days=30), end=tomorrow_9 + timedelta(days=30, hours=1)
    )
    ews.outlook_create(
        ALICE, subject="Last month", start=tomorrow_9 - timedelta(days=30), end=tomorrow_9 - timedelta(days=30) + HOUR
    )
    ews.outlook_create(ALICE, subject="Tomorrow", start=tomorrow_9, end=tomorrow_9 + HOUR)

    pull(importing_exchange)
    assert subjects_in_helpdesk() == ["Tomorrow"]

    ews.outlook_update(ALICE, far, start=tomorrow_9 + 2 * HOUR, end=tomorrow_9 + 3 * HOUR)
    pull(importing_exchange)
    assert subjects_in_helpdesk() == ["Next month", "Tomorrow"]
    assert SyncLink.objects.count() == 2


def test_entry_the_moving_window_reaches_is_imported_by_the_daily_full_listing(importing_exchange, ews, short_window):
    now = timezone.now()
    start = now + timedelta(days=10)
    ews.outlook_create(ALICE, subject="Planned long ago", start=start, end=start + HOUR)
    engine.sync_agent_calendar(AgentCalendar.objects.get(pk=importing_exchange.pk), pull=True, now=now)
    assert not Appointment.objects.exists()  # ten days ahead: outside the window of three

    a_week_later = now + timedelta(days=8)  # nothing changed in Exchange, but the window moved over it
    report = engine.sync_agent_calendar(
        AgentCalendar.objects.get(pk=importing_exchange.pk), pull=True, now=a_week_later
    )

    assert subjects_in_helpdesk() == ["Planned long ago"]
    assert report.pulled == 1


def test_refused_sync_state_does_a_full_resync_without_duplicates(
    importing_exchange, ews, tomorrow_9, django_capture_on_commit_callbacks
):
    make(importing_exchange.agent, tomorrow_9, django_capture_on_commit_callbacks, subject="Ours")
    ews.outlook_create(ALICE, subject="Theirs", start=tomorrow_9, end=tomorrow_9 + HOUR)
    pull(importing_exchange)
    ews.refuse_sync_states(ALICE)  # as after a mailbox move

    report = pull(importing_exchange)

    assert report.full_resync
    assert subjects_in_helpdesk() == subjects_in_outlook(ews) == ["Ours", "Theirs"]
    assert SyncLink.objects.count() == 2
    assert SyncLogEntry.objects.filter(operation="full resync").exists()

    before = ews.request_count
    pull(importing_exchange)  # the new state is taken: back to one request per poll
    assert ews.requests[before:] == ["SyncFolderItems"]


# --- what an admin must fix -------------------------------------------------------------------------------


def test_missing_impersonation_right_stops_the_sync_with_the_fix(alice_exchange, ews, tomorrow_9):
    ews.impersonators.clear()

    with pytest.raises(ConnectionProblem, match="grant it the ApplicationImpersonation role"):
        pull(alice_exchange)

    alice_exchange.refresh_from_db()
    assert alice_exchange.state == AgentCalendar.State.FAILING
    assert "ApplicationImpersonation" in alice_exchange.last_error


def test_calendar_recovers_once_the_server_takes_the_password_again(alice_exchange, ews, tomorrow_9):
    ews.fail_next("401")
    with pytest.raises(ConnectionProblem, match="check the account name and password"):
        pull(alice_exchange)

    pull(alice_exchange)

    alice_exchange.refresh_from_db()
    assert (alice_exchange.state, alice_exchange.last_error) == (AgentCalendar.State.ACTIVE, "")


# --- faults: nothing lost, nothing duplicated ------------------------------------------------------------


def _sync_ignoring_faults(agent_calendar, *, pull: bool) -> None:
    with contextlib.suppress(ProviderError):
        engine.sync_agent_calendar(AgentCalendar.objects.get(pk=agent_calendar.pk), pull=pull)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [3, 17])
def test_changes_flow_both_ways_through_faults_and_end_equal(importing_exchange, ews, tomorrow_9, seed):
    alice = importing_exchange.agent
    ews.random.seed(seed)
    ews.fault_kinds = ("busy", "500", "drop", "drop_after")
    ews.fault_rate = 0.3
    appointments, outlook_ids = [], []
    for n in range(5):
        start = tomorrow_9 + n * 2 * HOUR
        appointments.append(
            calendar_services.create_appointment(subject=f"Helpdesk {n}", start=start, end=start + HOUR, agents=[alice])
        )
        outlook_ids.append(
            ews.outlook_create(
                ALICE, subject=f"Outlook {n}", start=start + timedelta(days=1), end=start + timedelta(days=1, hours=1)
            )
        )
        _sync_ignoring_faults(importing_exchange, pull=n % 2 == 0)
    calendar_services.update_appointment(appointments[0], subject="Helpdesk 0 renamed")
    calendar_services.delete_appointment(appointments[1])
    ews.outlook_update(ALICE, outlook_ids[2], subject="Outlook 2 renamed")
    ews.outlook_delete(ALICE, outlook_ids[3])
    ews.fail_next("401")  # a sign-in refused once (a domain controller's hiccup) stops one sync, no more
    for _ in range(4):
        _sync_ignoring_faults(importing_exchange, pull=True)
    served = dict(ews.faults_served)

    ews.calm()
    _sync_ignoring_faults(importing_exchange, pull=True)
    _sync_ignoring_faults(importing_exchange, pull=True)

    expected = ["Helpdesk 0 renamed", "Helpdesk 2", "Helpdesk 3", "Helpdesk 4"]
    expected += ["Outlook 0", "Outlook 1", "Outlook 2 renamed", "Outlook 4"]
    assert subjects_in_outlook(ews) == subjects_in_helpdesk() == sorted(expected)
    assert SyncLink.objects.count() == len(expected)
    assert sum(served.values()) >= 6 and len(served) >= 4, served  # the faults really hit, of most kinds


def test_a_create_whose_answer_was_lost_is_not_duplicated(
    alice_exchange, ews, tomorrow_9, django_capture_on_commit_callbacks
):
    ews.fail_next("drop_after", operation="CreateItem")  # Exchange saves it; we never hear back

    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.create_appointment(
            subject="Once only", start=tomorrow_9, end=tomorrow_9 + HOUR, agents=[alice_exchange.agent]
        )

    assert ews.requests.count("CreateItem") == 1
    assert subjects_in_outlook(ews) == ["Once only"]
    assert SyncLink.objects.get().remote_id == only_item(ews).item_id


def test_a_sync_that_gave_up_after_the_create_leaves_no_duplicate(
    alice_exchange, ews, tomorrow_9, django_capture_on_commit_callbacks
):
    ews.fail_next("drop_after", operation="CreateItem")
    ews.fail_next("drop", times=3, operation="FindItem")  # every retry's look-up fails too

    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.create_appointment(
            subject="Once only", start=tomorrow_9, end=tomorrow_9 + HOUR, agents=[alice_exchange.agent]
        )
    assert ews.requests.count("CreateItem") == 1
    assert SyncLink.objects.get().remote_id == ""  # the helpdesk does not know the entry exists
    ews.calm()
    pull(alice_exchange)
    pull(alice_exchange)

    assert subjects_in_outlook(ews) == ["Once only"]
    assert Appointment.objects.count() == 1
    assert SyncLink.objects.get().remote_id == only_item(ews).item_id


def test_an_appointment_deleted_after_a_create_that_gave_up_leaves_nothing_in_outlook(
    alice_exchange, ews, tomorrow_9, django_capture_on_commit_callbacks
):
    """The Exchange kind of the Google long-profile failure `{'S1': (0, 1)}` (seed 7): Exchange saved
    the item but the create gave up (answer lost, every look-up failed), then the helpdesk deleted the
    appointment. The push-only sync forgot the link and the item stayed in Outlook for good."""
    ews.fail_next("drop_after", operation="CreateItem")
    ews.fail_next("drop", times=3, operation="FindItem")
    with django_capture_on_commit_callbacks(execute=True):
        appointment = calendar_services.create_appointment(
            subject="Soon gone", start=tomorrow_9, end=tomorrow_9 + HOUR, agents=[alice_exchange.agent]
        )
    assert SyncLink.objects.get().remote_id == ""
    ews.calm()
    assert subjects_in_outlook(ews) == ["Soon gone"]

    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.delete_appointment(appointment)  # queues a push-only sync
    pull(alice_exchange)

    assert subjects_in_outlook(ews) == []
    assert not Appointment.objects.exists()
    assert not SyncLink.objects.exists()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_between_create_and_commit_leaves_no_duplicate(alice_exchange, ews, tomorrow_9, settings):
    settings.SYNC_LOCK_SECONDS = 1
    with inbound(alice_exchange):  # no push on commit: the forked worker below pushes
        calendar_services.create_appointment(
            subject="Pushed while killed", start=tomorrow_9, end=tomorrow_9 + HOUR, agents=[alice_exchange.agent]
        )
    assert services.queue_existing_appointments(alice_exchange, since=tomorrow_9 - timedelta(days=1)) == 1
    ews.fail_next("stall_after", operation="CreateItem")
    connections.close_all()

    pid = os.fork()
    if pid == 0:  # the worker: creates the entry, and dies before it can record the answer
        try:
            engine.sync_agent_calendar(AgentCalendar.objects.get(pk=alice_exchange.pk), pull=False)
        finally:
            os._exit(0)
    assert ews.processed.wait(20), "the create never reached the server"
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    ews.calm()
    assert len(ews.items(ALICE)) == 1 and SyncLink.objects.get().remote_id == ""
    time.sleep(1.1)  # the dead worker's lease runs out

    pull(alice_exchange)
    pull(alice_exchange)

    assert subjects_in_outlook(ews) == ["Pushed while killed"]
    assert Appointment.objects.count() == 1
    assert SyncLink.objects.get().remote_id == only_item(ews).item_id


def test_server_busy_is_waited_out_and_the_push_goes_through(
    alice_exchange, ews, tomorrow_9, django_capture_on_commit_callbacks
):
    ews.fail_next("busy", times=2, back_off_ms=20)

    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.create_appointment(
            subject="After the wait", start=tomorrow_9, end=tomorrow_9 + HOUR, agents=[alice_exchange.agent]
        )

    assert subjects_in_outlook(ews) == ["After the wait"]
    assert not SyncLink.objects.get().pending


# --- a recurring series -------------------------------------------------------------------------------------


@pytest.fixture
def weekly_series(alice_exchange, tomorrow_9, django_capture_on_commit_callbacks):
    return make_weekly_series(alice_exchange.agent, tomorrow_9, django_capture_on_commit_callbacks)


def outlook_view(ews, start, end) -> list[tuple]:
    return [(entry.start, entry.end, entry.subject) for entry in ews.calendar_view(ALICE, start, end)]


def test_weekly_series_with_a_moved_and_a_cancelled_occurrence_shows_in_outlook_as_in_the_helpdesk(
    weekly_series, ews, tomorrow_9
):
    window = (tomorrow_9 - timedelta(days=1), tomorrow_9 + timedelta(days=60))

    assert outlook_view(ews, *window) == helpdesk_view(weekly_series, *window)
    assert len(helpdesk_view(weekly_series, *window)) == 5
    kinds = [entry.kind for entry in ews.calendar_view(ALICE, *window)]
    assert (kinds.count("Occurrence"), kinds.count("Exception")) == (4, 1)
    assert len(ews.items(ALICE)) == 1  # one master holds the series


def test_occurrence_moved_and_cancelled_in_outlook_follow_in_the_helpdesk(
    weekly_series, alice_exchange, ews, tomorrow_9
):
    pull(alice_exchange)
    master_id = SyncLink.objects.get(appointment=weekly_series).remote_id
    occurrences = list(weekly_series.occurrences.order_by("original_start"))
    fourth, fifth = occurrences[3], occurrences[4]
    ews.outlook_move_occurrence(
        ALICE, master_id, fourth.original_start, start=fourth.start + 5 * HOUR, end=fourth.end + 5 * HOUR
    )
    ews.outlook_cancel_occurrence(ALICE, master_id, fifth.original_start)

    pull(alice_exchange)

    fourth.refresh_from_db()
    fifth.refresh_from_db()
    assert (fourth.start, fourth.is_modified) == (fourth.original_start + 5 * HOUR, True)
    assert fifth.is_cancelled
    window = (tomorrow_9 - timedelta(days=1), tomorrow_9 + timedelta(days=60))
    assert outlook_view(ews, *window) == helpdesk_view(weekly_series, *window)
    assert len(helpdesk_view(weekly_series, *window)) == 4


def test_series_that_ended_before_the_window_survives_a_full_resync(
    alice_exchange, ews, short_window, tomorrow_9, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.create_recurring_appointment(
            rule="RRULE:FREQ=DAILY;COUNT=3",
            agents=[alice_exchange.agent],
            start=tomorrow_9 - timedelta(days=20),
            end=tomorrow_9 - timedelta(days=20) + HOUR,
            subject="Last month's training",
        )
    pull(alice_exchange)
    ews.refuse_sync_states(ALICE)

    pull(alice_exchange)
    pull(alice_exchange)

    assert subjects_in_outlook(ews) == ["Last month's training"]
    assert Appointment.objects.filter(master__isnull=True, subject="Last month's training").exists()


def test_delegate_access_syncs_without_impersonation(
    alice_exchange, ews, tomorrow_9, django_capture_on_commit_callbacks
):
    connection = alice_exchange.connection
    connection.options = connection.options | {"access_type": "delegate"}
    connection.save()
    ews.impersonators.clear()
    ews.grant_delegate(connection.username, ALICE)

    make(alice_exchange.agent, tomorrow_9, django_capture_on_commit_callbacks)
    pull(alice_exchange)

    assert subjects_in_outlook(ews) == ["Server room visit"]
    assert SyncLink.objects.get().remote_id == only_item(ews).item_id


def test_a_push_with_a_wrong_password_marks_the_calendar_failing(alice_exchange, ews_connection, tomorrow_9):
    """Task 5: a 401 on every EWS request (a wrong password) during a push marks the calendar
    failing with the fix, as a pull meeting it does."""

    calendar_services.create_appointment(
        subject="Waits", start=tomorrow_9, end=tomorrow_9 + timedelta(hours=1), agents=[alice_exchange.agent]
    )
    ews_connection.set_secret("wrong")
    ews_connection.save()

    report = engine.sync_agent_calendar(AgentCalendar.objects.get(pk=alice_exchange.pk), pull=False)

    failing = AgentCalendar.objects.get(pk=alice_exchange.pk)
    assert report.failed == 1
    assert failing.state == AgentCalendar.State.FAILING
    # The reason is the sign-in's (HTTP 401, which exchangelib raises as UnauthorizedError), not a
    # write's: it names the password to check, as the Graph twin names the access policy.
    assert "refused the sign-in" in failing.last_error
    assert "password" in failing.last_error
