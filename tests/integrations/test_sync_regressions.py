"""Issue 9 on CalDAV: each reported fault as a named case, through the caldav library against a real
Radicale. The right values come from the iCalendar objects on the server, read with icalendar (an
independent parser), and from RFC 5545 / RFC 6578."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest

from calendars import services as calendar_services
from calendars.models import Appointment, CalendarSettings, ConflictRule
from integrations import services
from integrations.models import AgentCalendar, SyncLink, SyncLogEntry
from integrations.sync import engine
from tests.integrations.conftest import USERS
from tests.integrations.test_caldav_sync import make, pull
from tests.peers.fault_proxy import FaultProxy

pytestmark = pytest.mark.django_db

HOUR = timedelta(hours=1)
THEIRS = (
    "CATEGORIES:Family,Health\r\n"
    "X-PHONE-COLOUR:teal\r\n"
    "ATTENDEE;CN=Carol:mailto:carol@example.com\r\n"
    "BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:Leave now\r\nTRIGGER:-PT1H\r\nEND:VALARM\r\n"
)


@pytest.fixture
def importing(alice_calendar):
    alice = alice_calendar.agent
    alice.import_external = True
    alice.save()
    pull(alice_calendar)
    return alice_calendar


def entry(phone, uid) -> tuple[icalendar.Calendar, icalendar.Event]:
    cal = icalendar.Calendar.from_ical(phone.by_uid(uid).data)
    (vevent,) = cal.walk("VEVENT")
    return cal, vevent


def triggers(vevent) -> list[timedelta]:
    return sorted(alarm.decoded("trigger") for alarm in vevent.walk("VALARM"))


@pytest.mark.parametrize("klass", ["PUBLIC", "PRIVATE"])
def test_imported_phone_entry_is_not_written_back_by_the_next_sync(importing, alice_phone, tomorrow_9, klass):
    """Item 1: after a pull, the next sync writes nothing: same ETag, PRODID, DTSTAMP, alarm and
    categories as the phone wrote them; the same after a later edit on the phone."""
    alice_phone.add("phone-1", tomorrow_9, tomorrow_9 + HOUR, "Dentist", klass=klass, extra=THEIRS)
    pull(importing)
    assert Appointment.objects.count() == 1
    written = alice_phone.by_uid("phone-1").data

    report = pull(importing)

    assert (report.pushed, report.pulled) == (0, 0)
    assert alice_phone.by_uid("phone-1").data == written
    assert not SyncLogEntry.objects.filter(direction=SyncLogEntry.Direction.OUTBOUND).exists()
    alice_phone.edit("phone-1", location="Room 2")
    pull(importing)
    edited = alice_phone.by_uid("phone-1").data
    assert pull(importing).pushed == 0
    assert alice_phone.by_uid("phone-1").data == edited
    _, vevent = entry(alice_phone, "phone-1")
    assert triggers(vevent) == [timedelta(hours=-1)]
    assert Appointment.objects.get().reminder_minutes == 60


def test_helpdesk_edit_keeps_what_the_helpdesk_does_not_own(
    importing, alice_phone, tomorrow_9, django_capture_on_commit_callbacks
):
    """Item 2: an update edits the entry as last read: subject and time change; PRODID, CATEGORIES,
    the user's own alarm, the attendee and X- properties stay; no ORGANIZER is added; SEQUENCE goes
    up because the time changed (RFC 5545 3.8.7.4)."""
    alice_phone.add("phone-2", tomorrow_9, tomorrow_9 + HOUR, "Dentist", extra=THEIRS)
    pull(importing)
    appointment = Appointment.objects.get()

    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.update_appointment(
            appointment, subject="Dentist (moved)", start=tomorrow_9 + 2 * HOUR, end=tomorrow_9 + 3 * HOUR
        )

    cal, vevent = entry(alice_phone, "phone-2")
    assert str(cal["prodid"]) == "-//Other client//EN"
    assert str(vevent["summary"]) == "Dentist (moved)"
    assert vevent.decoded("dtstart") == tomorrow_9 + 2 * HOUR
    assert vevent.decoded("dtend") == tomorrow_9 + 3 * HOUR
    assert [str(c) for c in vevent["categories"].cats] == ["Family", "Health"]
    assert str(vevent["x-phone-colour"]) == "teal"
    assert str(vevent["attendee"]) == "mailto:carol@example.com"
    assert "organizer" not in vevent
    assert triggers(vevent) == [timedelta(hours=-1)]  # theirs, and no default reminder of ours
    assert (str(vevent["description"]), str(vevent["location"])) == ("secret details", "Room 1")
    assert int(vevent.get("sequence", 0)) == 1
    assert pull(importing).pushed == 0


def test_helpdesk_edit_of_its_own_entry_replaces_only_its_own_alarm(
    alice_calendar, alice_phone, tomorrow_9, django_capture_on_commit_callbacks
):
    """Item 2: the phone adds categories and its own alarm to an entry the helpdesk made; a helpdesk
    change of the reminder replaces the helpdesk's alarm and keeps the phone's and the categories."""
    appointment = make(alice_calendar.agent, tomorrow_9, django_capture_on_commit_callbacks, reminder_minutes=15)
    marker = SyncLink.objects.get().marker
    phone_entry = alice_phone.by_uid(marker)
    component = phone_entry.icalendar_component
    component.add("categories", ["Onsite"])
    alarm = icalendar.Alarm()
    alarm.add("action", "AUDIO")
    alarm.add("trigger", timedelta(hours=-2))
    component.add_component(alarm)
    phone_entry.save()
    pull(alice_calendar)

    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.update_appointment(appointment, reminder_minutes=30, subject="Renamed")

    _, vevent = entry(alice_phone, marker)
    assert str(vevent["summary"]) == "Renamed"
    assert [str(c) for c in vevent["categories"].cats] == ["Onsite"]
    assert triggers(vevent) == [timedelta(hours=-2), timedelta(minutes=-30)]


def test_deletion_seen_only_by_a_full_listing_lands_in_one_pull(
    alice_calendar, alice_phone, tomorrow_9, django_capture_on_commit_callbacks
):
    """Item 3: a full listing that misses our entry (here: the calendar is empty) removes it in that
    same pull, once a direct read confirms it is gone; incremental pulls before it change nothing."""
    make(alice_calendar.agent, tomorrow_9, django_capture_on_commit_callbacks)
    pull(alice_calendar)
    alice_phone.delete(SyncLink.objects.get().marker)
    AgentCalendar.objects.filter(pk=alice_calendar.pk).update(sync_token="")  # the next pull lists in full

    pull(alice_calendar)

    assert Appointment.objects.count() == 0
    assert SyncLink.objects.count() == 0


def test_empty_listing_of_a_wrong_calendar_deletes_nothing(
    alice_calendar, alice_phone, tomorrow_9, django_capture_on_commit_callbacks, radicale
):
    """Item 3, the guard: a full listing that comes back empty because the calendar is the wrong
    one deletes nothing: each missing entry is still found where it is."""
    from integrations.providers.caldav import CalDAVProvider

    make(alice_calendar.agent, tomorrow_9, django_capture_on_commit_callbacks)
    pull(alice_calendar)
    other = CalDAVProvider(radicale.url, "helpdesk", USERS["helpdesk"], calendar_home="/{user}/").make_calendar(
        "alice@example.com", "empty-one"
    )
    AgentCalendar.objects.filter(pk=alice_calendar.pk).update(calendar_id=other.calendar_id, sync_token="")

    pull(alice_calendar)

    assert Appointment.objects.count() == 1
    assert SyncLink.objects.count() == 1
    assert len(alice_phone.entries()) == 1


@pytest.fixture
def counted_calendar(alice, radicale, caldav_connection):
    """Alice's calendar reached through a proxy that logs every request."""
    from tests.integrations.conftest import _connect

    proxy = FaultProxy(radicale.url)
    direct = _connect(alice, caldav_connection, radicale)
    connection = services.add_connection(
        name="Counted",
        kind="caldav",
        url=proxy.url,
        username="helpdesk",
        secret=USERS["helpdesk"],
        options={"calendar_home": "/{user}/", "timeout": 5},
    )
    path = direct.calendar_id.split("/", 3)[3]
    direct.delete()
    yield AgentCalendar.objects.create(agent=alice, connection=connection, calendar_id=proxy.url + path), proxy
    proxy.stop()


