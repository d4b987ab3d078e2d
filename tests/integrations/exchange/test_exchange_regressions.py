"""Issue 9 on Exchange: each reported fault as a named case, through exchangelib against the local
EWS server. The right values come from what the server holds (its own state, inspected as Outlook
would see it) and from MS-OXWS (SyncFolderItems reports nothing for an item created and deleted
after the sync state it is given)."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr

from calendars import services as calendar_services
from calendars.models import Appointment, CalendarSettings, ConflictRule
from integrations.models import AgentCalendar, SyncLink, SyncLogEntry
from integrations.sync import engine
from tests.integrations.series import (
    check_series_shown,
    extra_dates_refusal_logged,
    make_daily_series,
    make_series_with_an_extra_date,
)
from tests.integrations.test_caldav_sync import make, pull

from .conftest import ALICE

pytestmark = pytest.mark.django_db

HOUR = timedelta(hours=1)


def only_item(ews):
    (item,) = ews.items(ALICE)
    return item


def writes(ews, since: int) -> list[str]:
    return [name for name in ews.requests[since:] if name in ("CreateItem", "UpdateItem", "DeleteItem")]


def test_imported_outlook_entry_is_not_written_back_by_the_next_sync(importing_exchange, ews, tomorrow_9):
    """Item 1: a pull causes no push; the second sync after it writes nothing and costs one request."""
    ews.outlook_create(
        ALICE, subject="Dentist", start=tomorrow_9, end=tomorrow_9 + HOUR, location="Town", reminder_minutes=60
    )
    ews.outlook_create(
        ALICE, subject="Private", start=tomorrow_9 + 2 * HOUR, end=tomorrow_9 + 3 * HOUR, sensitivity="Private"
    )
    pull(importing_exchange)
    assert Appointment.objects.count() == 2
    before = {item.item_id: item.change_key for item in ews.items(ALICE)}

    start = len(ews.requests)
    report = pull(importing_exchange)

    assert (report.pushed, report.pulled) == (0, 0)
    assert ews.requests[start:] == ["SyncFolderItems"]
    assert {item.item_id: item.change_key for item in ews.items(ALICE)} == before
    assert Appointment.objects.get(subject="Dentist").reminder_minutes == 60  # the entry's own reminder


def test_deletion_seen_only_by_a_full_listing_lands_in_one_pull(
    alice_exchange, ews, tomorrow_9, django_capture_on_commit_callbacks
):
    """Item 3: an entry missing from a full listing leaves the helpdesk within that one pull, even
    when the listing is empty (the entry is confirmed gone by GetItem right away)."""
    make(alice_exchange.agent, tomorrow_9, django_capture_on_commit_callbacks)
    pull(alice_exchange)
    ews.outlook_delete(ALICE, SyncLink.objects.get().remote_id)
    ews.refuse_sync_states(ALICE)  # the next pull lists the window in full

    pull(alice_exchange)

    assert Appointment.objects.count() == 0
    assert SyncLink.objects.count() == 0


def test_entry_pushed_after_the_last_poll_and_deleted_in_outlook_leaves_the_helpdesk(
    alice_exchange, ews, tomorrow_9, django_capture_on_commit_callbacks
):
    """Item 4: Exchange reports nothing for an item created and deleted after the stored sync state;
    the engine reads our entries created since then directly on the next pull."""
    pull(alice_exchange)  # the sync state is taken
    make(alice_exchange.agent, tomorrow_9, django_capture_on_commit_callbacks)
    ews.outlook_delete(ALICE, SyncLink.objects.get().remote_id)

    pull(alice_exchange)

    assert Appointment.objects.count() == 0
    assert ews.items(ALICE) == []


def test_create_completed_after_the_client_timeout_leaves_one_entry(
    alice_exchange, ews, tomorrow_9, django_capture_on_commit_callbacks, settings
):
    """Item 5: CreateItem done by the server after our timeout, the retry creating a second entry
    with our marker: the next pull keeps the linked one, deletes the other and logs it."""
    connection = alice_exchange.connection
    connection.options = {**connection.options, "timeout": 1}
    connection.save()
    settings.SYNC_RETRY_ATTEMPTS = 2
    pull(alice_exchange)
    ews.late_done.clear()
    ews.fail_next("late", operation="CreateItem", seconds=2.5)

    make(alice_exchange.agent, tomorrow_9, django_capture_on_commit_callbacks)
    assert ews.late_done.wait(10)
    assert len(ews.items(ALICE)) == 2  # the fault happened: two entries carry our marker

    pull(alice_exchange)

    link = SyncLink.objects.get()
    assert [item.item_id for item in ews.items(ALICE)] == [link.remote_id]
    healed = SyncLogEntry.objects.get(operation="delete duplicate")
    assert link.marker in healed.message
    report = pull(alice_exchange)
    assert (report.pushed, report.pulled, report.failed) == (0, 0, 0)


def test_renamed_templated_subject_is_not_templated_twice(
    alice_exchange, ews, tomorrow_9, django_capture_on_commit_callbacks
):
    """Item 6: template `[HD] {subject}`, Outlook renames the entry to `[HD] X (call first)`: the
    helpdesk reads back `X (call first)` and its next push sends `[HD] X (call first)`."""
    calendar_settings = CalendarSettings.load()
    calendar_settings.subject_template = "[HD] {subject}"
    calendar_settings.save()
    appointment = make(alice_exchange.agent, tomorrow_9, django_capture_on_commit_callbacks, subject="X")
    assert only_item(ews).subject == "[HD] X"
    pull(alice_exchange)
    ews.outlook_update(ALICE, SyncLink.objects.get().remote_id, subject="[HD] X (call first)")

    pull(alice_exchange)
    appointment.refresh_from_db()
    assert appointment.subject == "X (call first)"
    assert pull(alice_exchange).pushed == 0  # rendering it again gives what Outlook shows

    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.update_appointment(appointment, start=tomorrow_9 + HOUR, end=tomorrow_9 + 2 * HOUR)
    assert only_item(ews).subject == "[HD] X (call first)"


@pytest.fixture
def both_changed(alice_exchange, ews, tomorrow_9, django_capture_on_commit_callbacks):
    """Outlook changed subject, time and place; the helpdesk changed time and place (not pushed)."""
    appointment = make(
        alice_exchange.agent, tomorrow_9, django_capture_on_commit_callbacks, subject="Visit", location="Room A"
    )
    pull(alice_exchange)
    ews.outlook_update(
        ALICE,
        SyncLink.objects.get().remote_id,
        subject="Visit (Outlook)",
        start=tomorrow_9 + 2 * HOUR,
        end=tomorrow_9 + 3 * HOUR,
        location="Room B",
    )
    calendar_services.update_appointment(  # the queued push is not run: both sides differ at the pull
        appointment, start=tomorrow_9 + 4 * HOUR, end=tomorrow_9 + 5 * HOUR, location="Room C"
    )
    return appointment


def _rule(rule):
    calendar_settings = CalendarSettings.load()
    calendar_settings.conflict_rule = rule
    calendar_settings.save()


def test_external_calendar_wins_overwrites_every_field_and_logs_what_was_lost(both_changed, alice_exchange, ews):
    """Item 7: under "External calendar wins" both sides end equal (Outlook's values), the log's
    "overwritten" holds exactly the helpdesk's lost values (of the fields both changed: the subject
    only Outlook changed is merged, trial fault 4), and later syncs find nothing to do."""
    _rule(ConflictRule.EXTERNAL_WINS)
    appointment = both_changed
    helpdesk_start, helpdesk_end = appointment.start, appointment.end

    pull(alice_exchange)

    appointment.refresh_from_db()
    item = only_item(ews)
    assert (appointment.subject, appointment.start, appointment.end, appointment.location) == (
        "Visit (Outlook)",
        item.start,
        item.end,
        "Room B",
    )
    assert (item.subject, item.location) == ("Visit (Outlook)", "Room B")
    conflict = SyncLogEntry.objects.get(result=SyncLogEntry.Result.CONFLICT)
    assert conflict.overwritten == {
        "start": "T" + helpdesk_start.astimezone(UTC).isoformat(),
        "end": "T" + helpdesk_end.astimezone(UTC).isoformat(),
        "location": "Room C",
    }
    start = len(ews.requests)
    report = pull(alice_exchange)
    assert (report.pushed, report.pulled, report.conflicts) == (0, 0, 0)
    assert writes(ews, start) == []


def test_helpdesk_wins_overwrites_every_field_and_logs_what_outlook_lost(both_changed, alice_exchange, ews):
    """Item 7, the other rule: Outlook ends with the helpdesk's values of the fields both changed
    and keeps the subject only Outlook changed (merged per field, trial fault 4); "overwritten"
    holds exactly Outlook's lost values."""
    _rule(ConflictRule.HELPDESK_WINS)
    appointment = both_changed
    outlook = only_item(ews)
    outlook_start, outlook_end = outlook.start, outlook.end

    pull(alice_exchange)

    appointment.refresh_from_db()
    item = only_item(ews)
    assert (item.subject, item.start, item.end, item.location) == (
        "Visit (Outlook)",
        appointment.start,
        appointment.end,
        "Room C",
    )
    assert appointment.subject == "Visit (Outlook)"
    conflict = SyncLogEntry.objects.get(result=SyncLogEntry.Result.CONFLICT)
    assert conflict.overwritten == {
        "start": "T" + outlook_start.astimezone(UTC).isoformat(),
        "end": "T" + outlook_end.astimezone(UTC).isoformat(),
        "location": "Room B",
    }
    start = len(ews.requests)
    assert pull(alice_exchange).pushed == 0
    assert writes(ews, start) == []


