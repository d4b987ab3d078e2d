"""The sync engine against the local Microsoft Graph server through the real msal and requests: the
CalDAV and Exchange scenarios, and what Graph adds (delta links, transactionId, $batch, limits).
Deleting on either side, an entry already gone, a change beating a deletion, both sides changed
(each conflict rule), policy Never, Ask's approval and import off are
tests/integrations/one_technician_scenarios.py, run on every connector."""

import contextlib
import os
import signal
import threading
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
from integrations.providers.graph import MARKER_PROPERTY_ID
from integrations.sync import engine
from integrations.sync.inbound import inbound
from tests.integrations.series import helpdesk_view, make_weekly_series
from tests.integrations.stored_text import tables_holding
from tests.integrations.test_ask_keeps_copies_in_step import approve_then_move
from tests.integrations.test_caldav_sync import make, pull
from tests.integrations.zone_notes import assert_read_with_a_zone_note

from .conftest import ALICE, CLIENT_ID

pytestmark = pytest.mark.django_db
HOUR = timedelta(hours=1)


def only_event(graph) -> dict:
    (event,) = graph.events(ALICE)
    return event


def marker_of(event: dict) -> str | None:
    return next(
        (p["value"] for p in event.get("singleValueExtendedProperties", []) if p["id"] == MARKER_PROPERTY_ID), None
    )


def subjects_in_outlook(graph) -> list[str]:
    return sorted(e["subject"] for e in graph.events(ALICE))


def subjects_in_helpdesk() -> list[str]:
    return sorted(Appointment.objects.visible().values_list("subject", flat=True))


# --- push ---------------------------------------------------------------------------------------------


def test_new_appointment_is_pushed_with_our_marker_and_no_attendees(
    alice_graph, graph, tomorrow_9, django_capture_on_commit_callbacks
):
    appointment = make(alice_graph.agent, tomorrow_9, django_capture_on_commit_callbacks, note="Bring keys")

    link = SyncLink.objects.get(appointment=appointment)
    event = only_event(graph)
    assert (event["subject"], event["body"]["content"], event["_start"], event["_end"]) == (
        "Server room visit",
        "Bring keys",
        tomorrow_9,
        tomorrow_9 + HOUR,
    )
    assert event["originalStartTimeZone"] == "W. Europe Standard Time"  # alice works in Europe/Amsterdam
    assert event["isReminderOn"] is True
    assert event["attendees"] == []
    assert marker_of(event) == link.marker
    assert event["transactionId"]
    assert (link.remote_id, link.version) == (event["id"], event["changeKey"])
    assert graph.without_immutable_ids == []


def test_changed_appointment_patches_only_what_changed(
    alice_graph, graph, tomorrow_9, django_capture_on_commit_callbacks
):
    appointment = make(alice_graph.agent, tomorrow_9, django_capture_on_commit_callbacks)
    graph.outlook_edit(ALICE, SyncLink.objects.get().remote_id, categories=["Red category"])
    pull(alice_graph)
    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.update_appointment(
            appointment, subject="Moved visit", start=tomorrow_9 + 2 * HOUR, end=tomorrow_9 + 3 * HOUR
        )

    event = only_event(graph)
    assert (event["subject"], event["_start"], event["_end"]) == (
        "Moved visit",
        tomorrow_9 + 2 * HOUR,
        tomorrow_9 + 3 * HOUR,
    )
    assert event["categories"] == ["Red category"]  # Outlook's own, kept
    assert SyncLink.objects.get().version == event["changeKey"]


def test_a_retried_create_makes_no_second_event(alice_graph, graph, tomorrow_9, django_capture_on_commit_callbacks):
    appointment = make(alice_graph.agent, tomorrow_9, django_capture_on_commit_callbacks)
    link = SyncLink.objects.get(appointment=appointment)
    # The answer of the create was lost: the link knows nothing of the remote entry and pushes again.
    SyncLink.objects.filter(pk=link.pk).update(remote_id="", version="", local_hash="", remote_hash="", pending=True)
    engine.sync_agent_calendar(alice_graph, pull=False)

    assert len(graph.events(ALICE)) == 1
    assert SyncLink.objects.get().remote_id == only_event(graph)["id"]


# --- pull ----------------------------------------------------------------------------------------------


def test_entry_made_in_outlook_is_imported_on_its_own_wall_clock(importing_graph, graph, tomorrow_9):
    graph.outlook_add(
        ALICE, tomorrow_9, tomorrow_9 + HOUR, "Dentist", location="Town", time_zone="Pacific Standard Time"
    )

    pull(importing_graph)

    appointment = Appointment.objects.get()
    assert (appointment.subject, appointment.location, appointment.note, appointment.source) == (
        "Dentist",
        "Town",
        "secret details",
        Appointment.Source.EXTERNAL,
    )
    assert (appointment.start, appointment.end) == (tomorrow_9, tomorrow_9 + HOUR)


