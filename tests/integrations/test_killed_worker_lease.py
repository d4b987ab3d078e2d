"""Trial L-KILL: a worker killed (SIGKILL) mid-sync leaves its calendar's lease behind. Pushes queued
meanwhile met that lease, retried every few seconds for about a minute and then failed with
MaxRetriesExceededError and a traceback; they arrived only with the poll after the lease ran out.

Now a lease names the process that holds it: one of this host whose process is gone is taken over
at once, a push still meeting a live holder comes back when that holder's lease ends, and a push
that runs out of tries leaves its change marked with one log line, no error."""

import logging
import os
import socket
import subprocess
from datetime import timedelta

import pytest
from django.utils import timezone

from calendars import services as calendar_services
from integrations.models import AgentCalendar, SyncLink
from integrations.sync import engine
from integrations.tasks import BUSY_RETRIES, push_agent_calendar

pytestmark = pytest.mark.django_db


def _job(agent_calendar, start, subject: str):
    return calendar_services.create_appointment(
        subject=subject, start=start, end=start + timedelta(hours=1), agents=[agent_calendar.agent]
    )


def _gone_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()  # exited and reaped: the id runs no process now
    return process.pid


def test_a_lease_left_by_a_killed_worker_of_this_host_is_taken_over_and_the_push_arrives(
    alice_calendar, alice_phone, tomorrow_9, django_capture_on_commit_callbacks, caplog
):
    dead = f"{'a' * 16}/{_gone_pid()}/{_namespace()}/{socket.gethostname()}"[:64]
    AgentCalendar.objects.filter(pk=alice_calendar.pk).update(
        locked_until=timezone.now() + timedelta(minutes=10), lock_owner=dead
    )

    with (
        caplog.at_level(logging.INFO, logger="integrations.sync.engine"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        appointment = _job(alice_calendar, tomorrow_9, "After the kill")

    link = SyncLink.objects.get(appointment=appointment)
    assert not link.pending
    assert str(alice_phone.by_uid(link.marker).icalendar_component["summary"]) == "After the kill"
    assert any("held by a process that is gone" in record.getMessage() for record in caplog.records)
    calendar = AgentCalendar.objects.get(pk=alice_calendar.pk)
    assert (calendar.locked_until, calendar.lock_owner) == (None, "")


def _namespace() -> str:
    # The kernel's own name for this process's PID namespace ("pid:[4026531836]"), read here
    # without the engine's helper.
    return os.readlink("/proc/self/ns/pid").split("[")[1].rstrip("]")


@pytest.mark.parametrize(
    "holder",
    [
        "{hex}/{pid}/{ns}/another-host.example",
        # Another container of the same host name (review F3): its process ids are not ours to ask.
        "{hex}/{pid}/4026500000/{host}",
        # A lease written before the namespace was named: only its end frees it.
        "{hex}/{pid}/{host}",
    ],
    ids=["another host", "another PID namespace", "older form"],
)
def test_a_lease_of_another_host_or_namespace_or_a_live_process_is_not_taken(alice_calendar, holder):
    elsewhere = holder.format(hex="b" * 16, pid=_gone_pid(), ns=_namespace(), host=socket.gethostname())[:64]
    AgentCalendar.objects.filter(pk=alice_calendar.pk).update(
        locked_until=timezone.now() + timedelta(minutes=10), lock_owner=elsewhere
    )
    assert engine.claim(alice_calendar) is None

    AgentCalendar.objects.filter(pk=alice_calendar.pk).update(locked_until=None, lock_owner="")
    live = engine.claim(alice_calendar)  # this very process holds it: alive
    assert live is not None and engine.claim(alice_calendar) is None


def test_a_push_meeting_a_live_lease_waits_for_its_end_then_leaves_its_change_marked_without_an_error(
    alice_calendar, tomorrow_9, django_capture_on_commit_callbacks, retries, caplog
):
    owner = engine.claim(alice_calendar)  # a run that goes on holding the calendar
    with django_capture_on_commit_callbacks(execute=False):
        appointment = _job(alice_calendar, tomorrow_9, "Waits its turn")
    lease_left = (AgentCalendar.objects.get(pk=alice_calendar.pk).locked_until - timezone.now()).total_seconds()

    with caplog.at_level(logging.WARNING, logger="integrations.tasks"):
        # Celery runs an eager task's retry at once (its next-to-last try, then the last): the outcome is the last's.
        outcome = push_agent_calendar.apply(args=(alice_calendar.pk,), retries=BUSY_RETRIES - 1, throw=False).get()

    assert outcome == "skipped"  # not MaxRetriesExceededError
    assert len(retries) == 1 and lease_left - 5 <= retries[0] <= lease_left + 6  # at the lease's end
    (line,) = [r for r in caplog.records if "still being synced by another run" in r.getMessage()]
    assert line.exc_info is None and "goes with the calendar's next sync" in line.getMessage()
    assert SyncLink.objects.get(appointment=appointment).pending  # nothing lost

    engine.release(alice_calendar, owner)
    report = engine.sync_agent_calendar(alice_calendar, pull=True)

    assert report.pushed == 1 and not SyncLink.objects.get(appointment=appointment).pending


def test_a_worker_that_starts_pushes_the_changes_a_killed_one_left_waiting(
    alice_calendar, alice_phone, tomorrow_9, django_capture_on_commit_callbacks
):
    """The push queued on commit went down with the killed worker (unacknowledged, its message waits
    out the broker's visibility timeout); the link is still marked. The next worker to start sends it."""
    from celery.signals import worker_ready

    with django_capture_on_commit_callbacks(execute=False):  # the queued push is lost with the worker
        appointment = _job(alice_calendar, tomorrow_9, "Lost with the worker")
    link = SyncLink.objects.get(appointment=appointment)
    assert link.pending and link.remote_id == ""

    worker_ready.send(sender=None)

    link.refresh_from_db()
    assert not link.pending
    assert str(alice_phone.by_uid(link.marker).icalendar_component["summary"]) == "Lost with the worker"
