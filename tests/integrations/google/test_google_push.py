"""Google push channels as hints: events.watch per calendar, the webhook that only queues a pull,
renewal before the end, and nothing of it without a public site address."""

import time
from datetime import UTC, timedelta

import pytest
from django.utils import timezone

from calendars.models import Appointment
from integrations import services
from integrations.models import AgentCalendar
from integrations.sync import engine
from tests.waiting import wait_for

from .conftest import ALICE

HOUR = timedelta(hours=1)
NOTIFY = "/integrations/google/notify/"


def phone_add(google, subject, start) -> str:
    when = {"dateTime": start.astimezone(UTC).isoformat()}
    end = {"dateTime": (start + HOUR).astimezone(UTC).isoformat()}
    return google.phone_insert(ALICE, summary=subject, start=when, end=end)["id"]


@pytest.fixture
def importing(alice, google_connection):
    alice.import_external = True
    alice.save()
    agent_calendar = services.connect_agent(alice, connection=google_connection)
    engine.sync_agent_calendar(agent_calendar, pull=True)
    return AgentCalendar.objects.get(pk=agent_calendar.pk)


@pytest.mark.django_db(transaction=True)
def test_a_push_notification_brings_the_change_into_the_helpdesk_within_10_seconds(
    live_server, settings, google, importing, tomorrow_9
):
    settings.PUBLIC_SITE_URL = live_server.url

    assert services.open_google_channel(importing)
    phone_add(google, "Dentist", tomorrow_9)
    deadline = time.monotonic() + 10
    while not Appointment.objects.filter(subject="Dentist").exists() and time.monotonic() < deadline:
        time.sleep(0.1)

    assert Appointment.objects.filter(subject="Dentist").exists()
    while len(google.notifications) < 2 and time.monotonic() < deadline + 5:
        time.sleep(0.05)  # the server records a delivery once our answer is in
    states = [(n["X-Goog-Resource-State"], n["status"]) for n in google.notifications]
    assert states[0] == ("sync", 200) and ("exists", 200) in states


@pytest.mark.slow
def test_a_push_notification_reaches_the_helpdesk_through_a_real_worker_within_10_seconds(
    worker, live_server, settings, google, importing, tomorrow_9
):
    """Issue 13 (Calendar API push guide): Google posts to the webhook, which only queues a pull; a
    real Celery worker on Redis (its own process) runs it, and the change is in the helpdesk within
    10 s of the edit on the phone."""
    from integrations.tasks import pull_agent_calendar

    settings.PUBLIC_SITE_URL = live_server.url
    assert services.open_google_channel(importing)
    synced_before = AgentCalendar.objects.get(pk=importing.pk).last_sync
    pull_agent_calendar.delay(importing.pk)  # the worker is up once it has run one pull
    wait_for(lambda: AgentCalendar.objects.get(pk=importing.pk).last_sync != synced_before, what="the worker")

    phone_add(google, "Dentist", tomorrow_9)

    wait_for(lambda: Appointment.objects.filter(subject="Dentist").exists(), timeout=10, what="the change")


@pytest.mark.django_db
def test_a_notification_with_a_wrong_token_queues_nothing(client, settings, google, importing, tomorrow_9):
    settings.PUBLIC_SITE_URL = "https://helpdesk.example.com"
    services.open_google_channel(importing)
    importing.refresh_from_db()
    phone_add(google, "Dentist", tomorrow_9)

    forged = client.post(
        NOTIFY,
        headers={
            "X-Goog-Channel-ID": importing.push_channel_id,
            "X-Goog-Channel-Token": "guessed",
            "X-Goog-Resource-State": "exists",
        },
    )
    unknown = client.post(NOTIFY, headers={"X-Goog-Channel-ID": "", "X-Goog-Resource-State": "exists"})

    assert (forged.status_code, unknown.status_code) == (404, 404)
    assert not Appointment.objects.exists()


@pytest.mark.django_db
def test_a_notification_only_queues_a_pull(
    client, settings, google, importing, tomorrow_9, django_capture_on_commit_callbacks
):
    settings.PUBLIC_SITE_URL = "https://helpdesk.example.com"
    services.open_google_channel(importing)
    importing.refresh_from_db()
    phone_add(google, "Dentist", tomorrow_9)
    headers = {"X-Goog-Channel-ID": importing.push_channel_id, "X-Goog-Channel-Token": importing.push_token}
    before = google.request_count

    with django_capture_on_commit_callbacks(execute=False) as queued:
        sync = client.post(NOTIFY, headers=headers | {"X-Goog-Resource-State": "sync"})
        exists = client.post(NOTIFY, headers=headers | {"X-Goog-Resource-State": "exists"})

    assert (sync.status_code, exists.status_code) == (200, 200)
    assert google.request_count == before  # no outbound call in the web request
    assert len(queued) == 1  # the "sync" message only confirms the channel
    for callback in queued:
        callback()
    assert Appointment.objects.filter(subject="Dentist").exists()


@pytest.mark.django_db
def test_channels_are_renewed_a_day_before_they_end(settings, google, importing):
    settings.PUBLIC_SITE_URL = "https://helpdesk.example.com"
    assert services.renew_google_channels() == 1
    importing.refresh_from_db()
    first = importing.push_channel_id
    assert importing.push_expires_at > timezone.now() + timedelta(days=6)
    assert services.renew_google_channels() == 0  # a week left: nothing to do

    AgentCalendar.objects.filter(pk=importing.pk).update(push_expires_at=timezone.now() + HOUR)
    assert services.renew_google_channels() == 1

    importing.refresh_from_db()
    assert importing.push_channel_id != first
    assert list(google.channels) == [importing.push_channel_id]  # the old one was stopped


@pytest.mark.django_db
def test_no_channels_without_a_public_site_address(settings, google, importing):
    settings.PUBLIC_SITE_URL = ""

    assert services.renew_google_channels() == 0
    assert not services.open_google_channel(importing)
    assert google.channels == {}
