"""Faults between the connector and Radicale: nothing lost, nothing duplicated."""

import contextlib
import os
import signal
import time
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from calendars import services as calendar_services
from calendars.models import Appointment
from integrations import services
from integrations.models import AgentCalendar, SyncLink
from integrations.providers.base import ProviderError
from integrations.sync import engine
from integrations.sync.inbound import inbound
from tests.integrations import one_technician_scenarios
from tests.integrations.conftest import USERS, OtherClient
from tests.integrations.test_caldav_shared import Phones
from tests.peers.fault_proxy import FaultProxy

pytestmark = [pytest.mark.slow]


@pytest.fixture
def proxy(radicale):
    proxy = FaultProxy(radicale.url)
    proxy.stall_seconds = 1.5
    yield proxy
    proxy.stop()


@pytest.fixture
def proxied_calendar(alice, proxy, radicale, caldav_connection):
    """Alice's calendar, reached by the connector through the proxy (timeouts of one second)."""
    from tests.integrations.conftest import calendar_through_proxy

    alice.import_external = True
    alice.save()
    return calendar_through_proxy(alice, proxy, radicale, caldav_connection, name="Through the proxy", timeout=1)


def _sync_ignoring_faults(agent_calendar, *, pull: bool) -> None:
    with contextlib.suppress(ProviderError):
        engine.sync_agent_calendar(AgentCalendar.objects.get(pk=agent_calendar.pk), pull=pull)


@pytest.mark.django_db
@pytest.mark.parametrize("seed", [4, 11, 23])
def test_changes_flow_both_ways_through_faults_and_end_equal(proxied_calendar, proxy, radicale, tomorrow_9, seed):
    proxy.random.seed(seed)
    alice = proxied_calendar.agent
    phone = OtherClient(
        radicale.url, "alice", USERS["alice"], radicale.url + proxied_calendar.calendar_id.split("/", 3)[3]
    )
    _sync_ignoring_faults(proxied_calendar, pull=True)
    proxy.rate = float(os.environ.get("FAULT_RATE", "0.35"))
    hour = timedelta(hours=1)
    appointments = []
    for n in range(6):
        start = tomorrow_9 + n * 2 * hour
        appointments.append(
            calendar_services.create_appointment(subject=f"Helpdesk {n}", start=start, end=start + hour, agents=[alice])
        )
        phone.add(f"phone-{n}", start + timedelta(days=1), start + timedelta(days=1) + hour, f"Phone {n}")
        _sync_ignoring_faults(proxied_calendar, pull=n % 2 == 0)
    calendar_services.update_appointment(appointments[0], subject="Helpdesk 0 renamed")
    calendar_services.delete_appointment(appointments[1])
    phone.edit("phone-2", summary="Phone 2 renamed")
    phone.delete("phone-3")
    # At least four polls, and more until six faults have hit (a poll reads all changes in one request).
    for polls in range(1, 13):
        _sync_ignoring_faults(proxied_calendar, pull=True)
        if polls >= 4 and sum(proxy.seen.values()) > 5:
            break
    assert sum(proxy.seen.values()) > 5 or os.environ.get("FAULT_RATE") == "0", proxy.seen

    proxy.calm()
    _sync_ignoring_faults(proxied_calendar, pull=True)
    _sync_ignoring_faults(proxied_calendar, pull=True)

    remote = sorted(str(e.icalendar_component["summary"]) for e in phone.entries())
    local = sorted(Appointment.objects.values_list("subject", flat=True))
    expected = ["Helpdesk 0 renamed", "Helpdesk 2", "Helpdesk 3", "Helpdesk 4", "Helpdesk 5"]
    expected += ["Phone 0", "Phone 1", "Phone 2 renamed", "Phone 4", "Phone 5"]
    assert remote == local == sorted(expected)
    assert SyncLink.objects.count() == len(expected)


@pytest.mark.django_db
@one_technician_scenarios.each_lost_answer
def test_lost_answer_on_caldav(scenario, proxied_calendar, proxy, radicale, django_capture_on_commit_callbacks):
    """The scenarios every connector runs (one_technician_scenarios.LOST_ANSWERS): Radicale stores
    the PUT or DELETE, the proxy loses every answer."""
    phones = Phones(radicale, proxied_calendar, proxy=proxy)
    scenario(phones, proxied_calendar, django_capture_on_commit_callbacks)


