"""What one hostile external entry may cost, through the real CalDAV path (a real Radicale).

Each input of issue 11 is a named test: an endless MINUTELY and SECONDLY series, COUNT=1000000,
a 5 MB DESCRIPTION, a NUL byte, an entry ending before it starts, an unknown TZID, an entry that
cannot be imported at all, and a calendar with many entries. Each syncs with the rest of the
calendar intact, bounded rows and peak memory, a plain log line naming the entry, and no page,
admin page or feed answering 500 afterwards. Expected occurrences come from dateutil (RFC 5545
expansion), not from the helpdesk's own code.
"""

import itertools
import os
import tracemalloc
from datetime import UTC, datetime, timedelta

import pytest
from dateutil.rrule import rrulestr
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone
from hypothesis import settings as hypothesis_settings

from calendars import services as calendar_services
from calendars.models import Appointment
from integrations.models import SyncLink, SyncLogEntry
from integrations.providers.base import RemoteCalendar, Window
from integrations.providers.caldav import CalDAVProvider
from integrations.sync import engine, limits
from tests.feed_tokens import feed_token_of
from tests.integrations.conftest import USERS, OtherClient
from tests.integrations.importing import start_importing

pytestmark = pytest.mark.django_db

MiB = 1024 * 1024
FMT = "%Y%m%dT%H%M%SZ"
# Plain entries in the one calendar of the many-entries test: the 2,000 in the long profile
# (`pytest --hypothesis-profile=long`, about 3 minutes) or with ENTRIES_IN_ONE_CALENDAR=2000; fewer in CI.
LONG = hypothesis_settings.default.max_examples > hypothesis_settings.get_profile("ci").max_examples
ENTRIES_IN_ONE_CALENDAR = int(os.environ.get("ENTRIES_IN_ONE_CALENDAR") or (2000 if LONG else 120))


def pull(agent_calendar):
    agent_calendar.refresh_from_db()
    return engine.sync_agent_calendar(agent_calendar, pull=True)


@pytest.fixture
def importing(alice_calendar):
    return start_importing(alice_calendar)


def vevent(uid: str, start: datetime, *, summary: str, lines: str = "", end: datetime | None = None) -> str:
    end = end or start + timedelta(minutes=30)
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Hostile client//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:{timezone.now().strftime(FMT)}\r\n"
        f"DTSTART:{start.astimezone(UTC).strftime(FMT)}\r\nDTEND:{end.astimezone(UTC).strftime(FMT)}\r\n"
        f"SUMMARY:{summary}\r\n{lines}END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def put(phone, text: str) -> None:
    phone.calendar.save_event(ical=text)


def with_a_neighbour(phone, start: datetime) -> None:
    """An ordinary entry next to the hostile one: it must come in intact."""
    put(phone, vevent("neighbour", start + timedelta(hours=3), summary="Dentist", lines="DESCRIPTION:Bring card\r\n"))


def assert_neighbour_intact(agent) -> None:
    neighbour = Appointment.objects.get(subject="Dentist", agents=agent)
    assert (neighbour.note, neighbour.source) == ("Bring card", Appointment.Source.EXTERNAL)


def entry_of(phone, uid: str):
    """The entry as the server holds it, read at its address (a GET: no server-side search)."""
    event = phone.calendar.event_by_url(f"{phone.calendar.url}{uid}.ics")
    event.load()
    return event.icalendar_component


def rule_starts(rule: str, start: datetime, until: datetime, limit: int) -> list[datetime]:
    """The starts RFC 5545 gives (dateutil's expansion), the first `limit`, up to `until`."""
    starts = itertools.islice(rrulestr(rule, dtstart=start.astimezone(UTC)), limit)
    return [moment for moment in starts if moment <= until]


def occurrence_starts(agent) -> list[datetime]:
    master = Appointment.objects.get(agents=agent, master__isnull=True, schedule__isnull=False)
    return sorted(master.occurrences.values_list("original_start", flat=True))


