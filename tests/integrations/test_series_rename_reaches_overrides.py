"""F-SERIES-SUBJ on CalDAV (a real Radicale): a series renamed on one side while one of its
occurrences was moved (a RECURRENCE-ID override, a whole VEVENT with a SUMMARY of its own, RFC 5545
3.8.4.4). An override whose SUMMARY was a copy of the series' follows the series' rename, in both
directions; one with a name of its own keeps it. Expected values: recurring-ical-events over the
phone's own copy of the entry (Radicale's), never our mapping."""

from datetime import timedelta

import icalendar
import pytest
import recurring_ical_events

from calendars import services as calendar_services
from calendars.models import Appointment
from integrations.models import SyncLink
from integrations.sync import engine
from tests.integrations.series import make_daily_series

pytestmark = pytest.mark.django_db

HOUR = timedelta(hours=1)


def phone_view(phone, marker, window) -> list:
    """(start, summary) of each occurrence the phone shows, from the server's copy of the entry."""
    calendar = icalendar.Calendar.from_ical(phone.by_uid(marker).data)
    return sorted(
        (e.decoded("dtstart"), str(e["summary"])) for e in recurring_ical_events.of(calendar).between(*window)
    )


def helpdesk_view(master) -> list:
    return [(o.start, o.subject) for o in Appointment.objects.visible().filter(master=master).order_by("start")]


def series_with_a_moved_occurrence(alice_calendar, tomorrow_9):
    """The helpdesk's daily series of four, its second occurrence moved two hours and pushed (an
    override carrying the series' SUMMARY, "S1 stand-up"). Returns (master, marker)."""
    master = make_daily_series(alice_calendar.agent, tomorrow_9)
    engine.sync_agent_calendar(alice_calendar, pull=True)
    second = Appointment.objects.visible().filter(master=master).order_by("start")[1]
    calendar_services.update_appointment(second, start=second.start + 2 * HOUR, end=second.end + 2 * HOUR)
    engine.sync_agent_calendar(alice_calendar, pull=True)
    return master, SyncLink.objects.get(appointment=master).marker


def phone_renames(phone, marker, summary, *, overrides_too: bool, override_summary: str | None = None) -> None:
    """The phone's "all events" rename: the master's SUMMARY, and with `overrides_too` every
    override's (as a client that carries the series' text into its exceptions writes it)."""
    entry = phone.by_uid(marker)
    calendar = entry.icalendar_instance
    for component in calendar.walk("VEVENT"):
        is_override = component.get("recurrence-id") is not None
        if not is_override or overrides_too or override_summary is not None:
            component.pop("summary")
            component.add("summary", override_summary if is_override and override_summary else summary)
    entry.save()


def test_a_phone_rename_written_into_the_override_reaches_the_moved_occurrence(alice_calendar, alice_phone, tomorrow_9):
    master, marker = series_with_a_moved_occurrence(alice_calendar, tomorrow_9)
    phone_renames(alice_phone, marker, "S1 visit (phone)", overrides_too=True)

    engine.sync_agent_calendar(alice_calendar, pull=True)

    window = (tomorrow_9 - HOUR, tomorrow_9 + timedelta(days=5))
    shown = phone_view(alice_phone, marker, window)
    assert [summary for _, summary in shown] == ["S1 visit (phone)"] * 4
    assert helpdesk_view(master) == shown


def test_a_phone_rename_of_the_master_alone_reaches_the_moved_occurrence_whose_summary_was_a_copy(
    alice_calendar, alice_phone, tomorrow_9
):
    """The override still says the old series name, which it only copied: it follows the series, and
    the helpdesk writes the new name into the override, so the phone shows it too."""
    master, marker = series_with_a_moved_occurrence(alice_calendar, tomorrow_9)
    phone_renames(alice_phone, marker, "S1 visit (phone)", overrides_too=False)

    engine.sync_agent_calendar(alice_calendar, pull=True)
    engine.sync_agent_calendar(alice_calendar, pull=True)

    window = (tomorrow_9 - HOUR, tomorrow_9 + timedelta(days=5))
    shown = phone_view(alice_phone, marker, window)
    assert [summary for _, summary in shown] == ["S1 visit (phone)"] * 4
    assert helpdesk_view(master) == shown
    report = engine.sync_agent_calendar(alice_calendar, pull=True)
    assert (report.pushed, report.pulled, report.failed) == (0, 0, 0)


def test_a_moved_occurrence_with_a_name_of_its_own_keeps_it_when_the_phone_renames_the_series(
    alice_calendar, alice_phone, tomorrow_9
):
    master, marker = series_with_a_moved_occurrence(alice_calendar, tomorrow_9)
    second = Appointment.objects.visible().filter(master=master).order_by("start")[1]
    calendar_services.update_appointment(second, subject="S1 stand-up, site visit")
    engine.sync_agent_calendar(alice_calendar, pull=True)
    phone_renames(alice_phone, marker, "S1 visit (phone)", overrides_too=False)

    engine.sync_agent_calendar(alice_calendar, pull=True)

    window = (tomorrow_9 - HOUR, tomorrow_9 + timedelta(days=5))
    shown = phone_view(alice_phone, marker, window)
    assert [summary for _, summary in shown] == ["S1 visit (phone)", "S1 stand-up, site visit"] + [
        "S1 visit (phone)"
    ] * 2
    assert helpdesk_view(master) == shown


def test_a_series_renamed_in_the_helpdesk_writes_the_new_name_into_the_override_that_copied_it(
    alice_calendar, alice_phone, tomorrow_9
):
    master, marker = series_with_a_moved_occurrence(alice_calendar, tomorrow_9)

    calendar_services.update_appointment(master, subject="S1 visit (helpdesk)")
    engine.sync_agent_calendar(alice_calendar, pull=True)

    window = (tomorrow_9 - HOUR, tomorrow_9 + timedelta(days=5))
    shown = phone_view(alice_phone, marker, window)
    assert [summary for _, summary in shown] == ["S1 visit (helpdesk)"] * 4
    assert helpdesk_view(master) == shown