def test_helpdesk_series_is_not_a_remote_change_on_the_first_poll(
    alice_exchange, ews, tomorrow_9, django_capture_on_commit_callbacks
):
    """Item 8: Exchange gives our weekly series back as FREQ=WEEKLY;INTERVAL=1;BYDAY=SU;COUNT=4;
    it is the series we sent (BYDAY=SU;COUNT=4;FREQ=WEEKLY), so the first poll changes nothing."""
    pull(alice_exchange)
    sunday = tomorrow_9 + timedelta(days=(6 - tomorrow_9.weekday()) % 7)
    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.create_recurring_appointment(
            rule="RRULE:BYDAY=SU;COUNT=4;FREQ=WEEKLY",
            agents=[alice_exchange.agent],
            start=sunday,
            end=sunday + HOUR,
            time_zone="Europe/Amsterdam",
            subject="Backups",
        )
    item = only_item(ews)
    assert item.recurrence is not None

    start = len(ews.requests)
    report = pull(alice_exchange)

    assert (report.pulled, report.pushed, report.conflicts) == (0, 0, 0)
    assert writes(ews, start) == []
    # A full listing reads the series back as Exchange spells its rule: still no change.
    AgentCalendar.objects.filter(pk=alice_exchange.pk).update(full_sync_at=None)
    start = len(ews.requests)
    report = pull(alice_exchange)
    assert "GetItem" in ews.requests[start:]
    assert (report.pulled, report.pushed, report.conflicts) == (0, 0, 0)
    assert writes(ews, start) == []
    assert not SyncLogEntry.objects.filter(direction=SyncLogEntry.Direction.INBOUND, operation="update").exists()
    # The same four Sundays on both sides, as dateutil expands either spelling.
    ours = list(rrulestr("BYDAY=SU;COUNT=4;FREQ=WEEKLY", dtstart=sunday.replace(tzinfo=None)))
    theirs = list(rrulestr("FREQ=WEEKLY;INTERVAL=1;BYDAY=SU;COUNT=4", dtstart=sunday.replace(tzinfo=None)))
    assert ours == theirs