def pull_measured(agent_calendar) -> int:
    """Pull once; the peak of Python memory allocated meanwhile, in bytes (tracemalloc)."""
    tracemalloc.start()
    try:
        pull(agent_calendar)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def no_answer_500(client, agent) -> None:
    """The pages the imported entries show on answer without a server error: the technician's and
    the group calendar, the API list and detail, the sync page, both feeds, and the admin change
    pages of every entry (series masters, single entries, two occurrences each), link and log line."""
    client.force_login(User.objects.create_superuser("root-limits", "root@example.com", "pw"))
    token = feed_token_of(agent)
    urls = ["/calendar/", "/calendar/group/", "/me/sync/", "/api/appointments/", f"/feeds/{token}.ics"]
    urls += [f"/feeds/{token}.ics?external=1", "/admin/integrations/synclogentry/", "/admin/calendars/appointment/"]
    entries = list(Appointment.objects.filter(master__isnull=True).values_list("pk", flat=True))
    for master in entries:
        entries += list(Appointment.objects.filter(master=master).values_list("pk", flat=True)[:2])
    for pk in entries:
        urls += [f"/api/appointments/{pk}/", reverse("admin:calendars_appointment_change", args=[pk])]
    for model in (SyncLink, SyncLogEntry):
        for pk in model.objects.values_list("pk", flat=True):
            urls.append(reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[pk]))
    failures = [(url, status) for url in urls if (status := client.get(url).status_code) >= 500]
    assert failures == []


def log_about(agent_calendar, text: str) -> SyncLogEntry:
    entries = [e for e in SyncLogEntry.objects.filter(agent_calendar=agent_calendar) if text in e.message]
    assert entries, [e.message for e in SyncLogEntry.objects.filter(agent_calendar=agent_calendar)]
    return entries[0]


# --- series that would never end ----------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("freq", ["MINUTELY", "SECONDLY"])
def test_endless_series_finer_than_daily_is_kept_as_a_bounded_series(
    importing, alice_phone, tomorrow_9, settings, client, freq
):
    settings.SYNC_MAX_OCCURRENCES_PER_SERIES = 300
    put(alice_phone, vevent("runaway", tomorrow_9, summary="Ping", lines=f"RRULE:FREQ={freq}\r\n"))
    with_a_neighbour(alice_phone, tomorrow_9)

    peak = pull_measured(importing)

    agent = importing.agent
    expected = rule_starts(f"FREQ={freq}", tomorrow_9, tomorrow_9 + timedelta(days=400), 300)
    assert occurrence_starts(agent) == expected
    assert Appointment.objects.filter(agents=agent).count() == 300 + 1 + 1  # occurrences, master, neighbour
    assert peak < 300 * MiB
    entry = log_about(importing, f"FREQ={freq}")
    assert entry.subject == "Ping" and "first 300 occurrences" in entry.message
    assert_neighbour_intact(agent)
    # The external calendar keeps its endless rule.
    assert str(entry_of(alice_phone, "runaway")["rrule"].to_ical().decode()) == f"FREQ={freq}"
    # Nothing changed on either side: the next pull writes nothing and logs nothing new.
    logged = SyncLogEntry.objects.count()
    pull(importing)
    assert SyncLogEntry.objects.count() == logged
    no_answer_500(client, agent)


def test_endless_secondly_series_with_the_default_limits_stays_under_300_mib(importing, alice_phone, tomorrow_9):
    put(alice_phone, vevent("secondly", tomorrow_9, summary="Tick", lines="RRULE:FREQ=SECONDLY\r\n"))

    peak = pull_measured(importing)

    limit = limits.occurrences_per_series()
    assert limit == 1000  # the documented default
    assert occurrence_starts(importing.agent) == rule_starts(
        "FREQ=SECONDLY", tomorrow_9, tomorrow_9 + timedelta(1), limit
    )
    assert peak < 300 * MiB


@pytest.mark.slow
@pytest.mark.parametrize("freq", ["HOURLY"])
def test_count_of_a_million_is_kept_within_the_series_limit(importing, alice_phone, tomorrow_9, client, freq):
    # Slow on the peer's side: Radicale expands the million occurrences when it stores the entry.
    put(alice_phone, vevent("million", tomorrow_9, summary="Forever", lines=f"RRULE:FREQ={freq};COUNT=1000000\r\n"))
    with_a_neighbour(alice_phone, tomorrow_9)

    peak = pull_measured(importing)

    # The first 1000 starts (the default limit), as far as the one-year horizon of occurrences reaches.
    horizon = tomorrow_9 + timedelta(days=365)
    assert occurrence_starts(importing.agent) == rule_starts(f"FREQ={freq};COUNT=1000000", tomorrow_9, horizon, 1000)
    assert peak < 300 * MiB
    assert "COUNT=1000000" in log_about(importing, "first 1000 occurrences").message
    assert_neighbour_intact(importing.agent)
    no_answer_500(client, importing.agent)


