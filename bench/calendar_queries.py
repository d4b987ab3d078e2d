"""How long a group calendar read takes, and how many queries, as appointments pile up.

Run: `make bench` (or `.venv/bin/python bench/calendar_queries.py [appointments]`). Uses a
throw-away test database on whatever DATABASE_URL points to. Prints figures; asserts nothing.
"""

import os
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

import django

django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from agents.models import Agent  # noqa: E402
from calendars.models import Appointment  # noqa: E402
from calendars.selectors import calendar_appointments  # noqa: E402

ZONE = ZoneInfo("Europe/Amsterdam")


def populate(technicians: int, appointments: int) -> list[Agent]:
    users = User.objects.bulk_create(User(username=f"tech{i}") for i in range(technicians))
    agents = Agent.objects.bulk_create(Agent(user=user) for user in users)
    start = datetime(2026, 1, 5, 8, tzinfo=ZONE)
    slots = [start + timedelta(hours=i % 4000) for i in range(appointments)]
    rows = [Appointment(subject=f"Job {i}", start=s, end=s + timedelta(minutes=45)) for i, s in enumerate(slots)]
    rows = Appointment.objects.bulk_create(rows, batch_size=5000)
    through = Appointment.agents.through
    through.objects.bulk_create(
        (through(appointment_id=row.pk, agent_id=agents[i % technicians].pk) for i, row in enumerate(rows)),
        batch_size=5000,
    )
    return agents


def measure(agents: list[Agent], label: str) -> None:
    week_start = datetime(2026, 6, 1, tzinfo=ZONE)
    with CaptureQueriesContext(connection) as queries:
        began = time.perf_counter()
        entries = list(calendar_appointments(week_start, week_start + timedelta(days=7), agents=[a.pk for a in agents]))
        for entry in entries:
            [agent.colour for agent in entry.agents.all()]
        elapsed = time.perf_counter() - began
    print(f"{label:>28}: {len(entries):6d} entries, {len(queries):2d} queries, {elapsed * 1000:8.1f} ms")


def main() -> None:
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        began = time.perf_counter()
        agents = populate(300, total)
        print(f"populated {total} appointments for 300 technicians in {time.perf_counter() - began:.1f} s")
        measure(agents[:2], "week, 2 technicians")
        measure(agents[:100], "week, 100 technicians")
        measure(agents, "week, 300 technicians")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
