"""The sync engine against the local Google Calendar server through the real google-api-python-client:
the CalDAV and Exchange scenarios, and what Google adds (etags, delegation, sync tokens, series
whose exceptions are events of their own). Deleting on either side, an entry already gone, a change
beating a deletion, policy Never, Ask's approval and import off are
tests/integrations/one_technician_scenarios.py, run on every connector."""

import contextlib
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events
from dateutil import rrule as dateutil_rrule
from django.utils import timezone

from calendars import services as calendar_services
from calendars.models import Appointment, CalendarSettings, ConflictRule, SyncPolicy
from integrations import services
from integrations.models import AgentCalendar, SyncLink, SyncLogEntry
from integrations.providers.base import ConnectionProblem, ProviderError
from integrations.providers.google import MARKER_KEY, event_id_for
from integrations.sync import engine
from tests.integrations.series import helpdesk_view, make_weekly_series
from tests.integrations.stored_text import tables_holding
from tests.integrations.test_ask_keeps_copies_in_step import approve_then_move
from tests.integrations.test_caldav_sync import make, pull
from tests.integrations.zone_notes import assert_read_with_a_zone_note
from tests.peers.google import instance_id

from .conftest import ALICE, CLIENT_ID

pytestmark = pytest.mark.django_db

HOUR = timedelta(hours=1)
EVENTS = f"/calendar/v3/calendars/{ALICE}/events"


def when(moment) -> dict:
    return {"dateTime": moment.astimezone(UTC).isoformat(), "timeZone": "UTC"}


def phone_add(google, subject, start, end, **fields) -> str:
    return google.phone_insert(ALICE, summary=subject, start=when(start), end=when(end), **fields)["id"]


def only_event(google) -> dict:
    (event,) = google.events(ALICE)
    return event


def subjects_in_google(google) -> list[str]:
    return sorted(event.get("summary", "") for event in google.events(ALICE) if not event.get("recurringEventId"))


def subjects_in_helpdesk() -> list[str]:
    return sorted(Appointment.objects.visible().values_list("subject", flat=True))


def start_of(event: dict):
    return datetime.fromisoformat(event["start"]["dateTime"]).astimezone(UTC)


# --- push ---------------------------------------------------------------------------------------------


def test_new_appointment_is_pushed_under_our_id_without_notifications(
    alice_google, google, tomorrow_9, django_capture_on_commit_callbacks
):
    appointment = make(alice_google.agent, tomorrow_9, django_capture_on_commit_callbacks, note="Bring keys")

    link = SyncLink.objects.get(appointment=appointment)
    event = only_event(google)
    assert (event["summary"], event["description"], start_of(event)) == ("Server room visit", "Bring keys", tomorrow_9)
    assert event["start"]["timeZone"] == "Europe/Amsterdam"  # alice works in Europe/Amsterdam
    assert event["extendedProperties"]["private"][MARKER_KEY] == link.marker
    assert event["id"] == event_id_for(link.marker) == link.remote_id
    assert link.version == event["etag"]
    assert [p for p in google.send_updates] == ["none"]


def test_other_attendees_are_named_in_the_description_and_never_invited(
    alice_google, google, tomorrow_9, django_capture_on_commit_callbacks
):
    """S3.5: no attendee is written (Google would invite each); the people the helpdesk records are
    named in the description, and reading it back keeps the note as it was."""
    appointment = make(
        alice_google.agent,
        tomorrow_9,
        django_capture_on_commit_callbacks,
        note="Bring keys",
        other_attendees=["carol@example.com"],
    )

    event = only_event(google)
    assert "attendees" not in event or event["attendees"] == []
    assert event["description"] == "Bring keys\n\nOther attendees: carol@example.com"
    report = pull(alice_google)
    assert (report.pushed, report.pulled) == (0, 0)
    appointment.refresh_from_db()
    assert appointment.note == "Bring keys"


def test_changed_appointment_patches_the_event_with_its_etag(
    alice_google, google, tomorrow_9, django_capture_on_commit_callbacks
):
    appointment = make(alice_google.agent, tomorrow_9, django_capture_on_commit_callbacks)
    google.phone_patch(ALICE, SyncLink.objects.get().remote_id, colorId="4")  # the user's own colour
    pull(alice_google)
    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.update_appointment(
            appointment, subject="Moved visit", start=tomorrow_9 + 2 * HOUR, end=tomorrow_9 + 3 * HOUR
        )

    event = only_event(google)
    assert (event["summary"], start_of(event), event["colorId"]) == ("Moved visit", tomorrow_9 + 2 * HOUR, "4")
    assert SyncLink.objects.get().version == event["etag"]
    assert set(google.send_updates) == {"none"}


# --- pull ----------------------------------------------------------------------------------------------


