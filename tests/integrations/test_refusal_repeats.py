"""Trial F8: an entry that cannot import keeps one line on the sync page, counting the pulls that met
it, and a known refusal prints no traceback (its plain reason is in the sync log)."""

import logging
from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from integrations import selectors
from integrations.models import SyncLogEntry
from integrations.sync import engine
from tests.integrations.importing import start_importing


def _hour_25(hour: int = 25) -> str:
    """An entry at an hour that does not exist (RFC 5545 3.3.5: 00-23), in a few days (within the window)."""
    day = (timezone.now() + timedelta(days=3)).strftime("%Y%m%d")
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//trial//EN\r\nBEGIN:VEVENT\r\nUID:hour-25\r\n"
        f"DTSTAMP:20261201T000000Z\r\nDTSTART:{day}T{hour}0000Z\r\nDTEND:{day}T{hour + 1}0000Z\r\n"
        "SUMMARY:Hour 25\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def test_an_entry_refused_at_every_pull_keeps_one_line_with_its_tries(
    alice_calendar, alice_phone, settings, caplog, client, alice, tomorrow_9
):
    # Refused when stored (a date outside the supported range: helpdesk/limits.py), and one at hour 25.
    settings.SUPPORTED_FIRST_YEAR = timezone.now().year + 1
    alice_calendar = start_importing(alice_calendar)
    alice_phone.add("too-early", tomorrow_9, tomorrow_9 + timedelta(hours=1), "Tomorrow's visit")
    alice_phone.calendar.save_event(_hour_25())
    caplog.set_level(logging.INFO)

    for _ in range(3):
        report = engine.sync_agent_calendar(alice_calendar, pull=True)
        assert report.failed == 2, report.errors

    notes = list(selectors.entries_with_notes(alice))
    assert len(notes) == 2, [entry.message for entry in notes]
    assert {entry.tries for entry in notes} == {3}
    assert all(entry.first_at is not None and entry.first_at <= entry.created_at for entry in notes)
    assert SyncLogEntry.objects.filter(agent_calendar=alice_calendar, result=SyncLogEntry.Result.ERROR).count() == 2
    assert not [record for record in caplog.records if record.exc_info], "a known refusal printed a traceback"
    client.force_login(alice.user)
    page = client.get("/me/sync/").content.decode()
    assert page.count("tried 3 times since") == 2


def test_a_new_reason_for_the_same_entry_gets_its_own_line(alice_calendar, alice_phone, alice, settings, tomorrow_9):
    """Only the same refusal is counted: the same entry refused for another reason is said anew."""
    settings.SUPPORTED_FIRST_YEAR = timezone.now().year + 1
    alice_calendar = start_importing(alice_calendar)
    alice_phone.add("too-early", tomorrow_9, tomorrow_9 + timedelta(hours=1), "Tomorrow's visit")
    engine.sync_agent_calendar(alice_calendar, pull=True)
    settings.SUPPORTED_FIRST_YEAR = timezone.now().year + 2

    engine.sync_agent_calendar(alice_calendar, pull=True)

    notes = selectors.entries_with_notes(alice)
    assert sorted(entry.tries for entry in notes) == [1, 1]
    assert {str(timezone.now().year + 1) in entry.message for entry in notes} == {True, False}


def test_entries_refused_again_are_logged_in_a_fixed_number_of_queries(
    alice_calendar, alice_phone, settings, tomorrow_9, django_assert_max_num_queries
):
    """Task push 5: the lines of entries refused again (`_Run._log_refusal`) are written together,
    not with a query or two per entry: a pull meeting six refused entries again costs no more
    queries than one meeting one. Refused here as too large (SYNC_MAX_OBJECT_BYTES)."""
    settings.SYNC_MAX_OBJECT_BYTES = 100
    alice_calendar = start_importing(alice_calendar)
    hour = timedelta(hours=1)
    alice_phone.add("big-0", tomorrow_9, tomorrow_9 + hour, "Visit 0")
    engine.sync_agent_calendar(alice_calendar, pull=True)
    with CaptureQueriesContext(connection) as one:
        engine.sync_agent_calendar(alice_calendar, pull=True)
    for number in range(1, 6):
        alice_phone.add(
            f"big-{number}", tomorrow_9 + number * hour, tomorrow_9 + (number + 1) * hour, f"Visit {number}"
        )
    engine.sync_agent_calendar(alice_calendar, pull=True)

    with django_assert_max_num_queries(len(one)):
        report = engine.sync_agent_calendar(alice_calendar, pull=True)

    assert report.failed == 6, report.errors
    assert sorted(SyncLogEntry.objects.values_list("tries", flat=True)) == [2, 2, 2, 2, 2, 4]
