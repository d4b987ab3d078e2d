"""The group calendar's data against the bare database fetch, as appointments pile up (issue 14).

Run: `make bench` (or `.venv/bin/python bench/calendar_queries.py [appointments] [--runs N]`). Uses a
throw-away test database on whatever DATABASE_URL points to (PostgreSQL for the issue's figures:
`DATABASE_URL=postgres://postgres@127.0.0.1:5432/NAME`). Prints figures; asserts nothing.

For 2, 100 and 300 technicians and one week, side by side in one run, medians of `--runs`:
- reference: the bare ORM fetch of that week's rows, `Appointment.objects.filter(...).values()`;
- widget: the one request the calendar widget makes (`GET /api/appointments/calendar/`), the
  whole Django request with its JSON, signed in as a coordinator;
- paged list: the list API as the widget used to read it, page after page of 100 (for scale).
"""

import argparse
import os
import statistics
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

import django

django.setup()

from django.contrib.auth.models import Permission, User  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402

from agents.models import Agent  # noqa: E402
from calendars.models import Appointment  # noqa: E402

ZONE = ZoneInfo("Europe/Amsterdam")
WEEK_START = datetime(2026, 6, 1, tzinfo=ZONE)
WEEK_END = WEEK_START + timedelta(days=7)


def populate(technicians: int, appointments: int) -> list[Agent]:
    users = User.objects.bulk_create(User(username=f"tech{i}", first_name=f"Tech {i:03d}") for i in range(technicians))
    agents = Agent.objects.bulk_create(Agent(user=user) for user in users)
    agents = list(Agent.objects.filter(pk__in=[a.pk for a in agents]).order_by("pk"))
    start = datetime(2026, 1, 5, 8, tzinfo=ZONE)
    slots = [start + timedelta(hours=i % 4000) for i in range(appointments)]
    rows = [
        Appointment(
            subject=f"Job {i}",
            note="Bring the spare parts.",
            location="Main office",
            start=s,
            end=s + timedelta(minutes=45),
        )
        for i, s in enumerate(slots)
    ]
    rows = Appointment.objects.bulk_create(rows, batch_size=5000)
    through = Appointment.agents.through
    through.objects.bulk_create(
        (through(appointment_id=row.pk, agent_id=agents[i % technicians].pk) for i, row in enumerate(rows)),
        batch_size=5000,
    )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ANALYZE")
    return agents


def bare_fetch(ids: list[int]) -> int:
    return len(Appointment.objects.filter(end__gt=WEEK_START, start__lt=WEEK_END, agents__in=ids).values())


def widget(client: Client, ids: list[int]) -> int:
    params = {"start": WEEK_START.isoformat(), "end": WEEK_END.isoformat(), "agent": ids}
    response = client.get("/api/appointments/calendar/", params, headers={"accept": "application/json"})
    assert response.status_code == 200, response.content[:300]
    return len(response.json())


def paged(client: Client, ids: list[int]) -> tuple[int, int]:
    params = {"start": WEEK_START.isoformat(), "end": WEEK_END.isoformat(), "agent": ids, "page_size": 100}
    url, items, requests = "/api/appointments/", 0, 0
    while url:
        response = client.get(url, params if requests == 0 else None, headers={"accept": "application/json"})
        body = response.json()
        items, requests, url = items + len(body["results"]), requests + 1, body["next"]
    return items, requests


def timed(work, runs: int) -> tuple[float, object, int]:
    durations, result, queries = [], None, 0
    for _ in range(runs):
        with CaptureQueriesContext(connection) as captured:
            began = time.perf_counter()
            result = work()
            durations.append(time.perf_counter() - began)
        queries = len(captured.captured_queries)
    return statistics.median(durations), result, queries


def measure(client: Client, agents: list[Agent], runs: int, *, with_paged: bool) -> None:
    ids = [a.pk for a in agents]
    widget(client, ids)  # warm up (settings row, first connection use)
    reference, rows, _ = timed(lambda: bare_fetch(ids), runs)
    seconds, items, queries = timed(lambda: widget(client, ids), runs)
    line = (
        f"{len(agents):3d} technicians: {items:5d} entries | bare .values() {reference * 1000:7.1f} ms ({rows} rows) | "
        f"widget, 1 request {seconds * 1000:7.1f} ms, {queries} queries | ratio {seconds / reference:4.2f}x"
    )
    if with_paged:
        old, (_count, requests), old_queries = timed(lambda: paged(client, ids), max(1, runs // 3))
        line += (
            f" | paged list: {requests} requests {old * 1000:7.1f} ms, {old_queries} queries ({old / reference:4.1f}x)"
        )
    print(line, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("appointments", nargs="?", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--no-paged", action="store_true", help="leave out the old paged list")
    options = parser.parse_args()
    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        began = time.perf_counter()
        agents = populate(300, options.appointments)
        print(
            f"database: {connection.vendor}; {options.appointments} appointments for 300 technicians "
            f"made in {time.perf_counter() - began:.1f} s; week of {WEEK_START:%Y-%m-%d}; medians of {options.runs}",
            flush=True,
        )
        coordinator = User.objects.create_user("coordinator")
        coordinator.user_permissions.add(Permission.objects.get(codename="coordinate"))
        client = Client()
        client.force_login(coordinator)
        for count in (2, 100, 300):
            measure(client, agents[:count], options.runs, with_paged=not options.no_paged)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