def test_event_made_on_the_phone_is_imported_on_its_own_wall_clock(importing_google, google, tomorrow_9):
    start = tomorrow_9.astimezone(UTC)
    google.phone_insert(
        ALICE,
        summary="Dentist",
        location="Town",
        start={"dateTime": start.astimezone().isoformat(), "timeZone": "America/Los_Angeles"},
        end={"dateTime": (start + HOUR).astimezone().isoformat(), "timeZone": "America/Los_Angeles"},
    )

    pull(importing_google)

    appointment = Appointment.objects.get()
    assert (appointment.subject, appointment.location, appointment.source) == (
        "Dentist",
        "Town",
        Appointment.Source.EXTERNAL,
    )
    assert (appointment.start, appointment.end) == (tomorrow_9, tomorrow_9 + HOUR)
    assert list(appointment.agents.all()) == [importing_google.agent]


def test_event_changed_on_the_phone_changes_the_appointment(
    alice_google, google, tomorrow_9, django_capture_on_commit_callbacks
):
    appointment = make(alice_google.agent, tomorrow_9, django_capture_on_commit_callbacks)
    pull(alice_google)
    google.phone_patch(
        ALICE,
        SyncLink.objects.get().remote_id,
        summary="Visit, new time",
        start=when(tomorrow_9 + 4 * HOUR),
        end=when(tomorrow_9 + 5 * HOUR),
    )

    pull(alice_google)

    appointment.refresh_from_db()
    assert (appointment.subject, appointment.start) == ("Visit, new time", tomorrow_9 + 4 * HOUR)
    assert len(google.events(ALICE)) == 1
    assert SyncLink.objects.get().version == only_event(google)["etag"]


def test_own_events_are_never_imported_back(importing_google, google, tomorrow_9, django_capture_on_commit_callbacks):
    make(importing_google.agent, tomorrow_9, django_capture_on_commit_callbacks)
    SyncLink.objects.all().delete()  # even with its sync status lost, our marker tells it apart

    pull(importing_google)

    assert Appointment.objects.count() == 1
    assert len(google.events(ALICE)) == 1


def test_polling_an_unchanged_calendar_costs_exactly_one_request(
    importing_google, google, tomorrow_9, django_capture_on_commit_callbacks
):
    appointment = make(importing_google.agent, tomorrow_9, django_capture_on_commit_callbacks)
    phone_add(google, "Dentist", tomorrow_9 + 3 * HOUR, tomorrow_9 + 4 * HOUR)
    pull(importing_google)
    sequence = Appointment.objects.get(pk=appointment.pk).sequence
    before, grants_before = google.request_count, len(google.token_requests)

    report = pull(importing_google)

    assert google.requests[before:] == [f"GET {EVENTS}"]
    assert google.token_requests[grants_before:] == []  # the access token of the last poll is still good
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
    pytest.param(ConflictRule.HELPDESK_WINS, ("Changed in the helpdesk", "Changed on the phone"), id="helpdesk-wins"),
    pytest.param(ConflictRule.EXTERNAL_WINS, ("Changed on the phone", "Changed in the helpdesk"), id="external-wins"),
]


@pytest.mark.parametrize("conflict_rule, outcome", RULES, indirect=["conflict_rule"])
def test_stale_etag_on_push_is_decided_by_the_conflict_rule(
    alice_google, google, tomorrow_9, django_capture_on_commit_callbacks, conflict_rule, outcome
):
    winner, loser = outcome
    appointment = make(alice_google.agent, tomorrow_9, django_capture_on_commit_callbacks)
    google.phone_patch(ALICE, SyncLink.objects.get().remote_id, summary="Changed on the phone")

    with django_capture_on_commit_callbacks(execute=True):  # the push holds the old etag: 412
        calendar_services.update_appointment(appointment, subject="Changed in the helpdesk")

    appointment.refresh_from_db()
    assert (appointment.subject, only_event(google)["summary"]) == (winner, winner)
    conflict = SyncLogEntry.objects.get(result=SyncLogEntry.Result.CONFLICT)
    assert conflict.overwritten["subject"] == loser
    assert SyncLink.objects.get().version == only_event(google)["etag"]


# --- Ask ------------------------------------------------------------------------------------------------


@pytest.fixture
def asking(alice_google):
    settings = CalendarSettings.load()
    settings.sync_policy = SyncPolicy.ASK
    settings.save()
    return alice_google


