"""Trial fault 7, pulled in batches: imported entries changed on the phone are written many at once
(engine `_update_batch`), and each one's log line names what changed there, in the words the
one-by-one pull uses. Real Radicale; what changed is read from the iCalendar texts with
icalendar (RFC 5545 property names), never from our code. The same on every connector:
`one_technician_scenarios.imported_entry_changed_there_is_named_in_the_log`."""

from datetime import timedelta

import icalendar
import pytest

from integrations.models import SyncLogEntry
from tests.integrations.test_entry_limits import importing, pull, put, vevent

pytestmark = pytest.mark.django_db
__all__ = ["importing"]  # the fixture

# The helpdesk's words for the RFC 5545 properties a phone changes (README: the sync log names
# fields as the helpdesk calls them), in the order the log names them.
WORDS = {"SUMMARY": "subject", "DTSTART": "start", "DTEND": "end", "LOCATION": "location", "DESCRIPTION": "note"}


def changed_properties(before: str, after: str) -> list[str]:
    """The properties (of WORDS) whose values differ between two texts of one entry, as icalendar
    reads them."""
    old = next(iter(icalendar.Calendar.from_ical(before).walk("VEVENT")))
    new = next(iter(icalendar.Calendar.from_ical(after).walk("VEVENT")))
    return [name for name in WORDS if old.get(name) != new.get(name)]


def summary(text: str) -> str:
    return str(next(iter(icalendar.Calendar.from_ical(text).walk("VEVENT")))["SUMMARY"])


def sentence(names: list[str], agent) -> str:
    words = [WORDS[name] for name in names]
    listed = words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"
    return f"Changed in {agent.name}'s calendar: {listed}."


def test_a_batch_of_pulled_updates_names_what_changed_in_each(importing, alice_phone, tomorrow_9):
    hour = timedelta(hours=1)
    before = {
        "moved": vevent("moved", tomorrow_9, summary="Dentist"),
        "renamed": vevent("renamed", tomorrow_9 + 2 * hour, summary="Gym"),
        "noted": vevent("noted", tomorrow_9 + 4 * hour, summary="Lunch"),
        "everything": vevent("everything", tomorrow_9 + 6 * hour, summary="Call"),
    }
    for text in before.values():
        put(alice_phone, text)
    assert pull(importing).pulled == 4
    after = {
        "moved": vevent("moved", tomorrow_9 + hour, summary="Dentist"),
        "renamed": vevent("renamed", tomorrow_9 + 2 * hour, summary="Gym, the other one"),
        "noted": vevent("noted", tomorrow_9 + 4 * hour, summary="Lunch", lines="DESCRIPTION:Bring the invoice\r\n"),
        "everything": vevent(
            "everything",
            tomorrow_9 + 7 * hour,
            summary="Call back",
            lines="LOCATION:Room 2\r\nDESCRIPTION:Ask about the printer\r\n",
            end=tomorrow_9 + 9 * hour,
        ),
    }
    for text in after.values():
        put(alice_phone, text)

    report = pull(importing)

    assert (report.pulled, report.failed) == (4, 0)
    said = {
        entry.subject: (entry.result, entry.message)
        for entry in SyncLogEntry.objects.filter(agent_calendar=importing, direction="in", operation="update")
    }
    assert said == {
        summary(after[uid]): (
            SyncLogEntry.Result.OK,
            sentence(changed_properties(before[uid], after[uid]), importing.agent),
        )
        for uid in before
    }


def test_changes_pulled_in_a_batch_do_not_push_a_note_out_of_sight(importing, alice_phone, tomorrow_9, client):
    """The sync page's "Entries that need a look" keeps the lines that say something to act on
    (here an unknown time zone); many ordinary changes pulled after it, each now saying what
    changed, stay in the recent activity only, as ordinary imports do."""
    day = tomorrow_9.strftime("%Y%m%d")
    put(
        alice_phone,
        (
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Hostile client//EN\r\nBEGIN:VEVENT\r\nUID:olympus\r\n"
            f"DTSTAMP:20260101T000000Z\r\nDTSTART;TZID=Mars/Olympus_Mons:{day}T090000\r\n"
            f"DTEND;TZID=Mars/Olympus_Mons:{day}T100000\r\nSUMMARY:Site visit\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        ),
    )
    visits = {n: tomorrow_9 + timedelta(days=n + 1) for n in range(25)}
    for n, start in visits.items():
        put(alice_phone, vevent(f"visit-{n}", start, summary=f"Visit {n}"))
    pull(importing)
    for n, start in visits.items():
        put(alice_phone, vevent(f"visit-{n}", start + timedelta(hours=1), summary=f"Visit {n}"))

    assert pull(importing).pulled == 25

    client.force_login(importing.agent.user)
    page = client.get("/me/sync/").content.decode()
    notes = page.split('id="entry-notes"')[1].split("</table>")[0]
    assert "Site visit" in notes and "Unknown time zone “Mars/Olympus_Mons”" in notes
    assert "Visit 3" not in notes
    activity = page.split('id="recent-activity"')[1].split("</table>")[0]
    assert "Changed in Alice&#x27;s calendar: start and end." in activity
