"""A series both sides changed, merged per field against the last synced state (SPEC S3.8, trial
fault 4), on a real Radicale: the phone renames the series while the coordinator cancels one of
its occurrences. What the phone holds is expanded with recurring-ical-events, never our mapping."""

from datetime import UTC, timedelta

import icalendar
import pytest
import recurring_ical_events

from calendars import services as calendar_services
from integrations.models import SyncLink, SyncLogEntry
from integrations.sync import engine

pytestmark = pytest.mark.django_db
HOUR = timedelta(hours=1)


def phone_view(alice_phone, start, end) -> list[tuple[str, object]]:
    """(summary, start in UTC) of each occurrence the phone shows between start and end."""
    shown = []
    for entry in alice_phone.entries():
        calendar = icalendar.Calendar.from_ical(entry.data)
        shown += [
            (str(o["summary"]), o.decoded("dtstart").astimezone(UTC))
            for o in recurring_ical_events.of(calendar).between(start, end)
        ]
    return sorted(shown, key=lambda pair: pair[1])


def test_series_renamed_on_the_phone_keeps_the_occurrence_the_coordinator_cancelled(
    alice_calendar, alice_phone, tomorrow_9, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        series = calendar_services.create_recurring_appointment(
            rule="RRULE:FREQ=DAILY;COUNT=3",
            agents=[alice_calendar.agent],
            start=tomorrow_9,
            end=tomorrow_9 + HOUR,
            subject="Backup check",
        )
    alice_calendar.refresh_from_db()
    engine.sync_agent_calendar(alice_calendar, pull=True)
    alice_phone.edit(SyncLink.objects.get().marker, summary="Backup check (tape)")
    second = series.occurrences.order_by("original_start")[1]
    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.cancel_occurrence(second)
    alice_calendar.refresh_from_db()
    engine.sync_agent_calendar(alice_calendar, pull=True)

    series.refresh_from_db()
    assert series.subject == "Backup check (tape)"
    assert series.occurrences.get(original_start=second.original_start).is_cancelled
    days = [tomorrow_9, tomorrow_9 + timedelta(days=2)]
    assert phone_view(alice_phone, tomorrow_9 - HOUR, tomorrow_9 + timedelta(days=4)) == [
        ("Backup check (tape)", day.astimezone(UTC)) for day in days
    ]
    assert not SyncLogEntry.objects.filter(result=SyncLogEntry.Result.CONFLICT).exists()