def test_first_poll_after_helpdesk_writes_reads_none_of_them_back(
    alice_exchange, ews, tomorrow_9, django_capture_on_commit_callbacks
):
    """Item 8 on Exchange: SyncFolderItems reports our own creates with the ChangeKeys we stored from
    them, so the first poll after N writes is the one SyncFolderItems, no GetItem."""
    pull(alice_exchange)
    for n in range(3):
        make(alice_exchange.agent, tomorrow_9 + n * 2 * HOUR, django_capture_on_commit_callbacks, subject=f"Job {n}")

    start = len(ews.requests)
    report = pull(alice_exchange)

    assert (report.pulled, report.pushed) == (0, 0)
    assert ews.requests[start:] == ["SyncFolderItems"]


def test_new_change_key_with_unchanged_content_is_kept_for_the_next_push(
    alice_exchange, ews, tomorrow_9, django_capture_on_commit_callbacks
):
    """Item 10: Outlook dismissing a reminder changes only the ChangeKey; the pull stores it, so the
    next helpdesk change is pushed, not refused as stale."""
    appointment = make(alice_exchange.agent, tomorrow_9, django_capture_on_commit_callbacks)
    pull(alice_exchange)
    ews.outlook_update(ALICE, SyncLink.objects.get().remote_id, reminder_is_set=False)

    pull(alice_exchange)
    assert SyncLink.objects.get().version == only_item(ews).change_key

    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.update_appointment(appointment, subject="Renamed in the helpdesk")
    assert only_item(ews).subject == "Renamed in the helpdesk"
    assert not SyncLogEntry.objects.filter(result=SyncLogEntry.Result.CONFLICT).exists()
    assert not SyncLink.objects.get().pending