def test_first_poll_after_helpdesk_writes_reads_none_of_them_back(
    counted_calendar, tomorrow_9, django_capture_on_commit_callbacks
):
    """Item 8: the sync report's ETags (RFC 6578 getetag) equal the ones stored from our PUTs, so
    the first poll after N writes costs the one REPORT and no GET."""
    agent_calendar, proxy = counted_calendar
    pull(agent_calendar)
    for n in range(3):
        make(agent_calendar.agent, tomorrow_9 + n * 2 * HOUR, django_capture_on_commit_callbacks, subject=f"Job {n}")
    assert sum(method == "PUT" for method, _ in proxy.requests) == 3

    proxy.requests.clear()
    report = pull(agent_calendar)

    assert (report.pulled, report.pushed) == (0, 0)
    assert [method for method, _ in proxy.requests] == ["REPORT"]
    proxy.requests.clear()
    pull(agent_calendar)
    assert [method for method, _ in proxy.requests] == ["REPORT"]


def test_new_etag_with_unchanged_content_is_kept_for_the_next_push(
    alice_calendar, alice_phone, tomorrow_9, django_capture_on_commit_callbacks
):
    """Item 10: another client re-saves our entry with nothing we compare changed (an X- property):
    the ETag is new; the pull stores it, and the next helpdesk change is pushed, not refused (412)."""
    appointment = make(alice_calendar.agent, tomorrow_9, django_capture_on_commit_callbacks)
    pull(alice_calendar)
    marker = SyncLink.objects.get().marker
    alice_phone.edit(marker, **{"x-phone-seen": "yes"})
    new_etag = alice_phone.client.request(str(alice_phone.by_uid(marker).url), "GET").headers["etag"]
    assert new_etag != SyncLink.objects.get().version

    pull(alice_calendar)
    assert SyncLink.objects.get().version == new_etag

    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.update_appointment(appointment, subject="Renamed in the helpdesk")

    _, vevent = entry(alice_phone, marker)
    assert str(vevent["summary"]) == "Renamed in the helpdesk"
    assert str(vevent["x-phone-seen"]) == "yes"
    assert not SyncLogEntry.objects.filter(result=SyncLogEntry.Result.CONFLICT).exists()
    assert not SyncLink.objects.get().pending


