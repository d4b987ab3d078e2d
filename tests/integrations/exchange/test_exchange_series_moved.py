"""A series moved whole in Outlook: Outlook drops its exceptions (moved and deleted occurrences),
so the helpdesk, after the pull, holds the series exactly as Outlook then shows it (the local EWS
server's own calendar view), and a later helpdesk push brings none of the old exceptions back."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from calendars.models import Appointment
from integrations.models import AgentCalendar, SyncLink
from integrations.sync import engine
from tests.integrations.series import helpdesk_view_utc as helpdesk_view
from tests.integrations.series import make_weekly_series, rename_moved_weekly_series
from tests.integrations.test_caldav_sync import pull
from tests.peers.ews import Recurrence

from .conftest import ALICE

pytestmark = pytest.mark.django_db

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
HOUR = timedelta(hours=1)


def outlook_view(ews, start: datetime, end: datetime) -> list[tuple]:
    """(start, end, subject) of what Outlook shows, in UTC, as the EWS server expands its own items."""
    return sorted(
        (e.start.astimezone(UTC), e.end.astimezone(UTC), e.subject) for e in ews.calendar_view(ALICE, start, end)
    )


def test_series_moved_whole_in_outlook_keeps_none_of_its_old_exceptions(importing_exchange, ews):
    day = timezone.localdate() + timedelta(days=2)
    first = datetime(day.year, day.month, day.day, 9, tzinfo=AMSTERDAM)
    master_id = ews.outlook_create(
        ALICE,
        subject="Weekly visit",
        start=first,
        end=first + timedelta(minutes=45),
        time_zone="Europe/Amsterdam",
        recurrence=Recurrence(
            pattern="WeeklyRecurrence", days_of_week=[first.strftime("%A")], range="NumberedRecurrence", count=8
        ),
    )
    moved = first + timedelta(weeks=3)
    ews.outlook_move_occurrence(
        ALICE, master_id, moved, start=moved + 2 * HOUR, end=moved + 2 * HOUR + timedelta(minutes=45), subject="Moved"
    )
    ews.outlook_cancel_occurrence(ALICE, master_id, first + timedelta(weeks=2))
    pull(importing_exchange)
    window = (timezone.now(), timezone.now() + timedelta(weeks=20))
    assert helpdesk_view(*window) == outlook_view(ews, *window)  # seven, one moved
    assert len(helpdesk_view(*window)) == 7

    ews.outlook_move_series(ALICE, master_id, HOUR)
    report = pull(importing_exchange)

    assert (report.pulled, report.failed) == (1, 0)
    assert helpdesk_view(*window) == outlook_view(ews, *window)
    assert len(outlook_view(ews, *window)) == 8  # Outlook dropped the exceptions
    assert not Appointment.objects.filter(master__isnull=False, is_modified=True).exists()


def test_helpdesk_series_moved_in_outlook_then_renamed_pushes_no_old_exception(
    alice_exchange, ews, tomorrow_9, django_capture_on_commit_callbacks
):
    master = make_weekly_series(alice_exchange.agent, tomorrow_9, django_capture_on_commit_callbacks)
    pull(alice_exchange)
    master_id = SyncLink.objects.get(appointment=master).remote_id
    ews.outlook_move_series(ALICE, master_id, HOUR)
    pull(alice_exchange)
    window = (tomorrow_9 - timedelta(days=1), tomorrow_9 + timedelta(days=60))
    assert helpdesk_view(*window) == outlook_view(ews, *window)

    rename_moved_weekly_series(
        master,
        alice_exchange,
        lambda *span: outlook_view(ews, *span),
        window,
        tomorrow_9,
        django_capture_on_commit_callbacks,
    )
    item = ews.item(ALICE, master_id)
    assert (item.modified, item.deleted) == ({}, set())

    again = engine.sync_agent_calendar(AgentCalendar.objects.get(pk=alice_exchange.pk), pull=True)

    assert (again.pushed, again.pulled) == (0, 0)