def test_an_idle_calendar_costs_one_request_after_every_kind_of_sync(
    importing_exchange, ews, tomorrow_9, django_capture_on_commit_callbacks
):
    """The general rule: after any sync, an immediate second sync writes nothing, with one request."""
    make(importing_exchange.agent, tomorrow_9, django_capture_on_commit_callbacks)
    ews.outlook_create(ALICE, subject="Outlook", start=tomorrow_9 + 2 * HOUR, end=tomorrow_9 + 3 * HOUR)
    for _ in range(2):
        pull(importing_exchange)
    AgentCalendar.objects.filter(pk=importing_exchange.pk).update(full_sync_at=None)  # a full listing
    pull(importing_exchange)

    start = len(ews.requests)
    report = engine.sync_agent_calendar(AgentCalendar.objects.get(pk=importing_exchange.pk), pull=True)

    assert (report.pushed, report.pulled) == (0, 0)
    assert ews.requests[start:] == ["SyncFolderItems"]


def test_private_outlook_item_deleted_in_outlook_but_moved_in_the_helpdesk_comes_back_with_its_marker(
    importing_exchange, ews, tomorrow_9
):
    """The Exchange twin of the Graph long-run failure (test_graph_regressions.py): the item made
    again has a new id and our marker property holds the old one, where the state machine looks."""
    from .test_exchange_state_machine import ExchangeSync

    first = ews.outlook_create(ALICE, subject="O5 install", start=tomorrow_9, end=tomorrow_9 + HOUR)
    ews.outlook_update(ALICE, first, sensitivity="Private")
    engine.sync_agent_calendar(AgentCalendar.objects.get(pk=importing_exchange.pk), pull=True)
    appointment = Appointment.objects.get()
    ews.outlook_delete(ALICE, first)
    calendar_services.update_appointment(appointment, start=tomorrow_9 + 3 * HOUR, end=tomorrow_9 + 4 * HOUR)

    engine.sync_agent_calendar(AgentCalendar.objects.get(pk=importing_exchange.pk), pull=True)

    (item,) = ews.items(ALICE)
    link = SyncLink.objects.get()
    assert item.subject == "O5 install" and (link.remote_id, link.marker) == (item.item_id, first)
    machine = ExchangeSync.__new__(ExchangeSync)  # its server reading only; no Hypothesis run
    machine.ews = ews
    assert machine.token_for_marker(link.marker) == "O5"


def test_the_state_machine_names_a_hidden_item_outlook_deleted(importing_exchange, ews, tomorrow_9):
    """The Exchange twin of test_graph_regressions.py::test_the_state_machine_names_a_hidden_entry_
    outlook_deleted: a private item Outlook made is imported without text, then Outlook deletes it;
    the machine must still name the appointment by the id the server gave the item."""
    from .test_exchange_state_machine import ExchangeSync

    machine = ExchangeSync.__new__(ExchangeSync)  # its Outlook rule and server reading only; no Hypothesis run
    machine.ews, machine.outlook_tokens, machine.model, machine.counter = ews, {}, {}, 6
    machine.base = tomorrow_9
    machine.outlook_creates(day=0, hour=0, word="visit", private=True)
    engine.sync_agent_calendar(AgentCalendar.objects.get(pk=importing_exchange.pk), pull=True)
    (item,) = ews.items(ALICE)
    ews.outlook_delete(ALICE, item.item_id)

    link = SyncLink.objects.get()
    assert Appointment.objects.get().subject == ""  # hidden: time only
    assert link.marker == item.item_id  # an imported item's marker is the id the server gave it
    assert machine.token_for_marker(link.marker) == "O7"


