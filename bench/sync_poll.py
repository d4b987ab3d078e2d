"""What it costs one worker to keep technicians' CalDAV calendars in sync (S4).

Starts a real Radicale on loopback, connects N technicians (default 100) with 20 coming
appointments each, and times, on one process: the first push of everything, the first pull (a
full listing of the import window, as there is no sync token yet), a pull of every calendar in
which nothing changed, and a round in which each technician has one change.
Counts the HTTP requests Radicale answered in each phase. Uses a throw-away test database on
whatever DATABASE_URL points to. Prints figures; asserts nothing.

Run: `.venv/bin/python bench/sync_poll.py [technicians]`
"""

import logging
import os
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
os.environ["CELERY_TASK_ALWAYS_EAGER"] = "1"

import django

django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from agents.models import Agent  # noqa: E402
from calendars import services as calendar_services  # noqa: E402
from integrations import services  # noqa: E402
from integrations.models import AgentCalendar  # noqa: E402
from integrations.providers.caldav import CalDAVProvider  # noqa: E402
from integrations.sync import engine  # noqa: E402
from tests.peers.radicale import _QuietHandler, start_radicale  # noqa: E402

requests_seen = 0


class _CountingHandler(_QuietHandler):
    def handle(self):
        global requests_seen
        requests_seen += 1
        super().handle()


def sync_everyone(*, pull: bool) -> tuple[float, int]:
    global requests_seen
    requests_seen = 0
    began = time.perf_counter()
    for agent_calendar in AgentCalendar.objects.select_related("agent", "connection"):
        engine.sync_agent_calendar(agent_calendar, pull=pull)
    return time.perf_counter() - began, requests_seen


def main() -> None:
    logging.disable(logging.WARNING)
    technicians = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    with tempfile.TemporaryDirectory() as folder:
        server = start_radicale(Path(folder), {"helpdesk": "pw"})
        server._server.RequestHandlerClass = _CountingHandler
        try:
            conn = services.add_connection(
                name="Radicale", kind="caldav", url=server.url, username="helpdesk", secret="pw",
                options={"calendar_home": "/{user}/"},
            )  # fmt: skip
            provider = CalDAVProvider(server.url, "helpdesk", "pw", calendar_home="/{user}/")
            start = timezone.now().replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
            agents = []
            for number in range(technicians):
                user = User.objects.create_user(f"tech{number}", email=f"tech{number}@example.com")
                agent = Agent.objects.create(user=user)
                provider.make_calendar(agent.mailbox, "work")
                agents.append(agent)
            for agent in agents:
                for day in range(20):
                    slot = start + timedelta(days=day)
                    calendar_services.create_appointment(
                        subject=f"Job {day}", start=slot, end=slot + timedelta(hours=1), agents=[agent]
                    )
            for agent in agents:
                agent_calendar = services.connect_agent(agent, connection=conn, calendar="work", import_external=True)
                services.queue_existing_appointments(agent_calendar, since=timezone.now())
            print(f"{technicians} technicians, {20 * technicians} appointments, Radicale on loopback, one process")
            phases = (
                ("first push of everything", False),
                ("first pull (full listing)", True),
                ("pull, nothing changed", True),
            )
            for label, pull in phases:
                seconds, count = sync_everyone(pull=pull)
                print(f"{label:>28}: {seconds:6.2f} s, {count:5d} requests ({count / technicians:.1f} per calendar)")
            for agent in agents:
                first = agent.appointments.order_by("start").first()
                calendar_services.update_appointment(first, subject="Job moved", start=first.start + timedelta(hours=2),
                                                     end=first.end + timedelta(hours=2))  # fmt: skip
            seconds, count = sync_everyone(pull=True)
            print(f"{'one change per calendar':>28}: {seconds:6.2f} s, {count:5d} requests "
                  f"({count / technicians:.1f} per calendar)")  # fmt: skip
        finally:
            server.stop()
            connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