def test_entry_changed_in_outlook_changes_the_appointment(
    alice_graph, graph, tomorrow_9, django_capture_on_commit_callbacks
):
    appointment = make(alice_graph.agent, tomorrow_9, django_capture_on_commit_callbacks)
    pull(alice_graph)
    start = (tomorrow_9 + 4 * HOUR).astimezone(UTC)
    graph.outlook_edit(
        ALICE,
        SyncLink.objects.get().remote_id,
        subject="Visit, new time",
        start={"dateTime": start.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
        end={"dateTime": (start + HOUR).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
    )

    pull(alice_graph)

    appointment.refresh_from_db()
    assert (appointment.subject, appointment.start) == ("Visit, new time", tomorrow_9 + 4 * HOUR)
    assert len(graph.events(ALICE)) == 1
    assert SyncLink.objects.get().version == only_event(graph)["changeKey"]


def test_own_entries_are_never_imported_back(importing_graph, graph, tomorrow_9, django_capture_on_commit_callbacks):
    make(importing_graph.agent, tomorrow_9, django_capture_on_commit_callbacks)
    SyncLink.objects.all().delete()  # even with its sync status lost, our marker tells it apart
    importing_graph.sync_token = ""
    importing_graph.save()

    pull(importing_graph)

    assert Appointment.objects.count() == 1
    assert len(graph.events(ALICE)) == 1


def test_polling_an_unchanged_calendar_costs_exactly_one_request(
    importing_graph, graph, tomorrow_9, django_capture_on_commit_callbacks
):
    appointment = make(importing_graph.agent, tomorrow_9, django_capture_on_commit_callbacks)
    graph.outlook_add(ALICE, tomorrow_9 + 3 * HOUR, tomorrow_9 + 4 * HOUR, "Dentist")
    pull(importing_graph)
    sequence = Appointment.objects.get(pk=appointment.pk).sequence
    before = len(graph.requests)

    report = pull(importing_graph)

    assert [(method, path.split("/")[-1]) for method, path, _ in graph.requests[before:]] == [("GET", "delta")]
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
def test_stale_etag_on_push_is_decided_by_the_conflict_rule(
    alice_graph, graph, tomorrow_9, django_capture_on_commit_callbacks, conflict_rule, outcome
):
    winner, loser = outcome
    appointment = make(alice_graph.agent, tomorrow_9, django_capture_on_commit_callbacks)
    graph.outlook_edit(ALICE, SyncLink.objects.get().remote_id, subject="Changed in Outlook")

    with django_capture_on_commit_callbacks(execute=True):  # the push holds the old etag: 412
        calendar_services.update_appointment(appointment, subject="Changed in the helpdesk")

    appointment.refresh_from_db()
    assert (appointment.subject, only_event(graph)["subject"]) == (winner, winner)
    conflict = SyncLogEntry.objects.get(result=SyncLogEntry.Result.CONFLICT)
    assert conflict.overwritten["subject"] == loser
    assert SyncLink.objects.get().version == only_event(graph)["changeKey"]


def test_an_entry_made_again_after_outlook_deleted_it_gets_a_transaction_id_of_its_own(
    alice_graph, graph, tomorrow_9, django_capture_on_commit_callbacks
):
    """transactionId is for "client retries to create the same event" (Graph event resource); what
    Graph does with one whose event was deleted is not documented. The server here answers it with
    the deleted event (a fault switch): the entry made again must still be a live one."""
    graph.transactions_outlive_deletes = True
    appointment = make(alice_graph.agent, tomorrow_9, django_capture_on_commit_callbacks)
    pull(alice_graph)
    first_id = SyncLink.objects.get().remote_id
    graph.outlook_delete(ALICE, first_id)
    calendar_services.update_appointment(appointment, subject="Still needed")

    pull(alice_graph)
    pull(alice_graph)

    assert subjects_in_helpdesk() == subjects_in_outlook(graph) == ["Still needed"]
    link = SyncLink.objects.get()
    assert link.remote_id == only_event(graph)["id"] != first_id


# --- Ask ------------------------------------------------------------------------------------------------


@pytest.fixture
def asking(alice_graph):
    settings = CalendarSettings.load()
    settings.sync_policy = SyncPolicy.ASK
    settings.save()
    return alice_graph


def test_ask_declined_appointment_never_reaches_outlook(asking, graph, tomorrow_9, django_capture_on_commit_callbacks):
    appointment = make(asking.agent, tomorrow_9, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        services.decline(SyncLink.objects.get(appointment=appointment))
    pull(asking)

    assert graph.events(ALICE) == []
    assert not [r for r in graph.requests if r[0] == "POST" and "events" in r[1]]


def test_ask_approved_appointment_moved_then_deleted_follows_on_outlook(
    asking, graph, tomorrow_9, django_capture_on_commit_callbacks
):
    """Trial report F3: a change of an approved entry is pushed at once (not held for a new approval,
    which left the old time there), and its deletion always flows."""
    appointment = approve_then_move(asking.agent, tomorrow_9, django_capture_on_commit_callbacks)

    event = only_event(graph)
    assert (event["_start"], event["_end"]) == (tomorrow_9 - HOUR, tomorrow_9)
    assert SyncLink.objects.get(appointment=appointment).approval == SyncLink.Approval.NOT_NEEDED
    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.delete_appointment(appointment)
    assert graph.events(ALICE) == []


# --- import rules ---------------------------------------------------------------------------------------


def test_private_entry_is_imported_as_busy_time_without_text(importing_graph, graph, tomorrow_9):
    graph.outlook_add(ALICE, tomorrow_9, tomorrow_9 + HOUR, "Hospital", sensitivity="private", showAs="free")

    pull(importing_graph)

    appointment = Appointment.objects.get()
    assert (appointment.subject, appointment.note, appointment.location) == ("", "", "")
    assert appointment.private and appointment.busy
    assert appointment.start == tomorrow_9
    assert only_event(graph)["subject"] == "Hospital"  # the helpdesk's blanking never reaches Outlook
    # Nor is its text readable anywhere the helpdesk stores it: log "(private)", snapshot sealed.
    assert tables_holding("Hospital", "secret details", "Room 1") == []
    assert SyncLogEntry.objects.get().subject == "(private)"


@pytest.fixture
def short_window(calendar_settings):
    calendar_settings.import_days_past, calendar_settings.import_days_future = 2, 3
    calendar_settings.save()
    return calendar_settings


def test_full_listing_imports_what_overlaps_the_window(alice_graph, graph, short_window):
    alice = alice_graph.agent
    alice.import_external = True
    alice.save()
    now = timezone.now().replace(microsecond=0)
    graph.outlook_add(ALICE, now - timedelta(days=2, hours=1), now - timedelta(days=2) + HOUR, "Across the start")
    graph.outlook_add(ALICE, now - timedelta(days=3), now - timedelta(days=3) + HOUR, "Before")
    graph.outlook_add(ALICE, now + timedelta(days=3) - HOUR, now + timedelta(days=3) + HOUR, "Across the end")
    graph.outlook_add(ALICE, now + timedelta(days=4), now + timedelta(days=4) + HOUR, "After")

    pull(alice_graph)

    assert subjects_in_helpdesk() == ["Across the end", "Across the start"]


def test_refused_delta_link_does_a_full_resync_without_duplicates(
    importing_graph, graph, tomorrow_9, django_capture_on_commit_callbacks
):
    make(importing_graph.agent, tomorrow_9, django_capture_on_commit_callbacks)
    graph.outlook_add(ALICE, tomorrow_9 + 3 * HOUR, tomorrow_9 + 4 * HOUR, "Dentist")
    pull(importing_graph)
    graph.expire_delta_tokens()

    report = pull(importing_graph)

    assert report.full_resync
    assert subjects_in_helpdesk() == subjects_in_outlook(graph) == ["Dentist", "Server room visit"]
    assert SyncLink.objects.count() == 2


# --- faults and limits ------------------------------------------------------------------------------------


def test_throttled_push_is_waited_out_and_goes_through(
    alice_graph, graph, tomorrow_9, django_capture_on_commit_callbacks
):
    graph.fail(429, "ApplicationThrottled", times=2, retry_after="0", path="/$batch")

    make(alice_graph.agent, tomorrow_9, django_capture_on_commit_callbacks)

    assert subjects_in_outlook(graph) == ["Server room visit"]
    assert SyncLink.objects.get().remote_id == only_event(graph)["id"]


def test_long_retry_after_reschedules_the_item_for_that_long(
    alice_graph, graph, tomorrow_9, django_capture_on_commit_callbacks
):
    graph.fail(503, "ServiceUnavailable", times=1, retry_after="120", path="/$batch")

    make(alice_graph.agent, tomorrow_9, django_capture_on_commit_callbacks)

    link = SyncLink.objects.get()
    assert graph.events(ALICE) == []
    assert link.failures == 1
    assert timedelta(seconds=110) < link.next_attempt_at - timezone.now() <= timedelta(seconds=120)


def test_one_refused_item_of_a_batch_fails_alone(alice_graph, graph, tomorrow_9, django_capture_on_commit_callbacks):
    appointments = [
        make(alice_graph.agent, tomorrow_9 + n * HOUR, django_capture_on_commit_callbacks, subject=f"Visit {n}")
        for n in range(3)
    ]
    pull(alice_graph)
    links = {link.appointment_id: link for link in SyncLink.objects.all()}
    graph.outlook_delete(ALICE, links[appointments[1].pk].remote_id)  # gone: its update becomes a create
    graph.fail(500, "InternalServerError", times=1, path=links[appointments[2].pk].remote_id)
    for appointment in appointments:
        calendar_services.update_appointment(appointment, subject=appointment.subject + " (moved)")

    report = engine.sync_agent_calendar(alice_graph, pull=False)

    assert report.failed == 1
    assert subjects_in_outlook(graph) == ["Visit 0 (moved)", "Visit 1 (moved)", "Visit 2"]
    assert SyncLink.objects.get(appointment=appointments[2]).failures == 1


def test_pushing_100_changes_costs_at_most_5_requests(alice_graph, graph, tomorrow_9):
    alice = alice_graph.agent
    for n in range(100):
        calendar_services.create_appointment(
            subject=f"Visit {n}",
            start=tomorrow_9 + n * HOUR,
            end=tomorrow_9 + n * HOUR + timedelta(minutes=30),
            agents=[alice],
        )
    before = len(graph.graph_requests())

    report = engine.sync_agent_calendar(alice_graph, pull=False)

    assert report.pushed == 100 and report.failed == 0
    assert len(graph.events(ALICE)) == 100
    assert len(graph.graph_requests()) - before <= 5
    assert len(graph.batch_items) == 100
    assert graph.max_in_flight[ALICE] <= 4  # each $batch runs as 4 chains of dependent items


def test_never_more_than_4_requests_in_flight_per_mailbox(alice_graph, graph, tomorrow_9):
    from integrations.providers import registry
    from integrations.providers.base import RemoteCalendar, RemoteRef

    # Long enough that 12 threads reach the limit even on a loaded machine (0.05 s fell short).
    graph.delay = 0.3
    provider = registry.build(alice_graph.connection)
    calendar = provider.find_calendar(ALICE)
    created = [
        graph.outlook_add(ALICE, tomorrow_9 + n * HOUR, tomorrow_9 + n * HOUR + HOUR, f"Entry {n}") for n in range(12)
    ]
    errors = []

    def read(event_id):
        try:
            provider.get(RemoteCalendar(ALICE, calendar.calendar_id), RemoteRef(event_id))
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=read, args=(event["id"],)) for event in created]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert graph.max_in_flight[ALICE] == 4


# --- connection problems ------------------------------------------------------------------------------------


def test_wrong_secret_names_the_fix(alice_graph, graph_connection):
    graph_connection.set_secret("not-the-secret")
    graph_connection.save()

    with pytest.raises(ConnectionProblem, match=r"client secret.*\[AADSTS7000215\]"):
        services.test_connection(graph_connection, ALICE)


def test_missing_consent_names_the_fix(alice_graph, graph, graph_connection):
    graph.revoke_consent(CLIENT_ID)

    with pytest.raises(ConnectionProblem, match=r"Grant admin consent.*\[AADSTS65001\]"):
        services.test_connection(graph_connection, ALICE)


def test_mailbox_outside_the_access_policy_names_the_fix(alice_graph, graph, graph_connection):
    graph.mailboxes[ALICE].allowed = False

    with pytest.raises(ConnectionProblem, match=r"application access policy.*\[ErrorAccessDenied\]"):
        services.test_connection(graph_connection, ALICE)
    with pytest.raises(ConnectionProblem):
        engine.sync_agent_calendar(alice_graph, pull=True)
    alice_graph.refresh_from_db()
    assert alice_graph.state == "failing"


def test_unknown_mailbox_names_the_fix(graph, graph_connection):
    with pytest.raises(ConnectionProblem, match=r"no mailbox for nobody@example.com.*\[ErrorItemNotFound\]"):
        services.test_connection(graph_connection, "nobody@example.com")
    graph.add_mailbox("onprem@example.com").rest_enabled = False
    with pytest.raises(ConnectionProblem, match=r"\[MailboxNotEnabledForRESTAPI\]"):
        services.test_connection(graph_connection, "onprem@example.com")


def test_working_connection_says_what_works(alice_graph, graph_connection):
    assert "through it, alice@example.com's calendar opens" in services.test_connection(graph_connection, ALICE)


# --- a recurring series -------------------------------------------------------------------------------------


@pytest.fixture
def weekly_series(alice_graph, tomorrow_9, django_capture_on_commit_callbacks):
    return make_weekly_series(alice_graph.agent, tomorrow_9, django_capture_on_commit_callbacks)


def outlook_view(graph, start, end) -> list[tuple]:
    return [(e["_start"], e["_end"], e["subject"]) for e in graph.calendar_view(ALICE, start, end)]


def test_weekly_series_with_a_moved_and_a_cancelled_occurrence_shows_in_outlook_as_in_the_helpdesk(
    weekly_series, graph, tomorrow_9
):
    window = (tomorrow_9 - timedelta(days=1), tomorrow_9 + timedelta(days=60))

    assert outlook_view(graph, *window) == helpdesk_view(weekly_series, *window)
    assert len(helpdesk_view(weekly_series, *window)) == 5
    kinds = [entry["type"] for entry in graph.calendar_view(ALICE, *window)]
    assert (kinds.count("occurrence"), kinds.count("exception")) == (4, 1)
    (master,) = graph.events(ALICE)  # one master holds the series
    assert master["recurrence"]["pattern"]["type"] == "weekly"
    assert master["recurrence"]["range"] == {
        "type": "numbered",
        "numberOfOccurrences": 6,
        "startDate": tomorrow_9.date().isoformat(),
        "recurrenceTimeZone": "W. Europe Standard Time",
    }


def test_series_pulled_back_unchanged_writes_nothing(weekly_series, alice_graph, graph):
    pull(alice_graph)
    link = SyncLink.objects.get(appointment=weekly_series)
    writes = [r for r in graph.requests if r[0] in ("POST", "PATCH", "DELETE") and "$batch" not in r[1]]

    report = pull(alice_graph)

    assert (report.pushed, report.pulled, report.conflicts, report.failed) == (0, 0, 0, 0)
    assert [r for r in graph.requests if r[0] in ("POST", "PATCH", "DELETE") and "$batch" not in r[1]] == writes
    assert SyncLink.objects.get(pk=link.pk).version == graph.events(ALICE)[0]["changeKey"]


def test_occurrence_moved_and_cancelled_in_outlook_follow_in_the_helpdesk(
    weekly_series, alice_graph, graph, tomorrow_9
):
    pull(alice_graph)
    occurrences = list(weekly_series.occurrences.order_by("original_start"))
    fourth, fifth = occurrences[3], occurrences[4]
    view = {e["_original"]: e for e in graph.calendar_view(ALICE, tomorrow_9, tomorrow_9 + timedelta(days=60))}
    moved_start = fourth.start + 5 * HOUR
    graph.outlook_edit(
        ALICE,
        view[fourth.original_start]["id"],
        start={"dateTime": moved_start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
        end={"dateTime": (moved_start + HOUR).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
    )
    graph.outlook_delete(ALICE, view[fifth.original_start]["id"])

    pull(alice_graph)

    fourth.refresh_from_db()
    fifth.refresh_from_db()
    assert (fourth.start, fourth.is_modified) == (fourth.original_start + 5 * HOUR, True)
    assert fifth.is_cancelled
    window = (tomorrow_9 - timedelta(days=1), tomorrow_9 + timedelta(days=60))
    assert outlook_view(graph, *window) == helpdesk_view(weekly_series, *window)
    assert len(helpdesk_view(weekly_series, *window)) == 4


# --- faults: nothing lost, nothing duplicated ------------------------------------------------------------


def _sync_ignoring_faults(agent_calendar, *, pull: bool) -> None:
    with contextlib.suppress(ProviderError):
        engine.sync_agent_calendar(AgentCalendar.objects.get(pk=agent_calendar.pk), pull=pull)


def test_a_create_whose_answer_was_lost_is_not_duplicated(
    alice_graph, graph, tomorrow_9, django_capture_on_commit_callbacks
):
    graph.drop_next.append("/$batch")  # Graph makes the event; we never hear back, and retry

    make(alice_graph.agent, tomorrow_9, django_capture_on_commit_callbacks)

    assert subjects_in_outlook(graph) == ["Server room visit"]
    assert SyncLink.objects.get().remote_id == only_event(graph)["id"]


def test_an_appointment_deleted_after_a_create_that_gave_up_leaves_nothing_in_outlook(
    alice_graph, graph, tomorrow_9, django_capture_on_commit_callbacks
):
    """The Microsoft 365 kind of the Google long-profile failure `{'S1': (0, 1)}` (seed 7): Graph made
    the event but every answer was lost, so the create failed; then the helpdesk deleted the
    appointment. The push-only sync forgot the link and the event stayed in Outlook for good."""
    graph.drop_next.extend(["/$batch"] * 8)
    appointment = make(alice_graph.agent, tomorrow_9, django_capture_on_commit_callbacks)
    graph.drop_next.clear()
    assert SyncLink.objects.get().remote_id == ""
    assert subjects_in_outlook(graph) == ["Server room visit"]

    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.delete_appointment(appointment)  # queues a push-only sync
    engine.sync_agent_calendar(AgentCalendar.objects.get(pk=alice_graph.pk), pull=True)

    assert subjects_in_outlook(graph) == []
    assert not Appointment.objects.exists()
    assert not SyncLink.objects.exists()


@pytest.mark.slow
@pytest.mark.parametrize("seed", [3, 17])
def test_changes_flow_both_ways_through_faults_and_end_equal(importing_graph, graph, tomorrow_9, seed):
    alice = importing_graph.agent
    graph.random.seed(seed)
    graph.fault_rate = 0.3
    appointments, outlook_ids = [], []
    for n in range(5):
        start = tomorrow_9 + n * 2 * HOUR
        appointments.append(
            calendar_services.create_appointment(subject=f"Helpdesk {n}", start=start, end=start + HOUR, agents=[alice])
        )
        outlook_ids.append(
            graph.outlook_add(ALICE, start + timedelta(days=1), start + timedelta(days=1, hours=1), f"Outlook {n}")[
                "id"
            ]
        )
        _sync_ignoring_faults(importing_graph, pull=n % 2 == 0)
    calendar_services.update_appointment(appointments[0], subject="Helpdesk 0 renamed")
    calendar_services.delete_appointment(appointments[1])
    graph.outlook_edit(ALICE, outlook_ids[2], subject="Outlook 2 renamed")
    graph.outlook_delete(ALICE, outlook_ids[3])
    graph.expire_delta_tokens()  # the server lost its sync state once as well
    for _ in range(4):
        _sync_ignoring_faults(importing_graph, pull=True)
    served = dict(graph.faults_served)

    graph.calm()
    _sync_ignoring_faults(importing_graph, pull=True)
    _sync_ignoring_faults(importing_graph, pull=True)

    expected = ["Helpdesk 0 renamed", "Helpdesk 2", "Helpdesk 3", "Helpdesk 4"]
    expected += ["Outlook 0", "Outlook 1", "Outlook 2 renamed", "Outlook 4"]
    assert subjects_in_outlook(graph) == subjects_in_helpdesk() == sorted(expected)
    assert SyncLink.objects.count() == len(expected)
    assert sum(served.values()) >= 6 and len(served) >= 4, served  # the faults really hit, of most kinds


def test_the_server_throttles_a_batch_of_more_than_4_parallel_items_for_one_mailbox(alice_graph, graph):
    """The local server follows Graph: batch items without dependsOn run at once, and a mailbox
    takes 4 at a time; a failed item fails those that depend on it (424)."""
    import requests

    from integrations.providers import registry

    provider = registry.build(alice_graph.connection)
    from integrations.providers.graph.client import PREFER

    get = {"method": "GET", "url": f"/users/{ALICE}/calendar", "headers": {"Prefer": PREFER}}
    body = {"requests": [{"id": str(n), **get} for n in range(5)] + [{"id": "5", **get, "dependsOn": ["4"]}]}
    session = requests.Session()
    session.trust_env, session.verify = False, str(graph.ca_path)

    answer = session.post(f"{graph.base_url}/$batch", json=body, headers=provider._headers()).json()

    assert [r["status"] for r in sorted(answer["responses"], key=lambda r: r["id"])] == [200, 200, 200, 200, 429, 424]


def test_series_deleted_in_outlook_is_deleted_in_the_helpdesk(weekly_series, alice_graph, graph, tomorrow_9):
    pull(alice_graph)
    (master,) = graph.events(ALICE)

    graph.outlook_delete(ALICE, master["id"])  # the delta reports only its occurrences as removed
    pull(alice_graph)

    assert not Appointment.objects.visible().filter(subject="Weekly check").exists()
    assert not SyncLink.objects.exists()


def test_outlook_entry_in_a_custom_zone_keeps_its_instant_and_names_itself(importing_graph, graph, tomorrow_9, client):
    # Graph's originalStartTimeZone is "tzone://Microsoft/Custom" for a zone the user defined
    # (event resource type); the times come in UTC as asked (Prefer: outlook.timezone).
    graph.outlook_add(
        ALICE, tomorrow_9, tomorrow_9 + HOUR, "Site visit", originalStartTimeZone="tzone://Microsoft/Custom"
    )
    graph.outlook_add(ALICE, tomorrow_9 + 3 * HOUR, tomorrow_9 + 4 * HOUR, "Dentist")

    report = pull(importing_graph)

    assert_read_with_a_zone_note(
        report,
        importing_graph,
        client,
        zone="tzone://Microsoft/Custom",
        reading="as UTC",
        start=tomorrow_9,
        end=tomorrow_9 + HOUR,
    )


# --- the CalDAV and Exchange scenarios this suite lacked (issue 12: every one against Graph) ----------------


def test_subject_and_body_follow_the_admins_templates(
    alice_graph, graph, tomorrow_9, django_capture_on_commit_callbacks
):
    settings = CalendarSettings.load()
    settings.subject_template = "[helpdesk] {subject}"
    settings.body_template = "Note: {note}"
    settings.save()
    make(alice_graph.agent, tomorrow_9, django_capture_on_commit_callbacks, note="Bring keys")

    event = only_event(graph)
    assert (event["subject"], event["body"]["content"]) == ("[helpdesk] Server room visit", "Note: Bring keys")


def test_other_attendees_are_named_in_the_body_and_never_invited(
    alice_graph, graph, tomorrow_9, django_capture_on_commit_callbacks
):
    """S3.5 and issue 12: no attendee is written (Graph sends an invitation to every attendee of an
    event it saves, event resource type), so the people the helpdesk records go in the body."""
    appointment = make(
        alice_graph.agent,
        tomorrow_9,
        django_capture_on_commit_callbacks,
        note="Bring keys",
        other_attendees=["carol@example.com", "dave@example.org"],
    )

    event = only_event(graph)
    assert event["attendees"] == []
    assert event["body"]["content"] == "Bring keys\n\nOther attendees: carol@example.com, dave@example.org"
    report = pull(alice_graph)  # read back: the line is not taken for part of the note
    assert (report.pushed, report.pulled) == (0, 0)

    graph.outlook_edit(
        ALICE,
        event["id"],
        body={
            "contentType": "text",
            "content": "Bring keys and a ladder\n\nOther attendees: carol@example.com, dave@example.org",
        },
    )
    pull(alice_graph)
    appointment.refresh_from_db()
    assert appointment.note == "Bring keys and a ladder"

    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.update_appointment(appointment, other_attendees=["carol@example.com"])
    event = only_event(graph)
    assert event["attendees"] == []
    assert event["body"]["content"] == "Bring keys and a ladder\n\nOther attendees: carol@example.com"


def test_push_choice_of_the_manual_form_pushes_at_once(asking, graph, tomorrow_9, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        appointment = calendar_services.create_appointment(
            subject="Asked at once", start=tomorrow_9, end=tomorrow_9 + HOUR, agents=[asking.agent]
        )
        services.push_choice(appointment, push=True)

    assert subjects_in_outlook(graph) == ["Asked at once"]


def test_shared_appointment_reaches_each_technicians_calendar(
    alice_graph, bob, graph, graph_connection, tomorrow_9, django_capture_on_commit_callbacks
):
    services.connect_agent(bob, connection=graph_connection)

    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.create_appointment(
            subject="Together", start=tomorrow_9, end=tomorrow_9 + HOUR, agents=[alice_graph.agent, bob]
        )

    assert [e["subject"] for e in graph.events(ALICE)] == [e["subject"] for e in graph.events("bob@example.com")]
    assert subjects_in_outlook(graph) == ["Together"]
    assert graph.events(ALICE)[0]["attendees"] == graph.events("bob@example.com")[0]["attendees"] == []


def test_incremental_pull_ignores_changes_outside_the_window_until_they_move_in(
    importing_graph, graph, short_window, tomorrow_9
):
    far = graph.outlook_add(
        ALICE, tomorrow_9 + timedelta(days=30), tomorrow_9 + timedelta(days=30, hours=1), "Next month"
    )
    graph.outlook_add(ALICE, tomorrow_9 - timedelta(days=30), tomorrow_9 - timedelta(days=30) + HOUR, "Last month")
    graph.outlook_add(ALICE, tomorrow_9, tomorrow_9 + HOUR, "Tomorrow")

    pull(importing_graph)
    assert subjects_in_helpdesk() == ["Tomorrow"]

    start = (tomorrow_9 + 2 * HOUR).astimezone(UTC)
    graph.outlook_edit(
        ALICE,
        far["id"],
        start={"dateTime": start.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
        end={"dateTime": (start + HOUR).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
    )
    pull(importing_graph)
    assert subjects_in_helpdesk() == ["Next month", "Tomorrow"]
    assert SyncLink.objects.count() == 2


def test_entry_the_moving_window_reaches_is_imported_by_the_daily_full_listing(importing_graph, graph, short_window):
    now = timezone.now()
    start = now + timedelta(days=10)
    graph.outlook_add(ALICE, start, start + HOUR, "Planned long ago")
    engine.sync_agent_calendar(AgentCalendar.objects.get(pk=importing_graph.pk), pull=True, now=now)
    assert not Appointment.objects.exists()  # ten days ahead: outside the window of three

    a_week_later = now + timedelta(days=8)  # nothing changed in Outlook, but the window moved over it
    report = engine.sync_agent_calendar(AgentCalendar.objects.get(pk=importing_graph.pk), pull=True, now=a_week_later)

    assert subjects_in_helpdesk() == ["Planned long ago"]
    assert report.pulled == 1


def test_calendar_recovers_once_consent_is_granted_again(alice_graph, graph):
    graph.revoke_consent(CLIENT_ID)  # the app's tokens stop working; no new one is issued
    with pytest.raises(ConnectionProblem, match=r"\[AADSTS65001\]"):
        pull(alice_graph)
    alice_graph.refresh_from_db()
    assert alice_graph.state == AgentCalendar.State.FAILING

    graph.consented.add(CLIENT_ID)
    pull(alice_graph)

    alice_graph.refresh_from_db()
    assert (alice_graph.state, alice_graph.last_error) == (AgentCalendar.State.ACTIVE, "")


def test_a_sync_that_gave_up_after_the_create_leaves_no_duplicate(
    alice_graph, graph, tomorrow_9, django_capture_on_commit_callbacks
):
    # Graph makes the event each time and every answer is lost, until the push gives up.
    graph.drop_next.extend(["/$batch"] * 8)

    make(alice_graph.agent, tomorrow_9, django_capture_on_commit_callbacks, subject="Once only")
    assert SyncLink.objects.get().remote_id == ""  # the helpdesk does not know the entry exists
    graph.drop_next.clear()
    pull(alice_graph)
    pull(alice_graph)

    assert subjects_in_outlook(graph) == ["Once only"]
    assert Appointment.objects.count() == 1
    assert SyncLink.objects.get().remote_id == only_event(graph)["id"]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_between_create_and_commit_leaves_no_duplicate(alice_graph, graph, tomorrow_9, settings):
    settings.SYNC_LOCK_SECONDS = 1
    with inbound(alice_graph):  # no push on commit: the forked worker below pushes
        calendar_services.create_appointment(
            subject="Pushed while killed", start=tomorrow_9, end=tomorrow_9 + HOUR, agents=[alice_graph.agent]
        )
    assert services.queue_existing_appointments(alice_graph, since=tomorrow_9 - timedelta(days=1)) == 1
    graph.stall_after("/$batch")
    connections.close_all()

    pid = os.fork()
    if pid == 0:  # the worker: creates the entry, and dies before it can record the answer
        try:
            engine.sync_agent_calendar(AgentCalendar.objects.get(pk=alice_graph.pk), pull=False)
        finally:
            os._exit(0)
    assert graph.processed.wait(20), "the create never reached the server"
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    graph.calm()
    assert len(graph.events(ALICE)) == 1 and SyncLink.objects.get().remote_id == ""
    time.sleep(1.1)  # the dead worker's lease runs out

    pull(alice_graph)
    pull(alice_graph)

    assert subjects_in_outlook(graph) == ["Pushed while killed"]
    assert Appointment.objects.count() == 1
    assert SyncLink.objects.get().remote_id == only_event(graph)["id"]


def test_series_that_ended_before_the_window_survives_a_full_resync(
    alice_graph, graph, short_window, tomorrow_9, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.create_recurring_appointment(
            rule="RRULE:FREQ=DAILY;COUNT=3",
            agents=[alice_graph.agent],
            start=tomorrow_9 - timedelta(days=20),
            end=tomorrow_9 - timedelta(days=20) + HOUR,
            subject="Last month's training",
        )
    pull(alice_graph)
    graph.expire_delta_tokens()

    pull(alice_graph)
    pull(alice_graph)

    assert subjects_in_outlook(graph) == ["Last month's training"]
    assert Appointment.objects.filter(master__isnull=True, subject="Last month's training").exists()


# --- the fields Graph holds for us: sensitivity, showAs, reminder, all-day ------------------------------------


def test_privacy_free_time_and_reminder_are_written_as_graph_names_them(
    alice_graph, graph, tomorrow_9, django_capture_on_commit_callbacks
):
    """Graph event resource type: sensitivity "private" / "normal", showAs "free" / "busy",
    isReminderOn with reminderMinutesBeforeStart."""
    appointment = make(
        alice_graph.agent, tomorrow_9, django_capture_on_commit_callbacks, private=True, busy=False, reminder_minutes=30
    )
    event = only_event(graph)
    assert (event["sensitivity"], event["showAs"], event["isReminderOn"], event["reminderMinutesBeforeStart"]) == (
        "private",
        "free",
        True,
        30,
    )

    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.update_appointment(appointment, private=False, busy=True, reminder_minutes=5)

    event = only_event(graph)
    assert (event["sensitivity"], event["showAs"], event["isReminderOn"], event["reminderMinutesBeforeStart"]) == (
        "normal",
        "busy",
        True,
        5,
    )


def test_all_day_appointment_is_written_midnight_to_midnight_and_read_back_unchanged(
    alice_graph, graph, tomorrow_9, django_capture_on_commit_callbacks
):
    """Graph event resource type: an all-day event (isAllDay) starts and ends at midnight in one
    time zone, the end exclusive: two days are 00:00 of the first to 00:00 of the third."""
    first = tomorrow_9.date()
    with django_capture_on_commit_callbacks(execute=True):
        appointment = calendar_services.create_appointment(
            subject="Training days",
            start=first,
            end=first + timedelta(days=2),
            all_day=True,
            agents=[alice_graph.agent],
        )

    event = only_event(graph)
    assert event["isAllDay"] is True
    assert graph.render(event, "W. Europe Standard Time")["start"]["dateTime"].startswith(f"{first}T00:00:00")
    assert graph.render(event, "W. Europe Standard Time")["end"]["dateTime"].startswith(
        f"{first + timedelta(days=2)}T00:00:00"
    )
    report = pull(alice_graph)
    assert (report.pushed, report.pulled) == (0, 0)
    appointment.refresh_from_db()
    assert appointment.all_day and appointment.day_span(alice_graph.agent.zone) == (first, first + timedelta(days=2))


def test_all_day_entry_made_in_outlook_is_imported_as_its_days(importing_graph, graph, tomorrow_9):
    first = tomorrow_9.date()
    midnight = tomorrow_9.replace(hour=0)
    graph.outlook_add(
        ALICE, midnight, midnight + timedelta(days=1), "Holiday", isAllDay=True, time_zone="W. Europe Standard Time"
    )

    pull(importing_graph)

    appointment = Appointment.objects.get()
    assert appointment.all_day
    assert appointment.day_span(importing_graph.agent.zone) == (first, first + timedelta(days=1))


# --- throttling: 429, 503 and 504 with Retry-After go through the shared back-off -------------------------------

BUSY_ANSWERS = [
    pytest.param(429, "ApplicationThrottled", id="429"),
    pytest.param(503, "ServiceUnavailable", id="503"),
    pytest.param(504, "GatewayTimeout", id="504"),
]


@pytest.mark.parametrize("status, code", BUSY_ANSWERS)
def test_a_busy_answer_to_the_delta_is_waited_out_and_the_pull_goes_through(
    importing_graph, graph, tomorrow_9, status, code
):
    """Graph throttling guidance: honour Retry-After on 429, 503 and 504; a short wait is slept."""
    graph.outlook_add(ALICE, tomorrow_9, tomorrow_9 + HOUR, "Dentist")
    graph.fail(status, code, times=2, retry_after="1", path="/calendarView/delta")
    before = len(graph.requests)

    report = pull(importing_graph)

    assert report.failed == 0
    assert subjects_in_helpdesk() == ["Dentist"]
    assert len([r for r in graph.requests[before:] if r[1].endswith("/calendarView/delta")]) == 3  # 2 refused


@pytest.mark.parametrize("status, code", BUSY_ANSWERS)
def test_a_long_retry_after_on_the_delta_reschedules_the_pull_that_much_later(
    importing_graph, graph, retries, status, code
):
    from integrations.tasks import pull_agent_calendar

    graph.fail(status, code, times=1, retry_after="40", path="/calendarView/delta")

    pull_agent_calendar.apply(args=(importing_graph.pk,), throw=False)

    assert retries == [40]  # the wait Graph asked for, not slept in the worker


def test_a_delta_in_pages_is_followed_through_its_next_links_to_the_delta_link(importing_graph, graph, tomorrow_9):
    """Graph "Get incremental changes to events in a calendar view": a round is pages joined by
    @odata.nextLink, the last one carrying the @odata.deltaLink for the next round."""
    graph.max_page_size = 5
    for n in range(12):
        graph.outlook_add(ALICE, tomorrow_9 + n * HOUR, tomorrow_9 + n * HOUR + HOUR, f"Entry {n:02}")
    before = len(graph.requests)

    pull(importing_graph)

    deltas = [path for _method, path, _box in graph.requests[before:] if "/calendarView/delta" in path]
    assert len(deltas) == 3  # 5 + 5 + 2 entries
    assert subjects_in_helpdesk() == [f"Entry {n:02}" for n in range(12)]
    before = len(graph.requests)
    assert pull(importing_graph).pulled == 0
    assert [(m, p.split("/")[-1]) for m, p, _ in graph.requests[before:]] == [("GET", "delta")]


def test_a_batch_holds_a_slot_for_each_of_its_parallel_items(alice_graph, graph, tomorrow_9):
    """Graph JSON batching: the items of a $batch without dependsOn run at once, each one of the
    mailbox's 4 concurrent requests. A $batch running 4 items and single requests beside it must
    not make 5 or more in flight (the server answers those with 429 MailboxConcurrency)."""
    from integrations.providers import registry
    from integrations.providers.base import RemoteCalendar, RemoteRef

    graph.delay = 0.2
    provider = registry.build(alice_graph.connection)
    calendar = provider.find_calendar(ALICE)
    created = [
        graph.outlook_add(ALICE, tomorrow_9 + n * HOUR, tomorrow_9 + n * HOUR + HOUR, f"Entry {n}") for n in range(8)
    ]
    reads = [("GET", f"/users/{ALICE}/events/{event['id']}", None, {}) for event in created]
    errors, answers = [], []

    def batch():
        try:
            answers.extend(status for status, _h, _b in provider._batch(ALICE, reads))
        except Exception as error:
            errors.append(error)

    def single(event_id):
        try:
            provider.get(RemoteCalendar(ALICE, calendar.calendar_id), RemoteRef(event_id))
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=batch)]
    threads += [threading.Thread(target=single, args=(event["id"],)) for event in created[:3]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == [] and answers == [200] * 8
    assert graph.max_in_flight[ALICE] <= 4


def test_a_push_refused_for_the_mailbox_marks_the_calendar_failing(alice_graph, graph, tomorrow_9):
    """Task 5: Graph's ErrorAccessDenied for a mailbox outside the application access policy
    (Graph "Limiting application permissions to specific mailboxes") on every write marks the
    calendar failing with the fix, as a pull meeting it does."""
    calendar_services.create_appointment(
        subject="Waits", start=tomorrow_9, end=tomorrow_9 + timedelta(hours=1), agents=[alice_graph.agent]
    )
    graph.mailboxes[ALICE].allowed = False

    report = engine.sync_agent_calendar(AgentCalendar.objects.get(pk=alice_graph.pk), pull=False)

    failing = AgentCalendar.objects.get(pk=alice_graph.pk)
    assert report.failed == 1
    assert failing.state == AgentCalendar.State.FAILING
    assert "application access policy" in failing.last_error


def test_a_single_delete_of_an_entry_changed_in_outlook_since_read_is_refused(alice_graph, graph, tomorrow_9):
    """Task 6: the single DELETE carries If-Match on the change key we hold, as the $batch one does
    (Graph event "Delete": a stale If-Match is 412 Precondition Failed), so an entry changed in
    Outlook since we read it stays and the engine decides again."""
    from integrations.providers import registry
    from integrations.providers.base import RemoteRef, VersionConflict

    made = graph.outlook_add(ALICE, tomorrow_9, tomorrow_9 + timedelta(hours=1), "Visit")
    provider = registry.build(alice_graph.connection)
    calendar = provider.find_calendar(ALICE)
    ref = RemoteRef(made["id"], made["changeKey"])
    graph.outlook_edit(ALICE, made["id"], subject="Moved by the technician")

    with pytest.raises(VersionConflict):
        provider.delete(calendar, ref)

    assert [e["subject"] for e in graph.events(ALICE)] == ["Moved by the technician"]