def test_an_occurrence_the_helpdesk_moved_follows_the_series_when_outlook_renames_it(
    importing_exchange, ews, tomorrow_9
):
    """Long-profile failure `S1 differs` (seed 2): the helpdesk moved one occurrence of its series and
    pushed it with the series' subject, so Exchange kept that subject on the exception as its own, and a
    rename of the series in Outlook no longer reached it - while an occurrence Outlook itself moves
    keeps following the series' text (MS-OXOCAL 2.2.1.44.2: an exception holds only the fields it
    overrides). The exception is now written with its times only (UpdateItem on the occurrence without
    a Subject SetItemField). Expected values: the server's own calendar view and its exception."""
    master = make_daily_series(importing_exchange.agent, tomorrow_9)
    second = Appointment.objects.filter(master=master).order_by("start")[1]
    moved_to = second.start + 2 * HOUR
    calendar_services.update_appointment(second, start=moved_to, end=second.end + 2 * HOUR)
    engine.sync_agent_calendar(AgentCalendar.objects.get(pk=importing_exchange.pk), pull=True)
    (item,) = ews.items(ALICE)
    (exception,) = item.modified.values()
    assert (exception.start, exception.subject, exception.location, exception.body) == (moved_to, None, None, None)
    ews.outlook_update(ALICE, item.item_id, subject="S1 call (outlook)")

    engine.sync_agent_calendar(AgentCalendar.objects.get(pk=importing_exchange.pk), pull=True)

    window = (tomorrow_9 - HOUR, tomorrow_9 + timedelta(days=5))
    shown = sorted((o.start, o.subject) for o in ews.calendar_view(ALICE, *window))
    assert shown[1][0] == moved_to
    check_series_shown(master, shown, ["S1 call (outlook)"] * 4)


def _daily_outlook_series_of_4(ews, start) -> str:
    from tests.peers.ews import Recurrence

    return ews.outlook_create(
        ALICE,
        subject="R7 drill",
        start=start,
        end=start + HOUR,
        recurrence=Recurrence(pattern="DailyRecurrence", range="NumberedRecurrence", count=4),
    )


def test_an_outlook_series_whose_every_occurrence_was_cancelled_is_kept_and_shows_nothing(
    importing_exchange, ews, tomorrow_9
):
    """Long-profile failure `{'R7': (0, 1)}` (seed 3): every occurrence of an Outlook series was
    cancelled before the helpdesk first read it. Outlook keeps the series and shows nothing of it;
    the import failed at every pull ("This rule gives no occurrence after the start"), so the
    calendar was never quiet. Expected values: the server's own calendar view (empty) and item list
    (the series is still there)."""
    master_id = _daily_outlook_series_of_4(ews, tomorrow_9)
    window = (tomorrow_9 - HOUR, tomorrow_9 + timedelta(days=6))
    for occurrence in ews.calendar_view(ALICE, *window):
        ews.outlook_cancel_occurrence(ALICE, master_id, occurrence.original_start)
    assert ews.calendar_view(ALICE, *window) == [] and [i.item_id for i in ews.items(ALICE)] == [master_id]

    first = pull(importing_exchange)
    second = pull(importing_exchange)

    assert (first.failed, second.failed, second.pulled, second.pushed) == (0, 0, 0, 0)
    assert not SyncLogEntry.objects.filter(result=SyncLogEntry.Result.ERROR).exists()
    (master,) = Appointment.objects.filter(master__isnull=True)
    assert master.is_recurring_master and SyncLink.objects.get().remote_id == master_id
    assert not Appointment.objects.visible().filter(master=master).exists()
    assert [i.item_id for i in ews.items(ALICE)] == [master_id]  # nothing written back


def test_an_imported_series_whose_last_occurrences_outlook_cancels_shows_nothing_and_stays_linked(
    importing_exchange, ews, tomorrow_9
):
    """The same end reached the other way: an imported Outlook series loses its occurrences one
    by one in Outlook. The helpdesk follows each cancel and keeps the (empty) series linked."""
    master_id = _daily_outlook_series_of_4(ews, tomorrow_9)
    pull(importing_exchange)
    window = (tomorrow_9 - HOUR, tomorrow_9 + timedelta(days=6))
    for occurrence in ews.calendar_view(ALICE, *window):
        ews.outlook_cancel_occurrence(ALICE, master_id, occurrence.original_start)
        report = pull(importing_exchange)
        assert report.failed == 0
        shown = sorted(o.start for o in ews.calendar_view(ALICE, *window))
        assert sorted(a.start for a in Appointment.objects.visible().filter(master__isnull=False)) == shown

    assert pull(importing_exchange).failed == 0
    assert SyncLink.objects.get().remote_id == master_id
    assert not Appointment.objects.visible().filter(master__isnull=False).exists()