@pytest.mark.django_db
def test_a_create_whose_answer_was_lost_is_not_duplicated(proxied_calendar, proxy, radicale, tomorrow_9):
    phone = OtherClient(
        radicale.url, "alice", USERS["alice"], radicale.url + proxied_calendar.calendar_id.split("/", 3)[3]
    )
    calendar_services.create_appointment(
        subject="Once only", start=tomorrow_9, end=tomorrow_9 + timedelta(hours=1), agents=[proxied_calendar.agent]
    )
    proxy.only_methods = {"PUT"}
    proxy.planned.extend(["drop_after", "drop_after", "drop_after", "drop_after"])

    _sync_ignoring_faults(proxied_calendar, pull=False)
    proxy.calm()
    _sync_ignoring_faults(proxied_calendar, pull=True)

    assert [str(e.icalendar_component["summary"]) for e in phone.entries()] == ["Once only"]
    assert Appointment.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("push_only_first", [True, False], ids=["push-only-sync-first", "pull-first"])
def test_a_create_whose_answer_was_lost_is_deleted_with_its_appointment(
    proxied_calendar, proxy, radicale, tomorrow_9, push_only_first
):
    """The CalDAV kind of the Google long-profile failure `{'S1': (0, 1)}` (seed 7): Radicale stored
    the PUT but every answer was lost, so the create counts as failed and the link holds no object
    URL; then the helpdesk deletes the appointment. A push-only sync forgot the link and left the
    object on the server for good; a pull imported it back. Expected: gone from both sides (read
    with a plain CalDAV client)."""
    phone = OtherClient(
        radicale.url, "alice", USERS["alice"], radicale.url + proxied_calendar.calendar_id.split("/", 3)[3]
    )
    appointment = calendar_services.create_appointment(
        subject="Soon gone", start=tomorrow_9, end=tomorrow_9 + timedelta(hours=1), agents=[proxied_calendar.agent]
    )
    proxy.only_methods = {"PUT"}
    proxy.planned.extend(["drop_after"] * 8)
    _sync_ignoring_faults(proxied_calendar, pull=False)
    proxy.calm()
    proxy.only_methods = None
    assert [str(e.icalendar_component["summary"]) for e in phone.entries()] == ["Soon gone"]
    assert SyncLink.objects.get().remote_id == ""

    calendar_services.delete_appointment(appointment)
    if push_only_first:
        _sync_ignoring_faults(proxied_calendar, pull=False)
    report = engine.sync_agent_calendar(AgentCalendar.objects.get(pk=proxied_calendar.pk), pull=True)

    assert report.failed == 0
    assert phone.entries() == []
    assert not Appointment.objects.exists()
    assert not SyncLink.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_in_the_middle_of_a_push_leaves_no_duplicate(
    proxied_calendar, proxy, radicale, tomorrow_9, settings
):
    settings.SYNC_LOCK_SECONDS = 1
    phone = OtherClient(
        radicale.url, "alice", USERS["alice"], radicale.url + proxied_calendar.calendar_id.split("/", 3)[3]
    )
    with inbound(proxied_calendar):  # no push queued on commit: the forked worker below pushes
        calendar_services.create_appointment(
            subject="Pushed while killed",
            start=tomorrow_9,
            end=tomorrow_9 + timedelta(hours=1),
            agents=[proxied_calendar.agent],
        )
    assert services.queue_existing_appointments(proxied_calendar, since=tomorrow_9 - timedelta(days=1)) == 1
    proxy.only_methods = {"PUT"}
    proxy.planned.append("stall_after")
    connections.close_all()

    pid = os.fork()
    if pid == 0:  # the worker: pushes, and is killed while waiting for the answer
        try:
            engine.sync_agent_calendar(AgentCalendar.objects.get(pk=proxied_calendar.pk), pull=False)
        finally:
            os._exit(0)
    assert proxy.forwarded.wait(20), "the push never reached the server"
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    proxy.release.set()
    proxy.calm()
    assert len(phone.entries()) == 1  # the server got it; the helpdesk never heard back
    time.sleep(1.1)  # the dead worker's lease runs out

    engine.sync_agent_calendar(AgentCalendar.objects.get(pk=proxied_calendar.pk), pull=True)
    engine.sync_agent_calendar(AgentCalendar.objects.get(pk=proxied_calendar.pk), pull=True)

    assert [str(e.icalendar_component["summary"]) for e in phone.entries()] == ["Pushed while killed"]
    assert Appointment.objects.count() == 1
    assert SyncLink.objects.get().remote_id


