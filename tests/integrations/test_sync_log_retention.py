"""The sync log keeps CalendarSettings.sync_log_days of entries; a daily beat task prunes the rest."""

from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings

from calendars.models import CalendarSettings
from integrations import services, tasks
from integrations.models import AgentCalendar, Connection, SyncLogEntry

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)


@pytest.fixture
def log(alice):
    connection = Connection.objects.create(name="Office", kind="caldav", server_url="https://dav.example.com/")
    calendar = AgentCalendar.objects.create(agent=alice, connection=connection, calendar_id="work")
    ages = [0, 1, 29, 30, 31, 365]
    SyncLogEntry.objects.bulk_create(
        SyncLogEntry(agent_calendar=calendar, direction="in", operation="create", subject=f"{days} days")
        for days in ages
    )
    for entry, days in zip(SyncLogEntry.objects.order_by("pk"), ages, strict=True):
        SyncLogEntry.objects.filter(pk=entry.pk).update(created_at=NOW - timedelta(days=days, seconds=1))
    return calendar


def _kept() -> set[str]:
    return set(SyncLogEntry.objects.values_list("subject", flat=True))


def test_entries_older_than_the_setting_are_removed(log, monkeypatch):
    calendar_settings = CalendarSettings.load()
    calendar_settings.sync_log_days = 30
    calendar_settings.save()
    monkeypatch.setattr(services, "PRUNE_BATCH", 1)  # several batches

    assert services.prune_sync_log(now=NOW) == 3
    assert _kept() == {"0 days", "1 days", "29 days"}
    assert services.prune_sync_log(now=NOW) == 0


def test_zero_days_keeps_the_whole_log(log):
    calendar_settings = CalendarSettings.load()
    calendar_settings.sync_log_days = 0
    calendar_settings.save()

    assert services.prune_sync_log(now=NOW) == 0
    assert len(_kept()) == 6


def test_beat_runs_the_pruning_task_daily(log):
    entry = settings.CELERY_BEAT_SCHEDULE["prune-sync-log"]
    assert entry["task"] == tasks.prune_sync_log.name and entry["schedule"] == 24 * 60 * 60
    # Default retention (90 days) from now: only the year-old entry goes.
    assert tasks.prune_sync_log.delay().get() == 1
    assert "365 days" not in _kept()


def test_retention_is_edited_in_admin(admin_client):
    CalendarSettings.load()
    page = admin_client.get("/admin/calendars/calendarsettings/1/change/").content.decode()
    assert 'name="sync_log_days"' in page