def test_an_occurrence_with_its_own_subject_keeps_it_when_outlook_renames_the_series(
    importing_exchange, ews, tomorrow_9
):
    """The other half of the rule above: an occurrence the helpdesk gave a subject of its own is written
    with it (a Subject SetItemField on the occurrence), so Outlook's rename of the series leaves it as
    it is. Expected values: the server's own calendar view and its exception."""
    master = make_daily_series(importing_exchange.agent, tomorrow_9)
    second = Appointment.objects.filter(master=master).order_by("start")[1]
    calendar_services.update_appointment(second, subject="S1 stand-up, site visit")
    engine.sync_agent_calendar(AgentCalendar.objects.get(pk=importing_exchange.pk), pull=True)
    (item,) = ews.items(ALICE)
    (exception,) = item.modified.values()
    assert (exception.subject, exception.location) == ("S1 stand-up, site visit", None)
    ews.outlook_update(ALICE, item.item_id, subject="S1 call (outlook)")

    engine.sync_agent_calendar(AgentCalendar.objects.get(pk=importing_exchange.pk), pull=True)

    window = (tomorrow_9 - HOUR, tomorrow_9 + timedelta(days=5))
    shown = sorted((o.start, o.subject) for o in ews.calendar_view(ALICE, *window))
    check_series_shown(
        master, shown, ["S1 call (outlook)", "S1 stand-up, site visit", "S1 call (outlook)", "S1 call (outlook)"]
    )


def test_an_occurrence_given_back_the_series_subject_shows_it_again(importing_exchange, ews, tomorrow_9):
    """An occurrence whose own subject the helpdesk takes back (it reads as the series' again) gets the
    series' subject written over the one it held: EWS cannot make an exception follow its series
    again, so the text it shows is put right. Expected values: the server's own calendar view."""
    master = make_daily_series(importing_exchange.agent, tomorrow_9)
    second = Appointment.objects.filter(master=master).order_by("start")[1]
    calendar_services.update_appointment(second, subject="S1 stand-up, site visit")
    engine.sync_agent_calendar(AgentCalendar.objects.get(pk=importing_exchange.pk), pull=True)

    calendar_services.update_appointment(Appointment.objects.get(pk=second.pk), subject="S1 stand-up")
    engine.sync_agent_calendar(AgentCalendar.objects.get(pk=importing_exchange.pk), pull=True)

    window = (tomorrow_9 - HOUR, tomorrow_9 + timedelta(days=5))
    shown = sorted((o.start, o.subject) for o in ews.calendar_view(ALICE, *window))
    check_series_shown(master, shown, ["S1 stand-up"] * 4)
    (item,) = ews.items(ALICE)
    assert [e.subject for e in item.modified.values()] == ["S1 stand-up"]


def test_an_occurrence_outlook_renames_in_a_private_helpdesk_series_shows_its_own_subject(
    importing_exchange, ews, tomorrow_9
):
    """The kind of the Google long-profile failure `S8 differs` (seed 7) on Exchange: the helpdesk's own
    series, made private (Sensitivity Private: the helpdesk still writes and keeps its texts), has one
    occurrence moved and renamed in Outlook. The exception holds that subject as its own (MS-OXOCAL
    2.2.1.44.2), so Outlook shows it; the helpdesk ignored an exception's own text for every private
    series, its own included. Expected values: the server's own calendar view."""
    master = make_daily_series(importing_exchange.agent, tomorrow_9)
    calendar_services.update_appointment(master, private=True)
    engine.sync_agent_calendar(AgentCalendar.objects.get(pk=importing_exchange.pk), pull=True)
    (item,) = ews.items(ALICE)
    assert item.sensitivity == "Private"
    original = Appointment.objects.filter(master=master).order_by("start")[1].original_start
    ews.outlook_move_occurrence(
        ALICE, item.item_id, original, start=original + HOUR, end=original + 2 * HOUR, subject="S1 site visit"
    )

    engine.sync_agent_calendar(AgentCalendar.objects.get(pk=importing_exchange.pk), pull=True)

    window = (tomorrow_9 - HOUR, tomorrow_9 + timedelta(days=5))
    shown = sorted((o.start, o.subject) for o in ews.calendar_view(ALICE, *window))
    check_series_shown(master, shown, ["S1 stand-up", "S1 site visit", "S1 stand-up", "S1 stand-up"])