def test_bounded_series_stays_endless_outside_after_an_edit_in_the_helpdesk(
    importing, alice_phone, tomorrow_9, settings, django_capture_on_commit_callbacks
):
    settings.SYNC_MAX_OCCURRENCES_PER_SERIES = 20
    put(alice_phone, vevent("pulse", tomorrow_9, summary="Pulse", lines="RRULE:FREQ=MINUTELY;INTERVAL=5\r\n"))
    pull(importing)
    master = Appointment.objects.get(subject="Pulse", master__isnull=True)
    assert master.occurrences.count() == 20

    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.update_appointment(master, subject="Pulse, renamed")
    pull(importing)

    component = entry_of(alice_phone, "pulse")
    assert str(component["summary"]) == "Pulse, renamed"
    assert component["rrule"].to_ical().decode() == "FREQ=MINUTELY;INTERVAL=5"


def test_series_with_its_own_small_end_is_left_whole(importing, alice_phone, tomorrow_9):
    until = (tomorrow_9 + timedelta(hours=2)).astimezone(UTC).strftime(FMT)
    put(
        alice_phone,
        vevent("short", tomorrow_9, summary="Shifts", lines=f"RRULE:FREQ=MINUTELY;INTERVAL=15;UNTIL={until}\r\n"),
    )

    pull(importing)

    expected = rule_starts(f"FREQ=MINUTELY;INTERVAL=15;UNTIL={until}", tomorrow_9, tomorrow_9 + timedelta(1), 1000)
    assert len(expected) == 9
    assert occurrence_starts(importing.agent) == expected
    assert not SyncLogEntry.objects.filter(message__contains="first").exists()


def test_occurrences_beyond_one_syncs_budget_come_at_the_next_pull(importing, alice_phone, tomorrow_9, settings):
    settings.SYNC_MAX_OCCURRENCES_PER_SERIES = 50
    settings.SYNC_MAX_OCCURRENCES_PER_SYNC = 60
    for n in range(3):
        put(
            alice_phone,
            vevent(f"busy-{n}", tomorrow_9 + timedelta(days=n), summary=f"Busy {n}", lines="RRULE:FREQ=HOURLY\r\n"),
        )

    pull(importing)
    masters = Appointment.objects.filter(schedule__isnull=False)
    assert masters.count() == 2  # 50 occurrences, then 50 more (over 60), then the budget is spent
    assert "SYNC_MAX_OCCURRENCES_PER_SYNC" in importing.__class__.objects.get(pk=importing.pk).last_error

    pull(importing)  # nothing changed in the calendar: the waiting series is read again all the same
    assert masters.count() == 3
    assert Appointment.objects.filter(master__isnull=False).count() == 150


