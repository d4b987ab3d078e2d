"""A real Celery worker on Redis carries changes between the web client and Radicale (runs in CI)."""

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection

from calendars import services as calendar_services
from calendars.models import Appointment, CalendarSettings, SyncPolicy
from integrations.models import SyncLink
from integrations.tasks import pull_agent_calendar

pytestmark = [pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


def _database_url() -> str | None:
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
        return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    if connection.vendor == "sqlite" and not connection.is_in_memory_db():
        return f"sqlite:///{db['NAME']}"
    return None


@pytest.fixture
def worker(transactional_db):
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        pytest.skip("REDIS_URL is not set: the real-worker test needs Redis (CI sets it).")
    database_url = _database_url()
    if database_url is None:
        pytest.skip("The test database is in memory, where a worker process cannot see it; run on PostgreSQL.")
    from helpdesk.celery import app

    app.conf.task_always_eager = False
    app.conf.broker_url = redis_url
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": redis_url,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "SYNC_RETRY_BASE_DELAY": "0.05",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "helpdesk",
            "worker",
            "--pool",
            "solo",
            "--loglevel",
            "INFO",
            "--without-mingle",
            "--without-gossip",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge("celery")
    yield process
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
    app.conf.task_always_eager = True


def wait_for(check, *, timeout: float = 30, what: str = "the worker"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.3)
    raise AssertionError(f"Timed out waiting for {what}")


def test_real_worker_carries_changes_both_ways(worker, alice_calendar, alice_phone, tomorrow_9, client):
    alice = alice_calendar.agent
    calendar_settings = CalendarSettings.load()
    calendar_settings.sync_policy = SyncPolicy.ASK
    calendar_settings.save()
    appointment = calendar_services.create_appointment(
        subject="Firewall upgrade", start=tomorrow_9, end=tomorrow_9 + timedelta(hours=1), agents=[alice]
    )
    link = SyncLink.objects.get(appointment=appointment)
    client.force_login(alice.user)

    response = client.post(f"/me/approvals/{link.pk}/", {"decision": "approve"})  # the web client approves

    assert response.status_code == 302
    entries = wait_for(lambda: alice_phone.entries(), what="the entry to reach Radicale")
    assert [str(e.icalendar_component["summary"]) for e in entries] == ["Firewall upgrade"]

    alice_phone.edit(SyncLink.objects.get().marker, summary="Firewall upgrade (moved by phone)")
    pull_agent_calendar.delay(alice_calendar.pk)  # what beat does on its interval

    wait_for(
        lambda: Appointment.objects.get(pk=appointment.pk).subject == "Firewall upgrade (moved by phone)",
        what="the change to come back into the helpdesk",
    )