def test_ask_declined_appointment_never_reaches_google(asking, google, tomorrow_9, django_capture_on_commit_callbacks):
    appointment = make(asking.agent, tomorrow_9, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        services.decline(SyncLink.objects.get(appointment=appointment))
    pull(asking)

    assert google.events(ALICE) == []
    assert f"POST {EVENTS}" not in google.requests


def test_ask_approved_appointment_moved_then_deleted_follows_on_google(
    asking, google, tomorrow_9, django_capture_on_commit_callbacks
):
    """Trial report F3: a change of an approved entry is pushed at once (not held for a new approval,
    which left the old time there), and its deletion always flows."""
    appointment = approve_then_move(asking.agent, tomorrow_9, django_capture_on_commit_callbacks)

    assert start_of(only_event(google)) == tomorrow_9 - HOUR
    assert SyncLink.objects.get(appointment=appointment).approval == SyncLink.Approval.NOT_NEEDED
    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.delete_appointment(appointment)
    assert google.events(ALICE) == []


# --- import rules ---------------------------------------------------------------------------------------


def test_private_event_is_imported_as_busy_time_without_text(importing_google, google, tomorrow_9):
    phone_add(
        google,
        "Hospital",
        tomorrow_9,
        tomorrow_9 + HOUR,
        description="secret details",
        location="Room 1",
        visibility="private",
        transparency="transparent",
    )

    pull(importing_google)

    appointment = Appointment.objects.get()
    assert (appointment.subject, appointment.note, appointment.location) == ("", "", "")
    assert appointment.private and appointment.busy
    assert appointment.start == tomorrow_9
    assert only_event(google)["summary"] == "Hospital"  # the helpdesk's blanking never reaches Google
    # Nor is its text readable anywhere the helpdesk stores it: log "(private)", snapshot sealed.
    assert tables_holding("Hospital", "secret details", "Room 1") == []
    assert SyncLogEntry.objects.get().subject == "(private)"


@pytest.fixture
def short_window(calendar_settings):
    calendar_settings.import_days_past, calendar_settings.import_days_future = 2, 3
    calendar_settings.save()
    return calendar_settings


def test_full_listing_imports_what_overlaps_the_window(alice_google, google, short_window):
    alice = alice_google.agent
    alice.import_external = True
    alice.save()
    now = timezone.now().replace(microsecond=0)
    past_edge, future_edge = now - timedelta(days=2), now + timedelta(days=3)
    phone_add(google, "Ends before the window", past_edge - 2 * HOUR, past_edge - HOUR)
    phone_add(google, "Crosses the start", past_edge - HOUR, past_edge + HOUR)
    phone_add(google, "Starts before the end", future_edge - HOUR, future_edge + HOUR)
    phone_add(google, "Starts after the window", future_edge + HOUR, future_edge + 2 * HOUR)

    engine.sync_agent_calendar(alice_google, pull=True, now=now)

    assert subjects_in_helpdesk() == ["Crosses the start", "Starts before the end"]


def test_incremental_pull_ignores_changes_outside_the_window_until_they_move_in(
    importing_google, google, short_window, tomorrow_9
):
    far = phone_add(google, "Next month", tomorrow_9 + timedelta(days=30), tomorrow_9 + timedelta(days=30, hours=1))
    phone_add(google, "Last month", tomorrow_9 - timedelta(days=30), tomorrow_9 - timedelta(days=30) + HOUR)
    phone_add(google, "Tomorrow", tomorrow_9, tomorrow_9 + HOUR)

    pull(importing_google)
    assert subjects_in_helpdesk() == ["Tomorrow"]

    google.phone_patch(ALICE, far, start=when(tomorrow_9 + 2 * HOUR), end=when(tomorrow_9 + 3 * HOUR))
    pull(importing_google)
    assert subjects_in_helpdesk() == ["Next month", "Tomorrow"]
    assert SyncLink.objects.count() == 2


def test_event_the_moving_window_reaches_is_imported_by_the_daily_full_listing(importing_google, google, short_window):
    now = timezone.now()
    start = now + timedelta(days=10)
    phone_add(google, "Planned long ago", start, start + HOUR)
    engine.sync_agent_calendar(AgentCalendar.objects.get(pk=importing_google.pk), pull=True, now=now)
    assert not Appointment.objects.exists()

    a_week_later = now + timedelta(days=8)
    report = engine.sync_agent_calendar(AgentCalendar.objects.get(pk=importing_google.pk), pull=True, now=a_week_later)

    assert subjects_in_helpdesk() == ["Planned long ago"]
    assert report.pulled == 1


def test_refused_sync_token_does_a_full_resync_without_duplicates(
    importing_google, google, tomorrow_9, django_capture_on_commit_callbacks
):
    make(importing_google.agent, tomorrow_9, django_capture_on_commit_callbacks, subject="Ours")
    phone_add(google, "Theirs", tomorrow_9, tomorrow_9 + HOUR)
    pull(importing_google)
    google.expire_sync_tokens(ALICE)  # 410 fullSyncRequired

    report = pull(importing_google)

    assert report.full_resync
    assert subjects_in_helpdesk() == subjects_in_google(google) == ["Ours", "Theirs"]
    assert SyncLink.objects.count() == 2
    assert SyncLogEntry.objects.filter(operation="full resync").exists()

    before = google.request_count
    pull(importing_google)  # the new token is taken: back to one request per poll
    assert google.requests[before:] == [f"GET {EVENTS}"]


# --- what an admin must fix -------------------------------------------------------------------------------


def test_delegation_not_granted_stops_the_sync_with_the_fix(alice_google, google):
    google.grant_delegation(CLIENT_ID, [])

    with pytest.raises(ConnectionProblem, match="domain-wide delegation"):
        pull(alice_google)

    alice_google.refresh_from_db()
    assert alice_google.state == AgentCalendar.State.FAILING
    assert CLIENT_ID in alice_google.last_error


def test_calendar_recovers_once_the_api_is_enabled_again(alice_google, google):
    google.api_enabled = False
    with pytest.raises(ConnectionProblem, match="Calendar API is disabled"):
        pull(alice_google)
    google.api_enabled = True

    pull(alice_google)

    alice_google.refresh_from_db()
    assert (alice_google.state, alice_google.last_error) == (AgentCalendar.State.ACTIVE, "")


# --- faults: nothing lost, nothing duplicated ------------------------------------------------------------


def _sync_ignoring_faults(agent_calendar, *, pull: bool) -> None:
    with contextlib.suppress(ProviderError):
        engine.sync_agent_calendar(AgentCalendar.objects.get(pk=agent_calendar.pk), pull=pull)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [3, 17])