# --- text ------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_five_megabyte_description_is_cut_with_a_note_and_stays_whole_outside(
    importing, alice_phone, tomorrow_9, client
):
    description = "0123456789" * (5 * MiB // 10)
    put(alice_phone, vevent("huge", tomorrow_9, summary="Huge", lines=f"DESCRIPTION:{description}\r\n"))
    with_a_neighbour(alice_phone, tomorrow_9)

    peak = pull_measured(importing)
    pull(importing)

    appointment = Appointment.objects.get(subject="Huge")
    assert len(appointment.note) <= 20_000
    assert description.startswith(appointment.note.split("\n\n[")[0])
    assert appointment.note.endswith("the whole text stays in the external calendar.]")
    assert peak < 300 * MiB
    assert log_about(importing, "longer than 20000 characters").subject == "Huge"
    assert_neighbour_intact(importing.agent)
    assert str(entry_of(alice_phone, "huge")["description"]) == description
    no_answer_500(client, importing.agent)


def test_cut_description_stays_whole_outside_after_an_edit_in_the_helpdesk(
    importing, alice_phone, tomorrow_9, settings, django_capture_on_commit_callbacks
):
    settings.SYNC_MAX_BODY_CHARS = 1000
    description = "abcdefghij" * 5000
    put(alice_phone, vevent("long", tomorrow_9, summary="Long", lines=f"DESCRIPTION:{description}\r\n"))
    pull(importing)
    appointment = Appointment.objects.get(subject="Long")
    assert len(appointment.note) == 1000 and appointment.note.startswith(description[:500])

    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.update_appointment(appointment, subject="Long, renamed")
    pull(importing)

    component = entry_of(alice_phone, "long")
    assert str(component["summary"]) == "Long, renamed"
    assert str(component["description"]) == description


@pytest.fixture
def proxied(alice, radicale, caldav_connection):
    """(alice's calendar through our proxy, her phone on Radicale directly, the proxy): the proxy's
    `rewrite_answers` makes a server that keeps what Radicale would clean or refuse."""
    from tests.integrations.conftest import calendar_through_proxy
    from tests.peers.fault_proxy import FaultProxy

    proxy = FaultProxy(radicale.url)
    alice.import_external = True
    alice.save()
    calendar = calendar_through_proxy(alice, proxy, radicale, caldav_connection, name="Keeps NUL", timeout=5)
    calendar_path = calendar.calendar_id.split("/", 3)[3]
    pull(calendar)
    yield calendar, OtherClient(radicale.url, "alice", USERS["alice"], radicale.url + calendar_path), proxy
    proxy.stop()


@pytest.fixture
def keeps_nul(proxied):
    """Alice's calendar on a server that keeps NUL bytes: a NUL wherever the text says NUL-HERE
    (Radicale itself drops NUL from what it is sent)."""
    calendar, phone, proxy = proxied
    proxy.rewrite_answers = {b"NUL-HERE": b"\x00"}
    return calendar, phone


def test_nul_bytes_are_left_out_and_the_log_line_is_written(keeps_nul, tomorrow_9, client):
    importing, alice_phone = keeps_nul
    put(
        alice_phone,
        vevent(
            "nul",
            tomorrow_9,
            summary="Server NUL-HERE room",
            lines="DESCRIPTION:key NUL-HERE in box\r\nLOCATION:B NUL-HERE 1\r\n",
        ),
    )
    with_a_neighbour(alice_phone, tomorrow_9)

    pull(importing)

    appointment = Appointment.objects.get(subject="Server  room")
    assert (appointment.note, appointment.location) == ("key  in box", "B  1")
    entry = log_about(importing, "NUL")
    assert entry.subject == "Server  room" and entry.message.startswith("3 character(s)")
    assert "\x00" not in str(SyncLink.objects.get(appointment=appointment).snapshot)
    assert_neighbour_intact(importing.agent)
    no_answer_500(client, importing.agent)


def test_object_larger_than_the_limit_is_refused_by_name_and_read_again(importing, alice_phone, tomorrow_9, settings):
    settings.SYNC_MAX_OBJECT_BYTES = 64 * 1024
    put(alice_phone, vevent("big", tomorrow_9, summary="Big", lines=f"DESCRIPTION:{'x' * 100_000}\r\n"))
    with_a_neighbour(alice_phone, tomorrow_9)

    pull(importing)

    assert not Appointment.objects.filter(subject="Big").exists()
    assert "SYNC_MAX_OBJECT_BYTES" in log_about(importing, "“Big”").message
    importing.refresh_from_db()
    assert "“Big”" in importing.last_error
    assert_neighbour_intact(importing.agent)

    settings.SYNC_MAX_OBJECT_BYTES = 1 * MiB
    pull(importing)  # the change report has nothing new: the refused entry is read again
    assert Appointment.objects.filter(subject="Big").exists()


# --- times -----------------------------------------------------------------------------------------------


def test_entry_ending_before_it_starts_is_imported_with_a_log_line(importing, alice_phone, tomorrow_9):
    put(alice_phone, vevent("backwards", tomorrow_9, summary="Backwards", end=tomorrow_9 - timedelta(hours=1)))

    pull(importing)

    appointment = Appointment.objects.get(subject="Backwards")
    assert (appointment.start, appointment.end) == (tomorrow_9, tomorrow_9 + timedelta(minutes=1))
    entry = log_about(importing, "before it starts")
    assert entry.subject == "Backwards" and "1 minute" in entry.message


def test_zero_length_entry_is_imported_with_a_log_line(importing, alice_phone, tomorrow_9):
    # Trial fault 10: RFC 5545 3.6.1 allows DTEND equal to DTSTART (a VEVENT of no length); an
    # appointment here always has one, so it is kept as 1 minute and the log says so, as it does
    # for an entry ending before it starts.
    put(alice_phone, vevent("zero", tomorrow_9, summary="Zero length", end=tomorrow_9))

    pull(importing)

    appointment = Appointment.objects.get(subject="Zero length")
    assert (appointment.start, appointment.end) == (tomorrow_9, tomorrow_9 + timedelta(minutes=1))
    entry = log_about(importing, "no length")
    assert entry.subject == "Zero length" and "kept as 1 minute" in entry.message


def test_a_time_the_server_kept_only_the_date_of_is_imported_with_a_log_line_saying_so(
    importing, alice_phone, tomorrow_9
):
    # Trial 6: hour 25 (RFC 5545 3.3.5 allows 00-23) became an all-day entry, "create ok", no message.
    day = tomorrow_9.astimezone(UTC).strftime("%Y%m%d")
    text = vevent("hour-25", tomorrow_9, summary="Hour 25")
    text = text.replace(f"DTSTART:{tomorrow_9.astimezone(UTC).strftime(FMT)}", f"DTSTART:{day}T250000Z")
    text = text.replace(
        f"DTEND:{(tomorrow_9 + timedelta(minutes=30)).astimezone(UTC).strftime(FMT)}", f"DTEND:{day}T260000Z"
    )
    put(alice_phone, text)

    pull(importing)

    # Radicale (vobject) keeps only the date of a time it cannot read, on both DTSTART and DTEND:
    # the value is gone before the helpdesk reads it, so the log names what is left and says why.
    stored = alice_phone.calendar.event_by_uid("hour-25").data
    assert f"DTSTART;VALUE=DATE:{day}" in stored and "T250000Z" not in stored
    entry = log_about(importing, "ends on the day it starts")
    assert entry.subject == "Hour 25" and "could not read" in entry.message


def test_unknown_time_zone_is_imported_on_the_wall_clock_with_a_log_line(importing, alice_phone, tomorrow_9):
    day = tomorrow_9.strftime("%Y%m%d")
    put(
        alice_phone,
        (
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Hostile client//EN\r\nBEGIN:VEVENT\r\nUID:mars\r\n"
            f"DTSTAMP:{timezone.now().strftime(FMT)}\r\nDTSTART;TZID=Mars/Olympus_Mons:{day}T090000\r\n"
            f"DTEND;TZID=Mars/Olympus_Mons:{day}T100000\r\nSUMMARY:Rover check\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        ),
    )

    pull(importing)

    appointment = Appointment.objects.get(subject="Rover check")
    zone = importing.agent.zone
    # RFC 5545 3.3.5: a time without a zone the reader knows is read on the reader's wall clock.
    assert appointment.start == datetime(tomorrow_9.year, tomorrow_9.month, tomorrow_9.day, 9, tzinfo=zone)
    assert "Mars/Olympus_Mons" in log_about(importing, "Unknown time zone").message


# --- one calendar full of entries, the hostile ones among them -----------------------------------------


HOSTILE = {
    "minutely": ("RRULE:FREQ=MINUTELY\r\n", "FREQ=MINUTELY"),
    "secondly": ("RRULE:FREQ=SECONDLY\r\n", "FREQ=SECONDLY"),
    "million": ("RRULE:FREQ=HOURLY;COUNT=1000000\r\n", "COUNT=1000000"),
    "huge": ("DESCRIPTION:" + "0123456789" * (5 * MiB // 10) + "\r\n", "longer than 20000 characters"),
}


@pytest.mark.slow
def test_many_entries_and_the_hostile_ones_in_one_calendar_import_in_one_pull_within_bounds(
    importing, radicale, tomorrow_9
):
    count = ENTRIES_IN_ONE_CALENDAR
    plain = {}  # uid -> (subject, note, location, start, end) as written
    entries = {}
    for n in range(count):
        start = tomorrow_9 + timedelta(days=n // 8, hours=n % 8)
        plain[f"plain-{n}"] = (f"Visit {n}", f"Ticket {n}", f"Street {n % 90}", start, start + timedelta(minutes=30))
        lines = f"DESCRIPTION:Ticket {n}\r\nLOCATION:Street {n % 90}\r\n"
        entries[f"plain-{n}.ics"] = vevent(f"plain-{n}", start, summary=f"Visit {n}", lines=lines)
    for uid, (lines, _said) in HOSTILE.items():
        entries[f"{uid}.ics"] = vevent(uid, tomorrow_9, summary=uid.title(), lines=lines)
    # Straight into the server's storage, then read once by it: Radicale's first read of new files
    # (it expands the million occurrences to index them) is the server's cost, not the pull's.
    radicale.write_entries(importing.calendar_id, entries)
    server = CalDAVProvider(radicale.url, "helpdesk", USERS["helpdesk"], timeout=600)
    wide = Window(tomorrow_9 - timedelta(days=1), tomorrow_9 + timedelta(days=3650))
    server.list_changes(RemoteCalendar("", importing.calendar_id), None, wide)
    # Radicale answers in this process, under tracemalloc too: seconds for the whole calendar.
    importing.connection.options["timeout"] = 600
    importing.connection.save()

    peak = pull_measured(importing)

    agent = importing.agent
    imported = {
        (a.subject, a.note, a.location, a.start, a.end)
        for a in Appointment.objects.filter(agents=agent, subject__startswith="Visit ")
    }
    assert imported == set(plain.values())
    per_series = limits.occurrences_per_series()
    rows = Appointment.objects.filter(agents=agent).count()
    assert rows == count + 3 * (1 + per_series) + 1  # the plain ones, three bounded series, the cut text
    for uid in ("minutely", "secondly", "million"):
        master = Appointment.objects.get(agents=agent, subject=uid.title(), master__isnull=True)
        assert master.occurrences.count() == per_series
    assert len(Appointment.objects.get(subject="Huge").note) <= 20_000
    for uid, (_lines, said) in HOSTILE.items():
        assert log_about(importing, said).subject == uid.title()
    assert peak < 300 * MiB, f"{peak / MiB:.0f} MiB"
    importing.refresh_from_db()
    assert (importing.last_error, importing.import_retry) == ("", {})


# --- failures that name themselves ---------------------------------------------------------------------


def test_entry_that_cannot_be_imported_names_itself_and_is_retried_at_the_next_pull(
    importing, alice_phone, tomorrow_9, bob_calendar, monkeypatch, client
):
    # Fault injection: the first import of this one series runs out of memory (the worker's own
    # limit, not the helpdesk's code, raises it), with the empty message MemoryError carries.
    # Both ways of importing fail once: the batch (which then imports its entries one by one) and
    # the one-by-one import.
    real_one, real_batch = calendar_services.materialise_occurrences, calendar_services.materialise_new_series
    faults = {"one": iter([MemoryError()]), "batch": iter([MemoryError()])}

    def out_of_memory(way, masters):
        if any(m.subject == "Stand-up" for m in masters) and (fault := next(faults[way], None)) is not None:
            raise fault

    def one(master, **kwargs):
        out_of_memory("one", [master])
        return real_one(master, **kwargs)

    def batch(masters, agents, **kwargs):
        out_of_memory("batch", masters)
        return real_batch(masters, agents, **kwargs)

    monkeypatch.setattr(calendar_services, "materialise_occurrences", one)
    monkeypatch.setattr(calendar_services, "materialise_new_series", batch)
    put(alice_phone, vevent("standup", tomorrow_9, summary="Stand-up", lines="RRULE:FREQ=WEEKLY;COUNT=4\r\n"))
    with_a_neighbour(alice_phone, tomorrow_9)

    report = pull(importing)

    assert report.failed == 1
    assert not Appointment.objects.filter(subject="Stand-up").exists()
    entry = SyncLogEntry.objects.get(result=SyncLogEntry.Result.ERROR)
    assert entry.subject == "Stand-up"
    assert entry.message.endswith("standup.ics) was not imported: " + limits.describe(MemoryError()))
    assert entry.message.startswith("“Stand-up” (")
    assert "MemoryError" in entry.message
    importing.refresh_from_db()
    assert "Stand-up" in importing.last_error
    assert_neighbour_intact(importing.agent)
    client.force_login(importing.agent.user)
    page = client.get("/me/sync/").content.decode()
    assert "MemoryError" in page and "Stand-up" in page
    # Another technician's calendar syncs as ever.
    assert engine.sync_agent_calendar(bob_calendar, pull=True).failed == 0

    report = pull(importing)  # nothing changed remotely; the failed entry is read again

    assert report.failed == 0
    assert Appointment.objects.get(subject="Stand-up", master__isnull=True).occurrences.count() == 4
    importing.refresh_from_db()
    assert (importing.last_error, importing.import_retry) == ("", {})


def test_object_that_cannot_be_parsed_names_itself_on_the_sync_page_and_is_read_again(proxied, tomorrow_9, client):
    importing, alice_phone, proxy = proxied
    put(alice_phone, vevent("garbled", tomorrow_9, summary="Site visit", lines="X-GARBLE:1\r\n"))
    with_a_neighbour(alice_phone, tomorrow_9)
    # A server that keeps an object no iCalendar reader accepts (RFC 5545 3.3.5: DTSTART needs a
    # DATE-TIME): Radicale refuses such a PUT, so the proxy garbles the start it answers with.
    start_line = f"DTSTART:{tomorrow_9.astimezone(UTC).strftime(FMT)}".encode()
    proxy.rewrite_answers = {start_line + b"\r\nDTEND": b"DTSTART:tomorrow at nine\r\nDTEND"}

    report = pull(importing)

    assert report.failed == 1
    assert not Appointment.objects.filter(subject="Site visit").exists()
    assert_neighbour_intact(importing.agent)
    entry = SyncLogEntry.objects.get(agent_calendar=importing, result=SyncLogEntry.Result.ERROR)
    assert "garbled.ics was not imported: The CalDAV server sent an entry the helpdesk cannot read" in entry.message
    importing.refresh_from_db()
    assert "garbled.ics" in importing.last_error and len(importing.import_retry) == 1
    client.force_login(importing.agent.user)
    page = client.get("/me/sync/").content.decode()
    assert "Entries that need a look" in page and "garbled.ics was not imported" in page

    pull(importing)  # the change report has nothing new: the object is read again, and fails again
    # ... which its one line counts (trial F8: one line per entry, not one per pull).
    assert SyncLogEntry.objects.get(agent_calendar=importing, result=SyncLogEntry.Result.ERROR).tries == 2

    proxy.rewrite_answers = {}  # the server's object is mended
    report = pull(importing)

    assert report.failed == 0
    assert Appointment.objects.get(subject="Site visit").start == tomorrow_9
    importing.refresh_from_db()
    assert (importing.last_error, importing.import_retry) == ("", {})


def test_unknown_time_zone_line_shows_on_the_sync_page(importing, alice_phone, tomorrow_9, client):
    day = tomorrow_9.strftime("%Y%m%d")
    put(
        alice_phone,
        (
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Hostile client//EN\r\nBEGIN:VEVENT\r\nUID:olympus\r\n"
            f"DTSTAMP:{timezone.now().strftime(FMT)}\r\nDTSTART;TZID=Mars/Olympus_Mons:{day}T090000\r\n"
            f"DTEND;TZID=Mars/Olympus_Mons:{day}T100000\r\nSUMMARY:Site visit\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        ),
    )
    # Many ordinary imports after it: the line must not drop out of sight.
    for n in range(25):
        put(alice_phone, vevent(f"visit-{n}", tomorrow_9 + timedelta(days=n + 1), summary=f"Visit {n}"))

    pull(importing)

    client.force_login(importing.agent.user)
    page = client.get("/me/sync/").content.decode()
    notes = page.split('id="entry-notes"')[1].split("</table>")[0]
    assert "Site visit" in notes and "Unknown time zone “Mars/Olympus_Mons”" in notes
    assert "fix the zone in the external calendar" in notes
    assert "Visit 3" not in notes  # imports with nothing to say stay in the recent activity only


def test_describe_never_gives_an_empty_reason():
    for error in (MemoryError(), RecursionError(), KeyError(), ValueError(""), Exception()):
        assert limits.describe(error).strip()
    assert limits.describe(ValueError("bad rule")) == "ValueError: bad rule"
