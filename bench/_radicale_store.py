"""Set-up shared by the benches that fill a real Radicale's store straight from files
(`bench/import_limits.py`, `bench/pull_changes.py`): a Radicale process on loopback, the helpdesk's
CalDAV connection to it, and technicians with import on, each with a calendar whose folder in
Radicale's store is returned so the bench can write entries there. Call after `django.setup()`
and with a test database made.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.contrib.auth.models import User
from django.utils import timezone

from agents.models import Agent
from integrations import services
from integrations.models import AgentCalendar, Connection
from integrations.providers.base import RemoteCalendar, Window
from integrations.providers.caldav import CalDAVProvider
from tests.peers.radicale import start_radicale_process


@dataclass
class RadicaleStore:
    """A running Radicale, the helpdesk's connection to it and a provider that reads it."""

    folder: Path
    connection: Connection
    provider: CalDAVProvider
    wide: Window  # ten years either side of now: every entry a bench writes is inside it

    def technician_calendar(self, username: str) -> tuple[AgentCalendar, Path]:
        """A new technician (import on) with a connected calendar "work"; returns the calendar and
        its folder in Radicale's store (write `<uid>.ics` files there, then `read_once`)."""
        user = User.objects.create_user(username, email=f"{username}@example.com")
        agent = Agent.objects.create(user=user, import_external=True)
        self.provider.make_calendar(agent.mailbox, "work")
        agent_calendar = services.connect_agent(agent, connection=self.connection, calendar="work")
        path = unquote(urlsplit(agent_calendar.calendar_id).path).strip("/")
        return agent_calendar, self.folder / "collections" / "collection-root" / path

    def read_once(self, agent_calendar: AgentCalendar) -> None:
        """Have Radicale read the calendar's files once (its own slow first read, not measured)."""
        self.provider.list_changes(RemoteCalendar("", agent_calendar.calendar_id), None, self.wide)


@contextlib.contextmanager
def radicale_store() -> Iterator[RadicaleStore]:
    """A Radicale process on a temporary folder (stopped and removed on exit) with the helpdesk's
    connection to it (user "helpdesk", calendars under /<mailbox>/)."""
    with tempfile.TemporaryDirectory() as folder:
        server = start_radicale_process(Path(folder), {"helpdesk": "pw"})
        try:
            connection = services.add_connection(
                name="Radicale", kind="caldav", url=server.url, username="helpdesk", secret="pw",
                options={"calendar_home": "/{user}/", "timeout": 120},
            )  # fmt: skip
            provider = CalDAVProvider(server.url, "helpdesk", "pw", calendar_home="/{user}/", timeout=3600)
            wide = Window(timezone.now() - timedelta(days=3650), timezone.now() + timedelta(days=3650))
            yield RadicaleStore(Path(folder), connection, provider, wide)
        finally:
            server.stop()
