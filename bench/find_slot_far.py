""" "Find a slot" for a busy team, searched a year ahead (calendars.availability.search_slots_for:
two weeks first, then twice as far each round), against one search over the whole year and a
bare fetch of the year's busy rows (the floor: what the database costs without any computing).

Two cases, any one of 20 technicians (four zones), an hour's work, five slots wanted:
- "free after 6 weeks": everyone is booked solid for six weeks, then has 2 entries a day;
- "never free": everyone is booked solid for the whole year: the search ends at the horizon.

Run: `.venv/bin/python bench/find_slot_far.py [technicians]`. Uses a throw-away test database on
whatever DATABASE_URL points to. Prints figures side by side (best of several runs, queries,
ratios); asserts nothing.
"""

import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

import django

django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.db import connection  # noqa: E402

from agents.models import Agent  # noqa: E402
from bench.availability import ZONES, bare_busy_rows, best, save_with_owners  # noqa: E402
from calendars.availability import Mode, Options, fetch_window, find_slots_for, search_slots_for  # noqa: E402
from calendars.models import Appointment, CalendarSettings  # noqa: E402

NOW = datetime(2030, 3, 4, 6, tzinfo=UTC)  # a Monday morning
HORIZON = NOW + timedelta(days=365)
OPTIONS = Options(duration=timedelta(hours=1), mode=Mode.ANY, limit=5)


def populate(technicians: int, solid_days: int) -> list[Agent]:
    """Each technician booked solid (00:00-24:00 UTC) for `solid_days`, then two 90-minute
    entries a day to the horizon: the rows a year of a busy team holds."""
    users = User.objects.bulk_create(User(username=f"tech{i}", first_name=f"Tech {i}") for i in range(technicians))
    agents = Agent.objects.bulk_create(
        Agent(user=user, time_zone=ZONES[i % len(ZONES)], feed_token=f"bench-{i}") for i, user in enumerate(users)
    )
    rows, owners = [], []
    first = NOW.replace(hour=0) - timedelta(days=7)
    for agent in agents:
        for day in range((HORIZON - first).days + 8):
            midnight = first + timedelta(days=day)
            if midnight < NOW + timedelta(days=solid_days):
                blocks = [(midnight, midnight + timedelta(days=1))]
            else:
                blocks = [(midnight + timedelta(hours=h), midnight + timedelta(hours=h, minutes=90)) for h in (9, 14)]
            for begin, end in blocks:
                rows.append(Appointment(subject="Job", start=begin, end=end, source=Appointment.Source.MANUAL))
                owners.append(agent.pk)
    save_with_owners(rows, owners)
    return agents


def measure(label: str, technicians: int, solid_days: int) -> None:
    Appointment.objects.all().delete()
    Agent.objects.all().delete()
    User.objects.all().delete()
    populate(technicians, solid_days)
    settings = CalendarSettings.load()
    ids = list(Agent.objects.values_list("pk", flat=True))
    window = fetch_window(NOW, HORIZON)

    def agents() -> list[Agent]:
        return list(Agent.objects.filter(pk__in=ids).select_related("user"))

    def bare():
        return bare_busy_rows(ids, window)

    def widening():
        return search_slots_for(agents(), start=NOW, horizon=HORIZON, options=OPTIONS, now=NOW, settings=settings)

    def whole_year():
        return find_slots_for(agents(), start=NOW, end=HORIZON, options=OPTIONS, now=NOW, settings=settings)

    floor, floor_queries, rows = best(bare)
    print(f"{label}: {technicians} technicians, {Appointment.objects.count()} appointments")
    print(f"{'bare busy rows, a year':>34}: {floor * 1000:8.1f} ms  {floor_queries} queries  {len(rows)} rows")
    elapsed, queries, found = best(widening)
    print(
        f"{'search, widening (14 d, 28 d, ...)':>34}: {elapsed * 1000:8.1f} ms  {queries} queries  "
        f"{len(found.slots)} slots, searched {(found.end - found.start).days} days  ratio {elapsed / floor:5.2f}x"
    )
    elapsed, queries, slots = best(whole_year)
    print(
        f"{'one search over the whole year':>34}: {elapsed * 1000:8.1f} ms  {queries} queries  "
        f"{len(slots)} slots  ratio {elapsed / floor:5.2f}x"
    )


def main() -> None:
    technicians = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        measure("free after 6 weeks", technicians, solid_days=42)
        measure("never free", technicians, solid_days=400)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
