"""Exchange asking us to wait, through the real exchangelib: HTTP 503 / 429 with Retry-After (RFC
9110 10.2.3) and ErrorServerBusy with BackOffMilliseconds (MS-OXWS throttling). A wait up to the
inline limit is slept in full (recorded, not slept, here); a longer one reschedules the entry or
the calendar exactly that much later and is never slept in the worker."""

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from django.utils import timezone

from calendars import services as calendar_services
from integrations.models import SyncLink
from integrations.providers.base import TransientError
from integrations.providers.exchange import exchange_provider_from_settings
from integrations.tasks import pull_agent_calendar

from .conftest import ALICE
from .test_exchange_provider import visit

HOUR = timedelta(hours=1)


def test_ews_503_with_retry_after_3_is_retried_after_3_seconds(provider, calendar, ews, sleeps):
    ews.fail_next("503", retry_after="3", operation="CreateItem")

    provider.create(calendar, visit(subject="After the 503"))

    assert sleeps == [3]
    assert [item.subject for item in ews.items(ALICE)] == ["After the 503"]


def test_ews_503_with_retry_after_as_an_http_date_is_waited_out(provider, calendar, ews, sleeps):
    until = datetime.now(UTC) + timedelta(seconds=4)
    ews.fail_next("503", retry_after=format_datetime(until, usegmt=True), operation="CreateItem")

    provider.create(calendar, visit())

    (wait,) = sleeps
    assert 2.5 <= wait <= 4  # the date has whole seconds, and a moment passed since
    assert len(ews.items(ALICE)) == 1


def test_ews_429_with_retry_after_is_waited_out(provider, calendar, ews, sleeps):
    ews.fail_next("429", retry_after="2", operation="CreateItem")

    provider.create(calendar, visit())

    assert sleeps == [2]
    assert len(ews.items(ALICE)) == 1


def test_ews_503_without_retry_after_backs_off_with_jitter(provider, calendar, ews, sleeps):
    ews.fail_next("503", retry_after=None, operation="CreateItem")

    provider.create(calendar, visit())

    (wait,) = sleeps
    assert 0 <= wait <= 0.5  # the first step of our own back-off, not a wait exchangelib made up
    assert len(ews.items(ALICE)) == 1


def test_ews_server_busy_asking_40_s_is_not_slept_and_carries_40(provider, calendar, ews, sleeps):
    ews.fail_next("busy", back_off_ms=40000, operation="CreateItem")

    with pytest.raises(TransientError) as raised:
        provider.create(calendar, visit())

    assert raised.value.retry_after == 40
    assert "asks for a pause of 40 s" in str(raised.value)
    assert sleeps == []
    assert ews.requests.count("CreateItem") == 1
    assert ews.items(ALICE) == []


def test_ews_503_asking_longer_than_the_inline_limit_is_not_slept(connection_settings, calendar, ews, sleeps):
    provider = exchange_provider_from_settings(connection_settings, sleep=sleeps.append, max_inline_wait=2)
    ews.fail_next("503", retry_after="3", operation="CreateItem")

    with pytest.raises(TransientError) as raised:
        provider.create(calendar, visit())

    assert (raised.value.retry_after, sleeps) == (3, [])


@pytest.mark.django_db
def test_ews_server_busy_asking_40_s_reschedules_the_entry_40_s_later(
    alice_exchange, ews, tomorrow_9, django_capture_on_commit_callbacks
):
    from integrations.sync import engine

    with django_capture_on_commit_callbacks(execute=False):
        calendar_services.create_appointment(
            subject="Busy server", start=tomorrow_9, end=tomorrow_9 + HOUR, agents=[alice_exchange.agent]
        )
    ews.fail_next("busy", back_off_ms=40000, operation="CreateItem")
    now = timezone.now()

    report = engine.sync_agent_calendar(alice_exchange, pull=False, now=now)

    link = SyncLink.objects.get()
    assert report.failed == 1
    assert link.next_attempt_at == now + timedelta(seconds=40)  # not 30, and not slept
    assert ews.requests.count("CreateItem") == 1
    assert ews.items(ALICE) == []


@pytest.mark.django_db
def test_ews_server_busy_asking_40_s_reschedules_the_calendar_40_s_later(alice_exchange, ews, retries):
    ews.fail_next("busy", back_off_ms=40000, operation="SyncFolderItems")

    pull_agent_calendar.apply(args=(alice_exchange.pk,), throw=False)

    assert retries == [40]  # not 30, and the worker did not sleep it away
    assert ews.requests.count("SyncFolderItems") == 2  # the one refused, then the rescheduled run's