@pytest.mark.django_db
def test_a_failing_item_is_retried_later_without_blocking_the_others(proxied_calendar, proxy, radicale, tomorrow_9):
    phone = OtherClient(
        radicale.url, "alice", USERS["alice"], radicale.url + proxied_calendar.calendar_id.split("/", 3)[3]
    )
    for n in range(3):
        start = tomorrow_9 + timedelta(hours=2 * n)
        calendar_services.create_appointment(
            subject=f"Item {n}", start=start, end=start + timedelta(hours=1), agents=[proxied_calendar.agent]
        )
    proxy.only_methods = {"PUT"}
    proxy.planned.extend(["500"] * 4)  # every attempt at the first item's PUT fails

    report = engine.sync_agent_calendar(AgentCalendar.objects.get(pk=proxied_calendar.pk), pull=False)

    assert (report.pushed, report.failed) == (2, 1)
    failing = SyncLink.objects.get(failures=1)
    assert failing.next_attempt_at is not None and failing.last_error
    assert len(phone.entries()) == 2

    engine.sync_agent_calendar(AgentCalendar.objects.get(pk=proxied_calendar.pk), pull=True)

    assert sorted(str(e.icalendar_component["summary"]) for e in phone.entries()) == ["Item 0", "Item 1", "Item 2"]


@pytest.mark.django_db
def test_429_retry_after_is_honoured(proxied_calendar, proxy):
    from integrations.providers.base import RemoteCalendar, TransientError, Window
    from integrations.services import provider_for

    proxy.retry_after = "7"
    proxy.planned.append("429")
    provider = provider_for(proxied_calendar.connection)
    now = timezone.now()

    with pytest.raises(TransientError) as raised:
        provider.list_changes(
            RemoteCalendar("alice@example.com", proxied_calendar.calendar_id), None, Window(now, now + timedelta(1))
        )

    assert raised.value.retry_after == 7


def _list_changes(provider, calendar):
    from integrations.providers.base import RemoteCalendar, Window

    now = timezone.now()
    return provider.list_changes(
        RemoteCalendar("alice@example.com", calendar.calendar_id), None, Window(now, now + timedelta(1))
    )


@pytest.mark.django_db
@pytest.mark.parametrize("status", ["503", "429"])
def test_caldav_503_and_429_with_retry_after_3_are_retried_after_3_seconds(proxied_calendar, proxy, status):
    from integrations.providers.base import RetryPolicy
    from integrations.services import provider_for

    proxy.retry_after = proxy.retry_after_503 = "3"
    proxy.planned.append(status)
    provider = provider_for(proxied_calendar.connection)
    sleeps: list[float] = []

    page = RetryPolicy(sleep=sleeps.append).call(lambda: _list_changes(provider, proxied_calendar))

    assert sleeps == [3]
    assert page.full and proxy.seen[status] == 1


@pytest.mark.django_db
def test_caldav_503_with_retry_after_as_an_http_date_carries_the_wait(proxied_calendar, proxy):
    from email.utils import format_datetime

    from integrations.providers.base import TransientError
    from integrations.services import provider_for

    proxy.retry_after_503 = format_datetime(timezone.now() + timedelta(seconds=40), usegmt=True)
    proxy.planned.append("503")

    with pytest.raises(TransientError) as raised:
        _list_changes(provider_for(proxied_calendar.connection), proxied_calendar)

    assert 38 <= raised.value.retry_after <= 40