def test_helpdesk_deletion_lands_after_another_client_touched_only_the_version(
    alice_calendar, alice_phone, tomorrow_9, django_capture_on_commit_callbacks
):
    """Item 10, found by the state machine: the phone adds CATEGORIES to our entry (new ETag, nothing
    the helpdesk compares) and the appointment is deleted in the helpdesk before any pull. The
    DELETE with the old ETag is refused (412, RFC 7232 3.1); the engine reads the entry as it is now
    and deletes it, instead of being refused at every sync."""
    appointment = make(alice_calendar.agent, tomorrow_9, django_capture_on_commit_callbacks)
    pull(alice_calendar)
    marker = SyncLink.objects.get().marker
    alice_phone.edit(marker, categories="Customer visit")

    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.delete_appointment(appointment)
    pull(alice_calendar)

    assert [e for e in alice_phone.entries() if marker in str(e.url)] == []
    assert not SyncLink.objects.exists()
    assert not SyncLogEntry.objects.filter(result=SyncLogEntry.Result.ERROR).exists()


def test_text_change_keeps_the_phone_entrys_time_zone_spelling(
    importing, alice_phone, tomorrow_9, django_capture_on_commit_callbacks
):
    """Items 2 and 8: a helpdesk change of text rewrites no time: DTSTART keeps its TZID and the
    VTIMEZONE stays; SEQUENCE does not move (RFC 5545 3.8.7.4: only time or recurrence changes do)."""
    local = tomorrow_9.astimezone(ZoneInfo("Europe/Amsterdam")).strftime("%Y%m%dT%H%M%S")
    later = (tomorrow_9 + HOUR).astimezone(ZoneInfo("Europe/Amsterdam")).strftime("%Y%m%dT%H%M%S")
    alice_phone.calendar.save_event(
        ical=(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Other client//EN\r\n"
            "BEGIN:VTIMEZONE\r\nTZID:Europe/Amsterdam\r\nBEGIN:STANDARD\r\nDTSTART:19701025T030000\r\n"
            "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\n"
            "END:STANDARD\r\nBEGIN:DAYLIGHT\r\nDTSTART:19700329T020000\r\n"
            "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\n"
            "END:DAYLIGHT\r\nEND:VTIMEZONE\r\nBEGIN:VEVENT\r\nUID:phone-tz\r\nDTSTAMP:20260101T000000Z\r\n"
            f"DTSTART;TZID=Europe/Amsterdam:{local}\r\nDTEND;TZID=Europe/Amsterdam:{later}\r\n"
            "SUMMARY:Dentist\r\nSEQUENCE:3\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        )
    )
    pull(importing)
    appointment = Appointment.objects.get()
    sequence = int(entry(alice_phone, "phone-tz")[1]["sequence"])  # as the phone's library saved it

    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.update_appointment(appointment, note="Bring the card")

    cal, vevent = entry(alice_phone, "phone-tz")
    assert vevent["dtstart"].to_ical().decode() == local
    assert vevent["dtstart"].params["TZID"] == "Europe/Amsterdam"
    assert vevent.decoded("dtstart") == tomorrow_9
    assert [str(tz["tzid"]) for tz in cal.walk("VTIMEZONE")] == ["Europe/Amsterdam"]
    assert str(vevent["description"]) == "Bring the card"
    assert int(vevent["sequence"]) == sequence


def test_sync_after_any_sync_writes_nothing(importing, alice_phone, tomorrow_9, django_capture_on_commit_callbacks):
    """The general rule: after a sync that pushed, pulled, imported and resynced, the next one writes
    nothing and changes no ETag."""
    make(importing.agent, tomorrow_9, django_capture_on_commit_callbacks)
    alice_phone.add("phone-3", tomorrow_9 + 2 * HOUR, tomorrow_9 + 3 * HOUR, "Phone", extra=THEIRS)
    pull(importing)
    AgentCalendar.objects.filter(pk=importing.pk).update(sync_token="")
    pull(importing)
    etags = sorted(str(e.url) + (e.data or "") for e in alice_phone.entries())

    report = engine.sync_agent_calendar(AgentCalendar.objects.get(pk=importing.pk), pull=True)

    assert (report.pushed, report.pulled) == (0, 0)
    assert sorted(str(e.url) + (e.data or "") for e in alice_phone.entries()) == etags


def test_edited_templated_body_and_subject_are_not_templated_twice(
    alice_calendar, alice_phone, tomorrow_9, django_capture_on_commit_callbacks
):
    """Item 6 on CalDAV, subject and body: the phone edits `[HD] X` and `Note: Bring keys`; the
    helpdesk reads back the text inside the templates and renders exactly what the phone shows."""
    from calendars.models import CalendarSettings

    calendar_settings = CalendarSettings.load()
    calendar_settings.subject_template = "[HD] {subject}"
    calendar_settings.body_template = "Note: {note}"
    calendar_settings.save()
    appointment = make(alice_calendar.agent, tomorrow_9, django_capture_on_commit_callbacks, subject="X", note="Keys")
    pull(alice_calendar)
    marker = SyncLink.objects.get().marker
    alice_phone.edit(marker, summary="[HD] X (call first)", description="Note: Keys and ladder")

    pull(alice_calendar)

    appointment.refresh_from_db()
    assert (appointment.subject, appointment.note) == ("X (call first)", "Keys and ladder")
    assert pull(alice_calendar).pushed == 0
    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.update_appointment(appointment, start=tomorrow_9 + HOUR, end=tomorrow_9 + 2 * HOUR)
    _, vevent = entry(alice_phone, marker)
    assert (str(vevent["summary"]), str(vevent["description"])) == ("[HD] X (call first)", "Note: Keys and ladder")


def test_series_edit_keeps_the_phones_properties_and_gives_the_same_occurrences(
    alice_calendar, alice_phone, tomorrow_9, django_capture_on_commit_callbacks
):
    """Items 2 and 8 on a series: the phone adds categories to our series; the helpdesk moves one
    occurrence and cancels another; the entry keeps the categories, holds the occurrences
    recurring-ical-events expands to the helpdesk's, and the next pull writes nothing."""
    import recurring_ical_events

    with django_capture_on_commit_callbacks(execute=True):
        master = calendar_services.create_recurring_appointment(
            rule="RRULE:FREQ=DAILY;INTERVAL=1;COUNT=5",
            agents=[alice_calendar.agent],
            start=tomorrow_9,
            end=tomorrow_9 + HOUR,
            subject="Stand-up",
        )
    pull(alice_calendar)
    marker = SyncLink.objects.get().marker
    phone_entry = alice_phone.by_uid(marker)
    phone_entry.icalendar_component.add("categories", ["Team"])
    phone_entry.save()
    pull(alice_calendar)
    second, third = master.occurrences.order_by("original_start")[1:3]
    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.update_appointment(second, start=second.start + 2 * HOUR, end=second.end + 2 * HOUR)
    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.cancel_occurrence(third)

    cal = icalendar.Calendar.from_ical(alice_phone.by_uid(marker).data)
    main = next(c for c in cal.walk("VEVENT") if c.get("recurrence-id") is None)
    assert [str(c) for c in main["categories"].cats] == ["Team"]
    window = (tomorrow_9 - timedelta(days=1), tomorrow_9 + timedelta(days=10))
    remote = sorted(e.decoded("dtstart") for e in recurring_ical_events.of(cal).between(*window))
    local = sorted(
        Appointment.objects.visible().filter(master=master, start__gte=window[0]).values_list("start", flat=True)
    )
    assert remote == local and len(remote) == 4
    report = pull(alice_calendar)
    assert (report.pushed, report.pulled) == (0, 0)


def _phone_view(phone, start, end) -> list:
    """What a phone shows: the server's objects expanded by recurring-ical-events (independent)."""
    import recurring_ical_events

    shown = []
    for event in phone.entries():
        calendar = icalendar.Calendar.from_ical(event.data)
        shown += [i.decoded("dtstart") for i in recurring_ical_events.of(calendar).between(start, end)]
    return sorted(shown)


def test_a_phone_series_whose_every_occurrence_is_cancelled_is_kept_and_follows_its_restored_days(
    importing, alice_phone, tomorrow_9
):
    """Every start of a phone's series is an EXDATE (RFC 5545 3.8.5.1: the set may be empty). The
    import failed at every pull ("This rule gives no occurrence after the start"). Now the series is
    kept, linked and showing nothing, as on the phone; when the phone takes two EXDATEs back, those
    two days show. Expected values: the phone's objects expanded by recurring-ical-events."""
    fmt = "%Y%m%dT%H%M%SZ"
    days = [tomorrow_9 + timedelta(days=n) for n in range(3)]
    cancelled = ",".join(day.astimezone(ZoneInfo("UTC")).strftime(fmt) for day in days)
    alice_phone.add(
        "drill", tomorrow_9, tomorrow_9 + HOUR, "Drill", extra=f"RRULE:FREQ=DAILY;COUNT=3\r\nEXDATE:{cancelled}\r\n"
    )
    visit = tomorrow_9 + 3 * HOUR
    alice_phone.add("visit", visit, visit + HOUR, "Visit")
    window = (tomorrow_9 - HOUR, tomorrow_9 + timedelta(days=5))
    assert _phone_view(alice_phone, *window) == [visit]

    first, second = pull(importing), pull(importing)

    assert (first.failed, second.failed, second.pulled, second.pushed) == (0, 0, 0, 0)
    master = Appointment.objects.get(subject="Drill")
    assert master.is_recurring_master and SyncLink.objects.filter(appointment=master).exists()
    assert not Appointment.objects.visible().filter(master=master).exists()

    # caldav's event_by_uid finds no object that has no instance; a phone edits what it listed
    (event,) = [e for e in alice_phone.entries() if str(e.icalendar_component["UID"]) == "drill"]
    event.icalendar_component.pop("EXDATE")
    event.icalendar_component.add("EXDATE", [days[1]])
    event.save()
    pull(importing)

    shown = sorted(a.start for a in Appointment.objects.visible().filter(master=master))
    assert shown == [moment for moment in _phone_view(alice_phone, *window) if moment != visit]
    assert len(shown) == 2


def test_the_state_machine_names_a_helpdesk_entry_that_came_back_as_a_hidden_import(
    importing, alice_phone, radicale, tomorrow_9, django_capture_on_commit_callbacks
):
    """CalDAV long profile, seed 6, `{'helpdesk-…': (1, 0), 'H2': (0, 1)}`: the helpdesk made a private
    entry, the phone moved it and the helpdesk deleted it; the phone's change won (now: under "external
    calendar wins", the rule deciding that conflict), so it came back as a private import without text,
    under the helpdesk's own UID. The sync was right; the machine named it by its UID (it knew only the
    phone's "phone-" UIDs). Expected: the server object's SUMMARY."""
    from tests.integrations.test_sync_state_machine import CalDAVSync, Phone

    settings = CalendarSettings.load()
    settings.conflict_rule = ConflictRule.EXTERNAL_WINS
    settings.save()
    appointment = make(importing.agent, tomorrow_9, django_capture_on_commit_callbacks, subject="H2 install (hd)")
    calendar_services.update_appointment(appointment, private=True)
    pull(importing)
    marker = SyncLink.objects.get().marker
    alice_phone.edit(marker, dtstart=tomorrow_9 + HOUR, dtend=tomorrow_9 + 2 * HOUR)
    calendar_services.delete_appointment(Appointment.objects.get())
    pull(importing)

    back = Appointment.objects.get()
    assert (back.subject, back.private, back.source) == ("", True, Appointment.Source.EXTERNAL)
    machine = CalDAVSync.__new__(CalDAVSync)  # its server reading only; no Hypothesis run
    machine.phone = Phone(radicale.url, importing.calendar_id)
    assert machine.token_for_marker(SyncLink.objects.get(appointment=back).marker) == "H2"
