"""How long a technician's iCalendar feed takes to build and to revalidate, against the bare
`.values()` fetch of the same rows (issue 14).

    .venv/bin/python bench/feed.py [--appointments 5000] [--series 50]

Runs in a throw-away test database (SQLite in memory, or test_<name> next to DATABASE_URL's),
puts the appointments (one-offs plus weekly series, a few occurrences moved or cancelled) on
one technician's calendar inside the feed window, and prints, side by side in one run (medians):
- reference: the bare `.values()` fetch of every row the feed is written from;
- full feed built from nothing (every cache cleared: each entry written again, by calendars.ical_text);
- the feed rebuilt after one entry changed (the other entries' fragments cached, issue 14);
- the whole body cached, and a phone's poll answered 304.
Prints figures; asserts nothing.
"""

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "1")

import django

django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, override_settings, setup_test_environment  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

from agents.models import Agent  # noqa: E402
from agents.services import renew_feed_token  # noqa: E402
from calendars import services  # noqa: E402
from calendars.models import Appointment, CalendarSettings  # noqa: E402
from calendars.selectors import _feed_querysets, feed_window  # noqa: E402


def bare_fetch(agent: Agent) -> int:
    """Every row the feed is written from, as plain values: the reference."""
    window = feed_window(CalendarSettings.load(), agent.zone)
    querysets = _feed_querysets([agent.pk], *window, include_external=False)
    return sum(len(list(queryset.values())) for queryset in (querysets.singles, querysets.series, querysets.exceptions))


def populate(agent: Agent, appointments: int, series: int) -> int:
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    for number in range(series):
        start = now - timedelta(days=30) + timedelta(days=number % 7, hours=number % 9)
        master = services.create_recurring_appointment(
            rule="FREQ=WEEKLY", agents=[agent], start=start, end=start + timedelta(hours=1), subject=f"Series {number}"
        )
        occurrences = list(master.occurrences.order_by("start")[:12])
        services.update_appointment(
            occurrences[5], start=occurrences[5].start + timedelta(hours=2), end=occurrences[5].end + timedelta(hours=2)
        )
        services.delete_appointment(occurrences[9])
    existing = Appointment.objects.count()
    singles = max(0, appointments - existing)
    span = timedelta(days=400).total_seconds()
    rows = []
    for number in range(singles):
        start = now - timedelta(days=55) + timedelta(seconds=int(span * number / max(singles, 1)))
        rows.append(
            Appointment(
                subject=f"Visit {number}",
                note="Bring the spare parts.\n" * 3,
                location="Main office",
                start=start,
                end=start + timedelta(minutes=45),
            )
        )
    created = Appointment.objects.bulk_create(rows, batch_size=2000)
    through = Appointment.agents.through
    through.objects.bulk_create([through(appointment_id=a.pk, agent_id=agent.pk) for a in created], batch_size=5000)
    return Appointment.objects.count()


def timed(
    client: Client, url: str, runs: int, *, cold: bool = False, before=None, **headers
) -> tuple[float, int, int, int]:
    durations, status, size, queries = [], 0, 0, 0
    for _ in range(runs):
        if cold:
            cache.clear()
        if before:
            before()
        with CaptureQueriesContext(connection) as captured:
            began = time.perf_counter()
            response = client.get(url, headers=headers)
            durations.append(time.perf_counter() - began)
        status, size, queries = response.status_code, len(response.content), len(captured.captured_queries)
    return statistics.median(durations), status, size, queries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--appointments", type=int, default=5_000)
    parser.add_argument("--series", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args()

    setup_test_environment()
    # A private in-process cache: clearing it between runs must not touch a shared Redis.
    # Room for one fragment per entry (locmem's default keeps 300).
    locmem = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "OPTIONS": {"MAX_ENTRIES": 100_000}}
    override_settings(CACHES={"default": locmem}).enable()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        user = User.objects.create_user("bench", email="bench@example.com", first_name="Bench")
        agent = Agent.objects.create(user=user)
        began = time.perf_counter()
        total = populate(agent, options.appointments, options.series)
        print(
            f"database: {connection.vendor}; {total} appointments ({options.series} weekly series) "
            f"made in {time.perf_counter() - began:.1f} s"
        )
        client = Client()
        url = reverse("feeds:agent", args=[renew_feed_token(agent)])
        client.get(url)
        durations = []
        rows = 0
        for _ in range(options.runs):
            began = time.perf_counter()
            rows = bare_fetch(agent)
            durations.append(time.perf_counter() - began)
        reference = statistics.median(durations)
        print(f"bare .values() fetch: {reference * 1000:8.1f} ms  {rows} rows")

        def ratio(seconds: float) -> str:
            return f"{seconds / reference:5.1f}x the fetch"

        seconds, status, size, queries = timed(client, url, options.runs, cold=True)
        print(
            f"full feed, from nothing: {seconds * 1000:8.0f} ms  {ratio(seconds)}  status {status}  "
            f"{size / 1e6:.1f} MB  {queries} queries"
        )
        one = Appointment.objects.filter(master__isnull=True, schedule__isnull=True).order_by("start").last()

        def change_one() -> None:
            services.update_appointment(one, subject=f"Visit changed {time.perf_counter()}")

        seconds, status, size, queries = timed(client, url, options.runs, before=change_one)
        print(
            f"full feed, one entry changed: {seconds * 1000:8.0f} ms  {ratio(seconds)}  status {status}  "
            f"{size / 1e6:.1f} MB  {queries} queries"
        )
        seconds, status, size, queries = timed(client, url, options.runs)
        print(
            f"full feed, body cached:    {seconds * 1000:8.1f} ms  {ratio(seconds)}  status {status}  "
            f"{size / 1e6:.1f} MB  {queries} queries"
        )
        etag = client.get(url)["ETag"]
        seconds, status, size, queries = timed(client, url, options.runs * 3, if_none_match=etag)
        print(f"poll with ETag (304): {seconds * 1000:8.1f} ms  status {status}  {size} bytes  {queries} queries")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
