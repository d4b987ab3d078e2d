import uuid
from datetime import UTC, datetime, timedelta

import caldav
import pytest
from celery.signals import task_retry
from django.utils import timezone

from integrations import services
from integrations.providers.caldav import CalDAVProvider
from tests.peers.radicale import start_radicale

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


@pytest.fixture
def alice_calendar(alice, caldav_connection, radicale):
    return _connect(alice, caldav_connection, radicale)


@pytest.fixture
def bob_calendar(bob, caldav_connection, radicale):
    return _connect(bob, caldav_connection, radicale)


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