def test_changes_flow_both_ways_through_faults_and_end_equal(importing_google, google, tomorrow_9, seed):
    alice = importing_google.agent
    google.random.seed(seed)
    google.fault_rate = 0.5
    appointments, phone_ids = [], []
    for n in range(5):
        start = tomorrow_9 + n * 2 * HOUR
        appointments.append(
            calendar_services.create_appointment(subject=f"Helpdesk {n}", start=start, end=start + HOUR, agents=[alice])
        )
        phone_ids.append(phone_add(google, f"Phone {n}", start + timedelta(days=1), start + timedelta(days=1, hours=1)))
        _sync_ignoring_faults(importing_google, pull=n % 2 == 0)
    calendar_services.update_appointment(appointments[0], subject="Helpdesk 0 renamed")
    calendar_services.delete_appointment(appointments[1])
    google.phone_patch(ALICE, phone_ids[2], summary="Phone 2 renamed")
    google.phone_delete(ALICE, phone_ids[3])
    for _ in range(4):
        _sync_ignoring_faults(importing_google, pull=True)
    served = dict(google.faults_served)

    google.calm()
    _sync_ignoring_faults(importing_google, pull=True)
    _sync_ignoring_faults(importing_google, pull=True)

    expected = ["Helpdesk 0 renamed", "Helpdesk 2", "Helpdesk 3", "Helpdesk 4"]
    expected += ["Phone 0", "Phone 1", "Phone 2 renamed", "Phone 4"]
    assert subjects_in_google(google) == subjects_in_helpdesk() == sorted(expected)
    assert SyncLink.objects.count() == len(expected)
    assert sum(served.values()) >= 5 and len(served) >= 3, served  # the faults really hit, of most kinds


def test_an_insert_whose_answer_was_lost_is_not_duplicated(
    alice_google, google, tomorrow_9, django_capture_on_commit_callbacks
):
    google.fail_next("drop_after", path=EVENTS)  # Google saves it; we never hear back

    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.create_appointment(
            subject="Once only", start=tomorrow_9, end=tomorrow_9 + HOUR, agents=[alice_google.agent]
        )
    pull(alice_google)

    assert subjects_in_google(google) == ["Once only"]
    assert Appointment.objects.count() == 1
    assert SyncLink.objects.get().remote_id == only_event(google)["id"]


def test_rate_limit_is_waited_out_and_the_push_goes_through(
    alice_google, google, tomorrow_9, django_capture_on_commit_callbacks
):
    google.fail_next(403, "rateLimitExceeded", path=EVENTS)
    google.fail_next(429, retry_after="0", path=EVENTS)

    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.create_appointment(
            subject="After the wait", start=tomorrow_9, end=tomorrow_9 + HOUR, agents=[alice_google.agent]
        )

    assert subjects_in_google(google) == ["After the wait"]
    assert not SyncLink.objects.get().pending


# --- a recurring series -------------------------------------------------------------------------------------


@pytest.fixture
def weekly_series(alice_google, tomorrow_9, django_capture_on_commit_callbacks):
    return make_weekly_series(alice_google.agent, tomorrow_9, django_capture_on_commit_callbacks)


