"""Issue 14: pulled updates and deletions are written in batches, with a fixed number of SQL
statements whatever their number, and a bad entry still fails alone.

Entries are written straight into Radicale's storage (`RadicaleServer.write_entries`), changed
there and removed from there, as another program editing the calendar would. What the helpdesk
then holds is checked against icalendar reading the same text.
"""

import re
from datetime import UTC, date, datetime, timedelta

import icalendar
import pytest
import recurring_ical_events
from django.db import connection
from django.utils import timezone

from calendars import services as calendar_services
from calendars.models import Appointment, CalendarSettings
from integrations.models import AgentCalendar, SyncLink, SyncLogEntry
from integrations.providers.base import RemoteCalendar, Window
from integrations.providers.caldav import CalDAVProvider
from integrations.sync import engine, mapping
from tests.integrations import test_import_at_scale
from tests.integrations.conftest import USERS, OtherClient
from tests.integrations.test_import_at_scale import WIDE, pull, statements_of
from tests.peers.radicale import sample_entries

pytestmark = pytest.mark.django_db
# alice and bob, each with a calendar and import on
importing, bob_importing = test_import_at_scale.importing, test_import_at_scale.bob_importing

_MOMENT = re.compile(r"^(DTSTART|DTEND|EXDATE|RECURRENCE-ID)((?:;[^:]*)?):(\d{8})(T\d{6}Z?)?$")


def singles(count: int, *, prefix: str) -> dict[str, str]:
    """`count` entries of `sample_entries`' mix without its series (timed, all-day, private)."""
    entries = sample_entries(count * 2, timezone.localdate() + timedelta(days=1), prefix=prefix)
    return dict([(name, text) for name, text in entries.items() if "RRULE:FREQ=WEEKLY" not in text][:count])


def edited(text: str, *, move: bool = True) -> str:
    """The entry as another client changes it: a new subject and (`move`) everything an hour
    (all-day: a day) later."""
    lines = []
    for line in text.split("\r\n"):
        found = _MOMENT.match(line) if move else None
        if found:
            name, params, day, time = found.groups()
            if time is None:
                moved = datetime.strptime(day, "%Y%m%d").date() + timedelta(days=1)
                line = f"{name}{params}:{moved:%Y%m%d}"
            else:
                moved = datetime.strptime(day + time.rstrip("Z"), "%Y%m%dT%H%M%S") + timedelta(hours=1)
                line = f"{name}{params}:{moved:%Y%m%dT%H%M%S}{'Z' if time.endswith('Z') else ''}"
        elif line.startswith("SUMMARY:"):
            line = "SUMMARY:Changed " + line[len("SUMMARY:") :]
        elif line.startswith("DTSTAMP:"):
            line = "DTSTAMP:20260301T000000Z"
        lines.append(line)
    return "\r\n".join(lines)


def remove(radicale, agent_calendar, names) -> None:
    """Delete entries from the calendar's folder, as another program editing the storage would."""
    from urllib.parse import urlsplit

    folder = radicale.folder / "collections" / "collection-root" / urlsplit(agent_calendar.calendar_id).path.strip("/")
    for name in names:
        (folder / name).unlink()
    warm(radicale, agent_calendar)


def imported(radicale, agent_calendar, count: int, *, prefix: str) -> dict[str, str]:
    entries = singles(count, prefix=prefix)
    fill_entries(radicale, agent_calendar, entries)
    report = pull(agent_calendar)
    assert (report.pulled, report.failed) == (count, 0)
    return entries


def fill_entries(radicale, agent_calendar, entries: dict[str, str]) -> None:
    radicale.write_entries(agent_calendar.calendar_id, entries)
    warm(radicale, agent_calendar)


def warm(radicale, agent_calendar) -> None:
    """Radicale reads changed files once, slowly; that first read is the server's cost, not ours."""
    server = CalDAVProvider(radicale.url, "helpdesk", USERS["helpdesk"], timeout=600)
    server.list_changes(RemoteCalendar("", agent_calendar.calendar_id), None, Window(*WIDE))