@pytest.mark.django_db
def test_caldav_429_asking_40_s_reschedules_the_entry_40_s_later(proxied_calendar, proxy, tomorrow_9):
    calendar_services.create_appointment(
        subject="Slow server", start=tomorrow_9, end=tomorrow_9 + timedelta(hours=1), agents=[proxied_calendar.agent]
    )
    proxy.only_methods = {"PUT"}
    proxy.retry_after = "40"
    proxy.planned.append("429")
    now = timezone.now()

    report = engine.sync_agent_calendar(AgentCalendar.objects.get(pk=proxied_calendar.pk), pull=False, now=now)

    assert report.failed == 1
    assert SyncLink.objects.get().next_attempt_at == now + timedelta(seconds=40)  # not slept, not cut to 30
    assert proxy.seen["429"] == 1


@pytest.mark.django_db
def test_caldav_503_asking_40_s_reschedules_the_calendar_40_s_later(proxied_calendar, proxy, retries):
    from integrations.tasks import pull_agent_calendar

    proxy.retry_after_503 = "40"
    proxy.planned.append("503")

    pull_agent_calendar.apply(args=(proxied_calendar.pk,), throw=False)

    assert retries == [40]
    assert proxy.seen["503"] == 1


@pytest.mark.django_db
def test_two_workers_never_sync_the_same_calendar_at_once(alice_calendar):
    owner = engine.claim(alice_calendar)
    assert owner is not None
    assert engine.claim(alice_calendar) is None
    with pytest.raises(engine.CalendarBusy):
        engine.sync_agent_calendar(alice_calendar, pull=False)

    engine.release(alice_calendar, owner)

    assert engine.claim(alice_calendar) is not None


@pytest.mark.django_db
def test_a_pull_task_meeting_another_workers_lease_tries_again_in_seconds(alice_calendar, retries):
    from celery.signals import task_retry

    from integrations.tasks import pull_agent_calendar

    owner = engine.claim(alice_calendar)
    held = []

    def other_worker_done(**_):  # Celery runs an eager task's retry at once: the other worker ends first
        held.append(AgentCalendar.objects.get(pk=alice_calendar.pk).lock_owner)
        engine.release(alice_calendar, owner)

    task_retry.connect(other_worker_done, weak=False)
    try:
        outcome = pull_agent_calendar.apply(args=(alice_calendar.pk,), throw=False).get()
    finally:
        task_retry.disconnect(other_worker_done)

    assert len(retries) == 1 and 2 <= retries[0] <= 5  # the task's countdown: 2 s and up to 3 more
    assert held == [owner]  # the other worker's lease stood until it let go
    assert outcome.startswith("pushed 0, pulled 0")
    assert AgentCalendar.objects.get(pk=alice_calendar.pk).last_pull_at is not None


@pytest.mark.django_db
def test_a_sync_whose_server_stays_faulty_through_every_retry_leaves_its_change_marked_without_an_error(
    proxied_calendar, proxy, retries, caplog, tomorrow_9, django_capture_on_commit_callbacks
):
    """Trial L-KILL's second half: running out of Celery retries is an expected end, one log line.
    (A push's own item faults are the link's back-off; a fault of the whole calendar, its listing
    here, is the task's retry.)"""
    import logging

    from integrations.tasks import TRANSIENT_RETRIES, pull_agent_calendar

    with django_capture_on_commit_callbacks(execute=False):
        appointment = calendar_services.create_appointment(
            subject="Server down",
            start=tomorrow_9,
            end=tomorrow_9 + timedelta(hours=1),
            agents=[proxied_calendar.agent],
        )
    proxy.retry_after_503 = "40"  # longer than the engine waits inline: the task reschedules
    proxy.planned.append("503")

    with caplog.at_level(logging.WARNING, logger="integrations.tasks"):
        outcome = pull_agent_calendar.apply(args=(proxied_calendar.pk,), retries=TRANSIENT_RETRIES).get()

    assert outcome == "skipped" and retries == []  # not MaxRetriesExceededError, no retry
    (line,) = [r for r in caplog.records if "still had a passing fault" in r.getMessage()]
    assert line.exc_info is None
    assert SyncLink.objects.get(appointment=appointment).pending