def google_view(google, start, end, user: str = ALICE) -> list[tuple]:
    """The series as Google shows it in `user`'s calendar, expanded by an independent reader:
    recurring-ical-events over an iCalendar object built from the master's RFC 5545 lines and its
    exception events, on the wall clock of the event's timeZone (where Google expands the rule)."""

    def moment(value):
        if "date" in value:
            return datetime.strptime(value["date"], "%Y-%m-%d").date()
        return datetime.fromisoformat(value["dateTime"]).astimezone(ZoneInfo(value.get("timeZone") or "UTC"))

    calendar = icalendar.Calendar()
    for event in google.events(user, with_cancelled=True):
        if event.get("status") == "cancelled" and not event.get("recurringEventId"):
            continue
        component = icalendar.Event()
        component.add("uid", event["iCalUID"])
        component.add("summary", event.get("summary", ""))
        component.add("dtstart", moment(event["start"]))
        component.add("dtend", moment(event["end"]))
        if event.get("recurringEventId"):
            component.add("recurrence-id", moment(event["originalStartTime"]))
            if event.get("status") == "cancelled":
                component.add("status", "CANCELLED")
        ics = component.to_ical().decode()
        for line in event.get("recurrence") or ():
            ics = ics.replace("END:VEVENT", f"{line}\r\nEND:VEVENT")
        calendar.add_component(icalendar.Event.from_ical(ics))
    found = recurring_ical_events.of(calendar).between(start, end)
    return sorted(
        (e["DTSTART"].dt.astimezone(UTC), e["DTEND"].dt.astimezone(UTC), str(e["SUMMARY"]))
        for e in found
        if str(e.get("STATUS", "")) != "CANCELLED"
    )


def test_weekly_series_with_a_moved_and_a_cancelled_occurrence_shows_in_google_as_in_the_helpdesk(
    weekly_series, google, tomorrow_9
):
    window = (tomorrow_9 - timedelta(days=1), tomorrow_9 + timedelta(days=60))

    helpdesk = [
        (s.astimezone(UTC), e.astimezone(UTC), subject) for s, e, subject in helpdesk_view(weekly_series, *window)
    ]
    assert google_view(google, *window) == helpdesk
    assert len(helpdesk) == 5
    masters = [e for e in google.events(ALICE) if not e.get("recurringEventId")]
    assert len(masters) == 1
    rule = masters[0]["recurrence"][0]
    assert rule.startswith("RRULE:") and set(rule[6:].split(";")) == {"FREQ=WEEKLY", "COUNT=6"}


def test_occurrence_moved_and_cancelled_on_the_phone_follow_in_the_helpdesk(
    weekly_series, alice_google, google, tomorrow_9
):
    pull(alice_google)
    master_id = SyncLink.objects.get(appointment=weekly_series).remote_id
    occurrences = list(weekly_series.occurrences.order_by("original_start"))
    fourth, fifth = occurrences[3], occurrences[4]
    google.phone_patch(
        ALICE,
        instance_id(master_id, fourth.original_start),
        start=when(fourth.start + 5 * HOUR),
        end=when(fourth.end + 5 * HOUR),
    )
    google.phone_delete(ALICE, instance_id(master_id, fifth.original_start))

    pull(alice_google)

    fourth.refresh_from_db()
    fifth.refresh_from_db()
    assert (fourth.start, fourth.is_modified) == (fourth.original_start + 5 * HOUR, True)
    assert fifth.is_cancelled
    window = (tomorrow_9 - timedelta(days=1), tomorrow_9 + timedelta(days=60))
    helpdesk = [
        (s.astimezone(UTC), e.astimezone(UTC), subject) for s, e, subject in helpdesk_view(weekly_series, *window)
    ]
    assert google_view(google, *window) == helpdesk
    assert len(helpdesk) == 4


