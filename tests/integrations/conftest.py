import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import caldav
import pytest
from celery.signals import task_retry
from django.db import connection
from django.utils import timezone

from calendars.models import CalendarSettings, SyncPolicy
from integrations import services
from integrations.providers.caldav import CalDAVProvider
from tests.peers.radicale import start_radicale

ROOT = Path(__file__).resolve().parents[2]
USERS = {"helpdesk": "service-pw", "alice": "alice-pw", "bob": "bob-pw"}


@pytest.fixture(scope="session")
def radicale(tmp_path_factory):
    server = start_radicale(tmp_path_factory.mktemp("radicale"), USERS)
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _fast_retries(settings):
    settings.SYNC_RETRY_BASE_DELAY = 0.01
    settings.SYNC_RETRY_MAX_DELAY = 0.05


@pytest.fixture
def retries() -> list:
    """The countdowns (seconds) of the task retries Celery schedules, as its task_retry signal reports them."""
    seen: list = []

    def record(sender=None, reason=None, **_kwargs) -> None:
        seen.append(reason.when)

    task_retry.connect(record, weak=False)
    yield seen
    task_retry.disconnect(record)


@pytest.fixture
def caldav_connection(db, radicale):
    return services.add_connection(
        name="Radicale",
        kind="caldav",
        url=radicale.url,
        username="helpdesk",
        secret=USERS["helpdesk"],
        options={"calendar_home": "/{user}/", "timeout": 5},
    )


def _connect(agent, connection, radicale):
    name = f"work-{uuid.uuid4().hex[:8]}"
    CalDAVProvider(radicale.url, "helpdesk", USERS["helpdesk"], calendar_home="/{user}/").make_calendar(
        agent.mailbox, name
    )
    return services.connect_agent(agent, connection=connection, calendar=name)


def calendar_through_proxy(agent, proxy, radicale, caldav_connection, *, name: str, timeout: float):
    """`agent`'s Radicale calendar as the connector reaches it through `proxy` (a FaultProxy in
    front of Radicale), on a connection of its own called `name` (client timeout `timeout`
    seconds). The calendar is on Radicale at the same path: a phone reaches it directly at
    `radicale.url` + `calendar_id.split("/", 3)[3]`. Returns the AgentCalendar."""
    from integrations.models import AgentCalendar

    direct = _connect(agent, caldav_connection, radicale)
    connection = services.add_connection(
        name=name,
        kind="caldav",
        url=proxy.url,
        username="helpdesk",
        secret=USERS["helpdesk"],
        options={"calendar_home": "/{user}/", "timeout": timeout},
    )
    calendar_path = direct.calendar_id.split("/", 3)[3]
    direct.delete()
    return AgentCalendar.objects.create(agent=agent, connection=connection, calendar_id=proxy.url + calendar_path)


@pytest.fixture
def alice_calendar(alice, caldav_connection, radicale):
    return _connect(alice, caldav_connection, radicale)


@pytest.fixture
def bob_calendar(bob, caldav_connection, radicale):
    return _connect(bob, caldav_connection, radicale)


@pytest.fixture
def asking(alice_calendar):
    """Alice's CalDAV calendar under policy Ask (S3.3), set globally. The connectors' test modules
    define their own, on their own calendars."""
    settings = CalendarSettings.load()
    settings.sync_policy = SyncPolicy.ASK
    settings.save()
    return alice_calendar


class OtherClient:
    """Another CalDAV client (a phone, Thunderbird) working on the technician's calendar directly."""

    def __init__(self, url: str, username: str, password: str, calendar_url: str) -> None:
        self.client = caldav.DAVClient(url=url, username=username, password=password, enable_rfc6764=False)
        self.client.session.trust_env = False
        self.calendar = self.client.calendar(url=calendar_url)

    def add(self, uid: str, start: datetime, end: datetime, summary: str, *, klass: str = "PUBLIC", extra: str = ""):
        fmt = "%Y%m%dT%H%M%SZ"
        self.calendar.save_event(
            ical=(
                "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Other client//EN\r\nBEGIN:VEVENT\r\n"
                f"UID:{uid}\r\nDTSTAMP:{timezone.now().strftime(fmt)}\r\n"
                f"DTSTART:{start.astimezone(UTC).strftime(fmt)}\r\n"
                f"DTEND:{end.astimezone(UTC).strftime(fmt)}\r\n"
                f"SUMMARY:{summary}\r\nDESCRIPTION:secret details\r\nLOCATION:Room 1\r\nCLASS:{klass}\r\n{extra}"
                "END:VEVENT\r\nEND:VCALENDAR\r\n"
            )
        )

    def entries(self) -> list:
        return list(self.calendar.events())

    def by_uid(self, uid: str):
        return self.calendar.event_by_uid(uid)

    def edit(self, uid: str, **fields) -> None:
        event = self.by_uid(uid)
        component = event.icalendar_component
        for name, value in fields.items():
            component.pop(name, None)
            component.add(name, value)
        event.save()

    def delete(self, uid: str) -> None:
        self.by_uid(uid).delete()


@pytest.fixture
def alice_phone(radicale, alice_calendar):
    return OtherClient(radicale.url, "alice", USERS["alice"], alice_calendar.calendar_id)


@pytest.fixture
def tomorrow_9():
    local = timezone.localtime() + timedelta(days=1)
    return local.replace(hour=9, minute=0, second=0, microsecond=0)


# --- a real Celery worker on Redis (CI sets REDIS_URL and runs on PostgreSQL) -------------------------


def _database_url() -> str | None:
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
        return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    if connection.vendor == "sqlite" and not connection.is_in_memory_db():
        return f"sqlite:///{db['NAME']}"
    return None


@pytest.fixture
def worker(transactional_db, settings):
    redis_url = settings.REDIS_URL
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


@pytest.fixture
def pushes_run():
    """The agent calendars of every push task Celery runs (eager here, as a worker would on commit),
    read from Celery's own task_prerun signal."""
    from celery.signals import task_prerun

    from integrations.tasks import push_agent_calendar

    ran = []

    def record(sender=None, args=(), **_kwargs) -> None:
        if sender is not None and sender.name == push_agent_calendar.name:
            ran.append(args[0])

    task_prerun.connect(record, weak=False)
    yield ran
    task_prerun.disconnect(record)
