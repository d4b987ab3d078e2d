"""The sync engine against the local EWS server through the real exchangelib: the CalDAV scenarios,
and what Exchange adds (change keys, impersonation, sync states, series with exceptions)."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.utils import timezone

from agents.models import AgentSyncPolicy
from calendars import services as calendar_services
from calendars.models import Appointment, CalendarSettings, ConflictRule, SyncPolicy
from integrations import services
from integrations.models import AgentCalendar, SyncLink, SyncLogEntry
from integrations.providers.base import ConnectionProblem
from integrations.providers.exchange import HelpdeskLinkId
from integrations.sync import engine
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


def test_deleted_appointment_deletes_the_entry_and_then_its_link(
    alice_exchange, ews, tomorrow_9, django_capture_on_commit_callbacks
):
    appointment = make(alice_exchange.agent, tomorrow_9, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.delete_appointment(appointment)

    assert ews.items(ALICE) == []
    assert ews.notifications[-1] == ("DeleteItem", "SendToNone")
    assert not SyncLink.objects.exists()


def test_deleting_an_entry_already_gone_from_outlook_counts_as_done(
    alice_exchange, ews, tomorrow_9, django_capture_on_commit_callbacks
):
    appointment = make(alice_exchange.agent, tomorrow_9, django_capture_on_commit_callbacks)
    ews.outlook_delete(ALICE, SyncLink.objects.get().remote_id)
    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.delete_appointment(appointment)

    assert not SyncLink.objects.exists()
    assert not SyncLogEntry.objects.filter(result=SyncLogEntry.Result.ERROR).exists()


def test_never_policy_pushes_nothing(alice_exchange, ews, tomorrow_9, django_capture_on_commit_callbacks):
    alice = alice_exchange.agent
    alice.sync_policy = AgentSyncPolicy.NEVER
    alice.save()
    make(alice, tomorrow_9, django_capture_on_commit_callbacks)

    assert ews.items(ALICE) == []


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


def test_entry_deleted_in_outlook_deletes_the_appointment(
    alice_exchange, ews, tomorrow_9, django_capture_on_commit_callbacks
):
    make(alice_exchange.agent, tomorrow_9, django_capture_on_commit_callbacks)
    pull(alice_exchange)
    ews.outlook_delete(ALICE, SyncLink.objects.get().remote_id)

    pull(alice_exchange)

    assert not Appointment.objects.exists()
    assert not SyncLink.objects.exists()


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


@pytest.mark.parametrize("conflict_rule, outcome", RULES, indirect=["conflict_rule"])
def test_both_sides_changed_before_a_pull_is_decided_by_the_conflict_rule(
    alice_exchange, ews, tomorrow_9, django_capture_on_commit_callbacks, conflict_rule, outcome
):
    winner, loser = outcome
    appointment = make(alice_exchange.agent, tomorrow_9, django_capture_on_commit_callbacks)
    pull(alice_exchange)
    ews.outlook_update(ALICE, SyncLink.objects.get().remote_id, subject="Changed in Outlook")
    calendar_services.update_appointment(appointment, subject="Changed in the helpdesk")  # push not run yet

    pull(alice_exchange)

    appointment.refresh_from_db()
    assert (appointment.subject, only_item(ews).subject) == (winner, winner)
    assert SyncLogEntry.objects.get(result=SyncLogEntry.Result.CONFLICT).overwritten["subject"] == loser


def test_modification_beats_deletion(alice_exchange, ews, tomorrow_9, django_capture_on_commit_callbacks):
    appointment = make(alice_exchange.agent, tomorrow_9, django_capture_on_commit_callbacks)
    pull(alice_exchange)
    ews.outlook_delete(ALICE, SyncLink.objects.get().remote_id)
    calendar_services.update_appointment(appointment, subject="Still needed")

    pull(alice_exchange)

    assert subjects_in_helpdesk() == subjects_in_outlook(ews) == ["Still needed"]


# --- Ask ------------------------------------------------------------------------------------------------


@pytest.fixture
def asking(alice_exchange):
    settings = CalendarSettings.load()
    settings.sync_policy = SyncPolicy.ASK
    settings.save()
    return alice_exchange


def test_ask_keeps_the_appointment_waiting_until_approved(asking, ews, tomorrow_9, django_capture_on_commit_callbacks):
    appointment = make(asking.agent, tomorrow_9, django_capture_on_commit_callbacks)
    assert ews.items(ALICE) == []
    link = SyncLink.objects.get(appointment=appointment)
    assert link.approval == SyncLink.Approval.WAITING

    with django_capture_on_commit_callbacks(execute=True):
        services.approve(link)

    assert subjects_in_outlook(ews) == ["Server room visit"]


def test_ask_declined_appointment_never_reaches_outlook(asking, ews, tomorrow_9, django_capture_on_commit_callbacks):
    appointment = make(asking.agent, tomorrow_9, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        services.decline(SyncLink.objects.get(appointment=appointment))
    pull(asking)

    assert ews.items(ALICE) == []
    assert "CreateItem" not in ews.requests


# --- import rules ---------------------------------------------------------------------------------------


def test_import_off_imports_nothing(alice_exchange, ews, tomorrow_9):
    pull(alice_exchange)
    ews.outlook_create(ALICE, subject="Dentist", start=tomorrow_9, end=tomorrow_9 + HOUR)

    pull(alice_exchange)

    assert not Appointment.objects.exists()
    assert subjects_in_outlook(ews) == ["Dentist"]


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


def test_empty_full_listing_deletes_nothing_until_a_second_pull_confirms(
    alice_exchange, ews, tomorrow_9, django_capture_on_commit_callbacks
):
    make(alice_exchange.agent, tomorrow_9, django_capture_on_commit_callbacks)
    pull(alice_exchange)
    ews.outlook_delete(ALICE, SyncLink.objects.get().remote_id)
    ews.refuse_sync_states(ALICE)

    pull(alice_exchange)
    assert Appointment.objects.count() == 1

    ews.refuse_sync_states(ALICE)
    pull(alice_exchange)
    assert Appointment.objects.count() == 0


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