def test_series_that_ended_before_the_window_survives_a_full_resync(
    alice_google, google, short_window, tomorrow_9, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.create_recurring_appointment(
            rule="RRULE:FREQ=DAILY;COUNT=3",
            agents=[alice_google.agent],
            start=tomorrow_9 - timedelta(days=20),
            end=tomorrow_9 - timedelta(days=20) + HOUR,
            subject="Last month's training",
        )
    pull(alice_google)
    google.expire_sync_tokens(ALICE)

    pull(alice_google)
    pull(alice_google)

    assert subjects_in_google(google) == ["Last month's training"]
    assert Appointment.objects.filter(master__isnull=True, subject="Last month's training").exists()


def test_pushing_100_changes_costs_at_most_2_requests(alice_google, google, tomorrow_9):
    """Issue 13: the engine sends a technician's waiting pushes through the provider's batch (50 calls
    a request, Calendar API batch guide): 100 new appointments reach Google in 2 HTTP requests."""
    alice = alice_google.agent
    for n in range(100):
        calendar_services.create_appointment(
            subject=f"Visit {n}", start=tomorrow_9 + n * HOUR, end=tomorrow_9 + n * HOUR + HOUR / 2, agents=[alice]
        )
    engine.sync_agent_calendar(alice_google, pull=False)  # any token refresh and discovery first
    assert not SyncLink.objects.filter(pending=True).exists()
    for appointment in Appointment.objects.filter(agents=alice):
        calendar_services.update_appointment(appointment, subject=appointment.subject + " (moved)")
    before = google.request_count

    report = engine.sync_agent_calendar(alice_google, pull=False)

    assert (report.pushed, report.failed) == (100, 0)
    assert google.request_count - before <= 2
    assert sorted(e["summary"] for e in google.events(ALICE)) == sorted(f"Visit {n} (moved)" for n in range(100))


@pytest.mark.parametrize("conflict_rule", [ConflictRule.HELPDESK_WINS], indirect=True)
def test_occurrences_the_helpdesk_restores_leave_no_exception_in_google(
    weekly_series, alice_google, google, tomorrow_9, conflict_rule
):
    """Google's recurring-events guide: an occurrence is restored by writing its instance event
    ("<master id>_<original start>") back to status "confirmed" at its original times; rewriting
    the master's RRULE/EXDATE alone leaves the cancelled or moved instance event in place.
    The helpdesk puts its moved occurrence back while the phone cancels one other occurrence and
    moves another: each occurrence is an item of its own (SPEC S3.8, trial fault 4), so the
    helpdesk's restore and both of the phone's changes are kept, on both sides, with no conflict."""
    pull(alice_google)
    master_id = SyncLink.objects.get(appointment=weekly_series).remote_id
    occurrences = list(weekly_series.occurrences.order_by("original_start"))
    moved, fourth, fifth = occurrences[1], occurrences[3], occurrences[4]
    google.phone_delete(ALICE, instance_id(master_id, fourth.original_start))
    google.phone_patch(
        ALICE,
        instance_id(master_id, fifth.original_start),
        start=when(fifth.start + 2 * HOUR),
        end=when(fifth.end + 2 * HOUR),
        summary="Moved on the phone",
    )
    # The helpdesk puts its moved occurrence back on the rule's time; the push waits for the pull.
    calendar_services.update_appointment(moved, start=moved.original_start, end=moved.original_start + HOUR)

    pull(alice_google)

    window = (tomorrow_9 - timedelta(days=1), tomorrow_9 + timedelta(days=60))
    # Right value from the rule alone (dateutil, RFC 5545): six weekly starts less the third (cancelled
    # in the helpdesk before) and the fourth (cancelled on the phone), the fifth where the phone put it.
    starts = list(dateutil_rrule.rrule(dateutil_rrule.WEEKLY, count=6, dtstart=tomorrow_9.astimezone(UTC)))
    expected = [(s, s + HOUR, "Weekly check") for i, s in enumerate(starts) if i not in (2, 3, 4)]
    expected = sorted([*expected, (starts[4] + 2 * HOUR, starts[4] + 3 * HOUR, "Moved on the phone")])
    helpdesk = [
        (s.astimezone(UTC), e.astimezone(UTC), subject) for s, e, subject in helpdesk_view(weekly_series, *window)
    ]
    assert helpdesk == expected
    assert google_view(google, *window) == expected
    assert not SyncLogEntry.objects.filter(result=SyncLogEntry.Result.CONFLICT).exists()
    instances = {e["id"]: e for e in google.events(ALICE, with_cancelled=True) if e.get("recurringEventId")}
    for occurrence in (moved,):
        instance = instances.get(instance_id(master_id, occurrence.original_start))
        if instance is not None:  # an instance event may stay, as the rule's occurrence itself
            assert instance["status"] == "confirmed"
            assert start_of(instance) == occurrence.original_start
            assert instance.get("summary") == "Weekly check"

    report = engine.sync_agent_calendar(alice_google, pull=True)
    assert (report.pushed, report.pulled, report.conflicts, report.failed) == (0, 0, 0, 0)


# --- Google's special event types (Calendar API guide "Event types") --------------------------------------


def working_location(google, day) -> str:
    """A working-location entry as Google Calendar makes it: home office, all day, free time."""
    return google.phone_insert(
        ALICE,
        eventType="workingLocation",
        summary="Home",
        start={"date": day.isoformat()},
        end={"date": (day + timedelta(days=1)).isoformat()},
        transparency="transparent",
        visibility="public",
        workingLocationProperties={"type": "homeOffice", "homeOffice": {}},
    )["id"]


def birthday(google, day) -> str:
    """A birthday from Google Contacts: all day, repeating every year, free time."""
    return google.phone_insert(
        ALICE,
        eventType="birthday",
        summary="Bob's birthday",
        start={"date": day.isoformat()},
        end={"date": (day + timedelta(days=1)).isoformat()},
        recurrence=["RRULE:FREQ=YEARLY"],
        transparency="transparent",
        visibility="private",
        birthdayProperties={"type": "birthday"},
    )["id"]


@pytest.fixture(params=["full", "incremental"])
def listing(request, importing_google, google):
    """The pull reads the calendar by a full listing (sync token refused) or by its sync token."""
    if request.param == "full":
        google.expire_sync_tokens(ALICE)
    return request.param


def test_working_location_is_never_an_appointment(importing_google, google, tomorrow_9, listing):
    working_location(google, tomorrow_9.date())

    report = pull(importing_google)

    assert (report.pulled, report.failed) == (0, 0)
    assert not Appointment.objects.exists()
    assert not SyncLink.objects.exists()


def test_birthday_is_never_an_appointment(importing_google, google, tomorrow_9, listing):
    birthday(google, tomorrow_9.date())

    report = pull(importing_google)

    assert (report.pulled, report.failed) == (0, 0)
    assert not Appointment.objects.exists()
    assert not SyncLink.objects.exists()


BLOCKS = [
    pytest.param(
        "focusTime",
        {
            "focusTimeProperties": {
                "autoDeclineMode": "declineOnlyNewConflictingInvitations",
                "chatStatus": "doNotDisturb",
            }
        },
        id="focusTime",
    ),
    pytest.param(
        "outOfOffice",
        {"outOfOfficeProperties": {"autoDeclineMode": "declineAllConflictingInvitations", "declineMessage": "Away"}},
        id="outOfOffice",
    ),
]


@pytest.mark.parametrize("kind, properties", BLOCKS)
def test_focus_time_and_out_of_office_are_imported_as_busy_blocks_never_written_back(
    importing_google, google, tomorrow_9, django_capture_on_commit_callbacks, listing, kind, properties
):
    event_id = google.phone_insert(
        ALICE, eventType=kind, summary="", start=when(tomorrow_9), end=when(tomorrow_9 + 2 * HOUR), **properties
    )["id"]

    pull(importing_google)

    appointment = Appointment.objects.get()
    label = {"focusTime": "Focus time", "outOfOffice": "Out of office"}[kind]
    assert (appointment.subject, appointment.start, appointment.end) == (label, tomorrow_9, tomorrow_9 + 2 * HOUR)
    assert appointment.busy and appointment.source == Appointment.Source.EXTERNAL
    before = google.event(ALICE, event_id)
    writes = len(google.send_updates)

    with django_capture_on_commit_callbacks(execute=True):  # the helpdesk edits the block: nothing goes back
        calendar_services.update_appointment(appointment, subject="Edited here", end=tomorrow_9 + 3 * HOUR)
    pull(importing_google)

    assert google.event(ALICE, event_id) == before
    assert len(google.send_updates) == writes
    assert not SyncLogEntry.objects.filter(result=SyncLogEntry.Result.ERROR).exists()

    with django_capture_on_commit_callbacks(execute=True):  # nor does a deletion in the helpdesk
        calendar_services.delete_appointment(Appointment.objects.get())

    assert google.event(ALICE, event_id) == before
    assert len(google.send_updates) == writes


def test_entry_from_gmail_is_imported_as_it_is_and_never_written_back(
    importing_google, google, tomorrow_9, django_capture_on_commit_callbacks, listing
):
    """Gmail's entries (flights, reservations) are ordinary time in the calendar; the API lets a
    client change almost nothing of them, so the helpdesk never writes them."""
    event_id = phone_add(google, "Flight to Oslo", tomorrow_9, tomorrow_9 + 2 * HOUR, eventType="fromGmail")

    pull(importing_google)

    appointment = Appointment.objects.get()
    assert (appointment.subject, appointment.start, appointment.busy) == ("Flight to Oslo", tomorrow_9, True)
    before = google.event(ALICE, event_id)
    writes = len(google.send_updates)
    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.update_appointment(appointment, subject="Edited here")

    assert google.event(ALICE, event_id) == before
    assert len(google.send_updates) == writes


def test_phone_entry_in_a_zone_the_helpdesk_does_not_know_keeps_its_instant_and_names_itself(
    importing_google, google, tomorrow_9, client
):
    # Google checks timeZone against its own tz database, which can be newer than the helpdesk's:
    # a zone named after the helpdesk's database was made is stood in for by editing the stored
    # event (Google refuses names it does not know itself). The dateTime carries its offset
    # (RFC 3339), so only the wall clock a series would repeat on is a guess.
    visit = phone_add(google, "Site visit", tomorrow_9, tomorrow_9 + HOUR)
    with google.lock:
        for side in ("start", "end"):
            google.calendars[ALICE].events[visit][side]["timeZone"] = "America/Nuevo_Zone"
    phone_add(google, "Dentist", tomorrow_9 + 3 * HOUR, tomorrow_9 + 4 * HOUR)

    report = pull(importing_google)

    # Alice's Google calendar is on Europe/Amsterdam (calendars resource timeZone): the stand-in.
    assert_read_with_a_zone_note(
        report,
        importing_google,
        client,
        zone="America/Nuevo_Zone",
        reading="on the calendar's zone Europe/Amsterdam",
        start=tomorrow_9,
        end=tomorrow_9 + HOUR,
    )


def test_phone_entry_the_helpdesk_cannot_hold_names_itself_and_the_rest_imports(importing_google, google, tomorrow_9):
    long_ago = tomorrow_9.replace(year=1200)
    phone_add(google, "Chronicle", long_ago, long_ago + HOUR)
    phone_add(google, "Dentist", tomorrow_9, tomorrow_9 + HOUR)

    report = pull(importing_google)

    assert report.failed == 1
    assert Appointment.objects.filter(subject="Dentist").exists()
    assert not Appointment.objects.filter(subject="Chronicle").exists()
    line = SyncLogEntry.objects.get(agent_calendar=importing_google, result=SyncLogEntry.Result.ERROR)
    assert "was not imported: Google sent an entry the helpdesk cannot read" in line.message
    importing_google.refresh_from_db()
    assert len(importing_google.import_retry) == 1


def _daily_phone_series_of_3(google, start) -> str:
    series = dict(summary="Drill", start=when(start), end=when(start + HOUR), recurrence=["RRULE:FREQ=DAILY;COUNT=3"])
    return google.phone_insert(ALICE, **series)["id"]


def test_a_phone_series_whose_every_instance_was_cancelled_is_kept_and_shows_nothing(
    importing_google, google, tomorrow_9
):
    """As on Exchange (long profile, seed 3): a series all of whose instances were deleted on the phone
    before the helpdesk read it failed to import at every pull. Google keeps the recurring event with
    cancelled instances and shows nothing; so does the helpdesk, linked and quiet. Expected: the
    server's events expanded by recurring-ical-events (`google_view`)."""
    master_id = _daily_phone_series_of_3(google, tomorrow_9)
    for n in range(3):
        google.phone_delete(ALICE, instance_id(master_id, tomorrow_9 + timedelta(days=n)))
    window = (tomorrow_9 - HOUR, tomorrow_9 + timedelta(days=6))
    assert google_view(google, *window) == []

    first, second = pull(importing_google), pull(importing_google)

    assert (first.failed, second.failed, second.pulled, second.pushed) == (0, 0, 0, 0)
    master = Appointment.objects.get(master__isnull=True)
    assert master.is_recurring_master and SyncLink.objects.get().remote_id == master_id
    assert not Appointment.objects.visible().filter(master=master).exists()


def test_an_imported_phone_series_whose_instances_are_all_deleted_shows_nothing(importing_google, google, tomorrow_9):
    """The other way to the same end: an imported series loses its instances one by one on the phone;
    the helpdesk follows each, shows nothing at the end and writes nothing back. Expected: `google_view`."""
    master_id = _daily_phone_series_of_3(google, tomorrow_9)
    pull(importing_google)
    window = (tomorrow_9 - HOUR, tomorrow_9 + timedelta(days=6))
    for n in range(3):
        google.phone_delete(ALICE, instance_id(master_id, tomorrow_9 + timedelta(days=n)))
        assert pull(importing_google).failed == 0
        shown = [start for start, _end, _subject in google_view(google, *window)]
        assert sorted(a.start for a in Appointment.objects.visible().filter(master__isnull=False)) == shown

    report = pull(importing_google)
    assert (report.failed, report.pulled, report.pushed) == (0, 0, 0)
    assert SyncLink.objects.get().remote_id == master_id


def test_a_phone_series_extra_date_is_imported_and_kept_when_the_helpdesk_cancels_an_occurrence(
    importing_google, google, tomorrow_9
):
    """Review 2 fault 3, through the engine: the phone's series has an extra date (RDATE) besides its
    rule. The helpdesk shows it among the occurrences; when the technician cancels one occurrence the
    series' `recurrence` is patched, and the extra date is still in Google afterwards. Expected: the
    server's events expanded by recurring-ical-events (`google_view`)."""
    extra = tomorrow_9 + timedelta(days=5, hours=5)
    wall = extra.astimezone(ZoneInfo("Europe/Amsterdam"))
    series = dict(
        summary="Drill",
        start=when(tomorrow_9),
        end=when(tomorrow_9 + HOUR),
        recurrence=["RRULE:FREQ=DAILY;COUNT=3", f"RDATE;TZID=Europe/Amsterdam:{wall:%Y%m%dT%H%M%S}"],
    )
    master_id = google.phone_insert(ALICE, **series)["id"]
    window = (tomorrow_9 - HOUR, tomorrow_9 + timedelta(days=10))

    assert pull(importing_google).failed == 0
    shown = [start for start, _end, _subject in google_view(google, *window)]
    assert extra in shown and len(shown) == 4
    occurrences = Appointment.objects.visible().filter(master__isnull=False).order_by("start")
    assert [o.start for o in occurrences] == shown

    calendar_services.cancel_occurrence(occurrences[1])
    assert pull(importing_google).failed == 0

    shown = [start for start, _end, _subject in google_view(google, *window)]
    assert shown == [tomorrow_9, tomorrow_9 + timedelta(days=2), extra]
    assert any(line.startswith("RDATE") for line in google.event(ALICE, master_id)["recurrence"])
    assert sorted(a.start for a in Appointment.objects.visible().filter(master__isnull=False)) == shown