def test_exchange_refuses_a_series_with_extra_dates_rather_than_writing_it_without_them(provider, calendar, ews):
    """Review 2 fault 3: an EWS Recurrence is one pattern and a range, with no list of extra dates
    (RFC 5545 RDATE); written without them the series would lose those occurrences in Outlook
    silently. The write is refused with a message naming the extra dates; nothing is made."""
    from integrations.providers.base import ProviderError
    from tests.integrations.series import weekly_series_with_an_extra_date

    today = datetime.now(ZoneInfo("Europe/Amsterdam")).date() + timedelta(days=7)
    start = datetime(today.year, today.month, today.day, 9, tzinfo=ZoneInfo("Europe/Amsterdam"))
    series = weekly_series_with_an_extra_date(start)

    with pytest.raises(ProviderError, match=r"Exchange cannot hold a series with extra dates \(RDATE: 1 date"):
        provider.create(calendar, series)
    assert ews.items(ALICE) == []


def test_exchange_refuses_a_series_on_its_organisers_own_zone_rather_than_writing_it_on_utc(provider, calendar, ews):
    """Trial F3: no Windows zone has the offsets of a series' own "Customized Time Zone"; written on
    UTC its occurrences after that zone's clock change would be an hour off in Outlook. Refused
    naming the zone; nothing is made."""
    from integrations.providers.base import ProviderError
    from tests.integrations.series import series_on_its_own_zone

    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=7)

    with pytest.raises(ProviderError, match=r"Exchange cannot hold a series .* “Customized Time Zone”"):
        provider.create(calendar, series_on_its_own_zone(start))
    assert ews.items(ALICE) == []


def test_exchange_refusing_a_series_with_extra_dates_is_in_the_sync_log(
    alice_exchange, ews, tomorrow_9, django_capture_on_commit_callbacks
):
    """The refusal above (an EWS Recurrence is one pattern and one range, MS-OXWSCDATA
    RecurrenceType) reaches the technician's sync log, as the pages read it, with the message a
    coordinator acts on; nothing is written to the mailbox."""
    make_series_with_an_extra_date(alice_exchange.agent, tomorrow_9, django_capture_on_commit_callbacks)

    assert ews.items(ALICE) == []
    extra_dates_refusal_logged(alice_exchange.agent, "Exchange")


def test_a_series_on_its_own_zone_refused_at_every_retry_keeps_one_log_line(
    alice_exchange, tomorrow_9, django_capture_on_commit_callbacks
):
    """Task push 5: Exchange refuses a series on its organiser's own VTIMEZONE at every retry; the
    sync log says so once, counting the attempts."""
    from tests.integrations.series import own_zone_series_refused_keeps_one_line

    own_zone_series_refused_keeps_one_line(alice_exchange, django_capture_on_commit_callbacks, tomorrow_9, "Exchange")


def test_a_moved_occurrence_an_outlook_rule_change_drops_goes_on_both_sides_with_one_line(
    alice_exchange, ews, tomorrow_9, django_capture_on_commit_callbacks
):
    """Task push 2 on Exchange: Outlook ends the series after its first occurrence (a numbered
    range of one); a new pattern loses the series' exceptions in Exchange (Outlook warns "Any
    exceptions associated with this recurring appointment will be lost"), the helpdesk drops the
    moved occurrence, and one log line names it."""
    import dataclasses

    from tests.integrations.series import phone_rule_drops_a_moved_occurrence

    def end_after_the_first(item_id: str) -> None:
        recurrence = dataclasses.replace(
            ews.item(ALICE, item_id).recurrence, range="NumberedRecurrence", count=1, end_date=None
        )
        ews.outlook_update(ALICE, item_id, recurrence=recurrence, modified={}, deleted=set())

    phone_rule_drops_a_moved_occurrence(
        alice_exchange,
        django_capture_on_commit_callbacks,
        tomorrow_9,
        end_after_the_first,
        server_drops_exceptions=True,
    )

    (item,) = ews.items(ALICE)
    assert (item.modified, item.deleted) == ({}, set())
