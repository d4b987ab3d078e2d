"""How long a four-week, 100-technician availability query takes, against a bare fetch of the
same busy rows (the floor: what the database costs without any computing).

Run: `.venv/bin/python bench/availability.py [appointments per technician per working day]`.
Uses a throw-away test database on whatever DATABASE_URL points to. Prints figures side by side
(best of several runs, and the ratio); asserts nothing.
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
from calendars.availability import Mode, Options, fetch_window, find_slots_for  # noqa: E402
from calendars.models import Appointment, CalendarSettings  # noqa: E402

ZONES = [ZoneInfo(name) for name in ("Europe/Amsterdam", "Europe/London", "America/New_York", "Asia/Kolkata")]
TECHNICIANS = 100
START = datetime(2030, 3, 4, tzinfo=ZoneInfo("UTC"))  # a Monday, four weeks with a DST change in them
END = START + timedelta(days=28)
RUNS = 3


def populate(per_day: int) -> list[Agent]:
    users = User.objects.bulk_create(User(username=f"tech{i}", first_name=f"Tech {i}") for i in range(TECHNICIANS))
    agents = Agent.objects.bulk_create(
        Agent(user=user, time_zone=ZONES[i % len(ZONES)], feed_token=f"bench-{i}", holiday_country="NL")
        for i, user in enumerate(users)
    )
    rows, owners = [], []
    first = START - timedelta(days=7)
    for index, agent in enumerate(agents):
        for day in range(42):
            for n in range(per_day):
                begin = first + timedelta(days=day, hours=8 + 2 * n, minutes=(index * 15) % 60)
                rows.append(
                    Appointment(
                        subject="Job",
                        start=begin,
                        end=begin + timedelta(minutes=90),
                        source=Appointment.Source.EXTERNAL if n % 3 == 2 else Appointment.Source.MANUAL,
                    )
                )
                owners.append(agent.pk)
    save_with_owners(rows, owners)
    return agents


def save_with_owners(rows: list[Appointment], owners: list[int]) -> None:
    """Bulk-save appointments, each on the technician (Agent id) at the same place in `owners`."""
    rows = Appointment.objects.bulk_create(rows, batch_size=5000)
    through = Appointment.agents.through
    through.objects.bulk_create(
        (through(appointment_id=row.pk, agent_id=owner) for row, owner in zip(rows, owners, strict=True)),
        batch_size=5000,
    )


def bare_busy_rows(ids: list[int], window: tuple[datetime, datetime]) -> list[dict]:
    """The busy rows of these technicians in `window`: the same filter as
    calendars.selectors.busy_rows, written out (the floor the benchmarks compare with)."""
    return list(
        Appointment.agents.through.objects.filter(
            agent_id__in=ids,
            appointment__start__lt=window[1],
            appointment__end__gt=window[0],
            appointment__busy=True,
            appointment__is_cancelled=False,
            appointment__schedule__isnull=True,
        ).values("agent_id", "appointment__start", "appointment__end", "appointment__source")
    )


def best(run) -> tuple[float, int, object]:
    times, result, queries = [], None, 0
    for _ in range(RUNS):
        with CaptureQueriesContext(connection) as captured:
            began = time.perf_counter()
            result = run()
            times.append(time.perf_counter() - began)
        queries = len(captured)
    return min(times), queries, result


def main() -> None:
    per_day = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        began = time.perf_counter()
        populate(per_day)
        settings = CalendarSettings.load()
        print(f"populated {Appointment.objects.count()} appointments, {TECHNICIANS} technicians in "
              f"{time.perf_counter() - began:.1f} s; four weeks from {START:%Y-%m-%d}")  # fmt: skip
        ids = list(Agent.objects.values_list("pk", flat=True))
        window = fetch_window(START, END)

        def bare():
            return bare_busy_rows(ids, window)

        def availability(mode):
            def run():
                agents = list(Agent.objects.filter(pk__in=ids).select_related("user"))
                options = Options(duration=timedelta(hours=1), mode=mode, buffer=timedelta(minutes=15), limit=500)
                return find_slots_for(agents, start=START, end=END, options=options, now=START, settings=settings)

            return run

        floor, floor_queries, rows = best(bare)
        print(f"{'bare .values() busy rows':>32}: {floor * 1000:8.1f} ms  {floor_queries} queries  {len(rows)} rows")
        for mode in (Mode.TOGETHER, Mode.ANY):
            elapsed, queries, slots = best(availability(mode))
            print(
                f"{'availability, ' + mode.value:>32}: {elapsed * 1000:8.1f} ms  {queries} queries  "
                f"{len(slots)} slots  ratio {elapsed / floor:5.1f}x"
            )
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