def expected(text: str) -> tuple:
    """(start, end, subject) of an entry as icalendar reads it: instants in UTC, days as dates; a
    private entry has no subject in the helpdesk."""
    event = next(iter(icalendar.Calendar.from_ical(text).walk("VEVENT")))
    start, end = event.decoded("dtstart"), event.decoded("dtend")
    subject = "" if str(event.get("class", "")) == "PRIVATE" else str(event["summary"])
    if isinstance(start, datetime):
        return start.astimezone(UTC), end.astimezone(UTC), subject
    return start, end, subject


def held(agent_calendar) -> dict[str, tuple]:
    """What the helpdesk holds for each linked entry: (start, end, subject) by marker."""
    found = {}
    links = SyncLink.objects.filter(agent_calendar=agent_calendar).select_related("appointment")
    for link in links:
        appointment = link.appointment
        if appointment.all_day:
            found[link.marker] = (appointment.start_date, appointment.end_date, appointment.subject)
        else:
            found[link.marker] = (appointment.start, appointment.end, appointment.subject)
    return found


def test_pulled_updates_cost_the_same_statements_at_10_and_100_entries(
    importing, bob_importing, radicale, django_assert_max_num_queries
):
    small = imported(radicale, importing, 10, prefix="small")
    large = imported(radicale, bob_importing, 100, prefix="large")
    fill_entries(radicale, importing, {name: edited(text) for name, text in small.items()})
    fill_entries(radicale, bob_importing, {name: edited(text) for name, text in large.items()})

    statements, report = statements_of(importing)
    assert (report.pulled, report.failed) == (10, 0)
    with django_assert_max_num_queries(statements + (100 - 10) // 50):
        report = pull(bob_importing)

    assert (report.pulled, report.failed) == (100, 0)
    want = {name.removesuffix(".ics"): expected(edited(text)) for name, text in large.items()}
    assert held(bob_importing) == want
    assert SyncLogEntry.objects.filter(agent_calendar=bob_importing, operation="update", result="ok").count() == 100


def test_pulled_deletions_cost_the_same_statements_at_10_and_100_entries(
    importing, bob_importing, radicale, django_assert_max_num_queries
):
    small = imported(radicale, importing, 10, prefix="small")
    large = imported(radicale, bob_importing, 100, prefix="large")
    remove(radicale, importing, small)
    remove(radicale, bob_importing, large)

    statements, report = statements_of(importing)
    assert (report.pulled, report.failed) == (10, 0)
    with django_assert_max_num_queries(statements + (100 - 10) // 50):
        report = pull(bob_importing)

    assert (report.pulled, report.failed) == (100, 0)
    assert not SyncLink.objects.filter(agent_calendar=bob_importing).exists()
    assert not Appointment.objects.filter(agents=bob_importing.agent).exists()
    assert Appointment.objects.filter(agents=importing.agent).count() == 0
    deletions = SyncLogEntry.objects.filter(agent_calendar=bob_importing, operation="delete", result="ok")
    assert sorted(deletions.values_list("subject", flat=True)) == sorted(
        "(private)" if subject == "" else subject for _s, _e, subject in map(expected, large.values())
    )


def test_pulled_updates_leave_links_that_a_fresh_read_agrees_with(importing, radicale):
    entries = imported(radicale, importing, 30, prefix="entry")
    fill_entries(radicale, importing, {name: edited(text) for name, text in entries.items()})
    report = pull(importing)
    assert (report.pulled, report.failed) == (30, 0)

    run = engine._Run(AgentCalendar.objects.get(pk=importing.pk), timezone.now())
    for link in SyncLink.objects.filter(agent_calendar=importing).select_related("appointment"):
        assert mapping.content_hash(run._local_event(link)) == link.local_hash, link.marker
        assert link.remote_hash and not link.pending
        assert link.appointment.sequence == 1
    # Nothing differs on either side: the next poll writes nothing anywhere.
    report = pull(importing)
    assert (report.pulled, report.pushed, report.failed) == (0, 0, 0)


def test_an_update_the_helpdesk_cannot_store_fails_alone_in_its_batch(importing, radicale, settings):
    settings.SYNC_PULL_BATCH = 10
    entries = imported(radicale, importing, 12, prefix="entry")
    changed = {name: edited(text) for name, text in entries.items()}
    # Ends in 2200: past the dates the helpdesk stores (helpdesk.limits), refused as it is checked.
    bad = next(name for name, text in changed.items() if "VALUE=DATE" not in text and "PRIVATE" not in text)
    lines = changed[bad].split("\r\n")
    changed[bad] = "\r\n".join("DTEND:22000101T000000Z" if line.startswith("DTEND") else line for line in lines)
    fill_entries(radicale, importing, changed)

    report = pull(importing)

    assert (report.pulled, report.failed) == (11, 1)
    failed = SyncLink.objects.get(agent_calendar=importing, failures=1)
    assert failed.marker == bad.removesuffix(".ics")
    assert SyncLogEntry.objects.filter(agent_calendar=importing, result="error", operation="update").count() == 1
    want = {name.removesuffix(".ics"): expected(text) for name, text in changed.items() if name != bad}
    want[failed.marker] = expected(entries[bad])  # as it was before
    assert held(importing) == want


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the refusing trigger is written in SQLite's dialect")
def test_a_batch_the_database_refuses_goes_one_by_one_and_the_bad_entry_fails_alone(importing, radicale, settings):
    """A row the database refuses (a trigger standing for a constraint the Python checks do not
    know) fails the whole batch's UPDATE; the batch is written again one entry at a time, and only
    that entry fails, logged as a single pull's failure is."""
    settings.SYNC_PULL_BATCH = 10
    entries = imported(radicale, importing, 10, prefix="entry")
    changed = {name: edited(text) for name, text in entries.items()}
    bad = sorted(name for name, text in changed.items() if "PRIVATE" not in text)[4]
    refused = expected(changed[bad])[2]
    with connection.cursor() as cursor:
        quoted = refused.replace("'", "''")  # a trigger takes no parameters
        cursor.execute(
            f"CREATE TRIGGER refuse_one BEFORE UPDATE ON {Appointment._meta.db_table} "
            f"WHEN NEW.subject = '{quoted}' BEGIN SELECT RAISE(ABORT, 'refused by a constraint'); END"
        )
    fill_entries(radicale, importing, changed)

    report = pull(importing)

    assert (report.pulled, report.failed) == (9, 1)
    failed = SyncLink.objects.get(agent_calendar=importing, failures=1)
    assert failed.marker == bad.removesuffix(".ics")
    assert "refused by a constraint" in failed.last_error
    assert SyncLogEntry.objects.filter(agent_calendar=importing, result="error", operation="update").count() == 1
    want = {name.removesuffix(".ics"): expected(text) for name, text in changed.items() if name != bad}
    want[failed.marker] = expected(entries[bad])  # as it was before
    assert held(importing) == want


def test_a_shared_appointment_deleted_in_one_calendar_keeps_the_other_technician(
    importing, bob_calendar, radicale, tomorrow_9, django_capture_on_commit_callbacks, mailoutbox
):
    """Deleted among imported entries in one pull: the imported ones go in a batch; the shared
    one (made in the helpdesk for alice and bob) only loses alice, and bob's calendar is told
    (his link marked to push) as `delete_appointment`'s rules say, while his entry stays."""
    entries = imported(radicale, importing, 12, prefix="entry")
    with django_capture_on_commit_callbacks(execute=True):
        shared = calendar_services.create_appointment(
            subject="Together",
            start=tomorrow_9,
            end=tomorrow_9 + timedelta(hours=1),
            agents=[importing.agent, bob_calendar.agent],
        )
    alice_phone = OtherClient(radicale.url, "alice", USERS["alice"], importing.calendar_id)
    bob_phone = OtherClient(radicale.url, "bob", USERS["bob"], bob_calendar.calendar_id)
    marker = SyncLink.objects.get(agent_calendar=importing, appointment=shared).marker
    remove(radicale, importing, entries)
    alice_phone.delete(marker)
    calendar_settings = CalendarSettings.load()
    calendar_settings.email_technicians = True
    calendar_settings.save()
    mailoutbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        report = pull(importing)

    assert (report.pulled, report.failed) == (13, 0)
    shared.refresh_from_db()
    assert list(shared.agents.all()) == [bob_calendar.agent]
    assert list(Appointment.objects.values_list("pk", flat=True)) == [shared.pk]
    assert not SyncLink.objects.filter(agent_calendar=importing).exists()
    assert [str(e.icalendar_component["summary"]) for e in bob_phone.entries()] == ["Together"]
    assert SyncLogEntry.objects.filter(agent_calendar=importing, operation="delete").count() == 13
    # As `update_appointment` tells it (calendars.notifications.notice_kinds): the technician taken
    # off hears that it is cancelled for her; the one who stays, whose entry did not move, nothing.
    assert [message.to for message in mailoutbox] == [[importing.agent.user.email]]


def test_pulled_changes_of_a_series_and_an_all_day_entry_match_icalendar(importing, radicale):
    """A series is brought in step one by one beside a batch of single entries: its occurrences
    follow its new text, as recurring-ical-events expands it, the series moved whole with its
    moved occurrence and its cancellation re-keyed (no stale exception left at the old key)."""
    entries = sample_entries(26, timezone.localdate() + timedelta(days=1), prefix="mix")
    fill_entries(radicale, importing, entries)
    assert pull(importing).failed == 0
    changed = {name: edited(text) for name, text in entries.items()}
    fill_entries(radicale, importing, changed)

    report = pull(importing)

    assert (report.pulled, report.failed) == (26, 0)
    series = Appointment.objects.get(schedule__isnull=False)
    series_marker = SyncLink.objects.get(appointment=series).marker
    text = changed[f"{series_marker}.ics"]
    event = next(iter(icalendar.Calendar.from_ical(text).walk("VEVENT")))
    assert series.start == event.decoded("dtstart").astimezone(UTC)
    assert series.subject == str(event["summary"])
    # Its occurrences as recurring-ical-events expands the changed text: moved, cancelled, edited.
    calendar = icalendar.Calendar.from_ical(text)
    begin, end = timezone.now(), timezone.now() + timedelta(days=200)
    want = sorted(
        (i.decoded("dtstart").astimezone(UTC), str(i["summary"]))
        for i in recurring_ical_events.of(calendar).between(begin, end)
    )
    shown = series.occurrences.visible().filter(start__gte=begin, start__lt=end)
    assert sorted(shown.values_list("start", "subject")) == want
    assert any(subject.endswith("(moved)") for _start, subject in want)
    singles_held = {marker: row for marker, row in held(importing).items() if marker != series_marker}
    assert singles_held == {
        name.removesuffix(".ics"): expected(text)
        for name, text in changed.items()
        if name.removesuffix(".ics") != series_marker
    }
    assert any(isinstance(start, date) and not isinstance(start, datetime) for start, *_r in singles_held.values())


def test_a_batch_of_pulled_updates_records_on_each_link_all_a_single_pull_records(importing, radicale):
    """Every field a pull records on its link is written by the batch too (the fields come from
    what the engine records, not from a list kept beside it): a link that had failed and waited
    with an approved push ends synced, its span the changed entry's as icalendar reads it."""
    entries = imported(radicale, importing, 6, prefix="entry")
    SyncLink.objects.filter(agent_calendar=importing).update(
        failures=2,
        last_error="The server did not answer.",
        next_attempt_at=timezone.now() - timedelta(minutes=1),
        approval=SyncLink.Approval.APPROVED,
    )
    changed = {name: edited(text) for name, text in entries.items()}
    fill_entries(radicale, importing, changed)
    began = timezone.now()

    report = pull(importing)

    assert (report.pulled, report.failed) == (6, 0)
    for link in SyncLink.objects.filter(agent_calendar=importing):
        text = changed[f"{link.marker}.ics"]
        event = next(iter(icalendar.Calendar.from_ical(text).walk("VEVENT")))
        start, end = event.decoded("dtstart"), event.decoded("dtend")
        if not isinstance(start, datetime):  # a day spans midnight to midnight, UTC (normalise.span_of)
            start = datetime(start.year, start.month, start.day, tzinfo=UTC)
            end = datetime(end.year, end.month, end.day, tzinfo=UTC)
        assert (link.span_start, link.span_end) == (start.astimezone(UTC), end.astimezone(UTC)), link.marker
        assert (link.failures, link.last_error, link.next_attempt_at, link.pending) == (0, "", None, False)
        assert link.approval == SyncLink.Approval.NOT_NEEDED
        assert link.last_synced_at >= began and link.local_hash and link.remote_hash
        assert link.snapshot["remote"]["subject"] == (str(event["summary"]))
        assert link.remote_id and link.version
