"""What a pull of many changed and deleted entries costs, against a bare fetch of the same rows
(issue 14).

Starts a real Radicale in its own process, gives one technician (import on) N plain entries
(default 2000) written straight into Radicale's store, and imports them with a first pull. Then
half of them are changed (a new subject, an hour later) and the other half deleted, in the store
again, and Radicale reads the store once (its own cost, not measured). The pull that brings
those changes in is measured: wall seconds, this process's CPU seconds (Radicale runs in its own
process, so its work is not in them) and SQL statements. Beside it, the bare fetch of the same
rows: the changed appointments and all N links as `.values()`, median of 5.

Uses a throw-away test database on whatever DATABASE_URL points to (SQLite by default). Prints
figures; asserts nothing. Run: `.venv/bin/python bench/pull_changes.py [entries]`
"""

import logging
import os
import statistics
import sys
import time
from datetime import UTC, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
os.environ["CELERY_TASK_ALWAYS_EAGER"] = "1"

import django

django.setup()

from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench._radicale_store import radicale_store  # noqa: E402
from calendars.models import Appointment  # noqa: E402
from integrations.models import AgentCalendar, SyncLink  # noqa: E402
from integrations.sync import engine  # noqa: E402

FMT = "%Y%m%dT%H%M%SZ"


def vevent(uid: str, start, summary: str) -> str:
    end = start + timedelta(minutes=45)
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Bench//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:{timezone.now().strftime(FMT)}\r\n"
        f"DTSTART:{start.astimezone(UTC).strftime(FMT)}\r\nDTEND:{end.astimezone(UTC).strftime(FMT)}\r\n"
        f"SUMMARY:{summary}\r\nLOCATION:Street {uid[-2:]}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )


class Statements:
    """Counts the SQL statements this process sends (a wrapper on the connection: no query log)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def measured(work):
    """(wall seconds, CPU seconds of this process, SQL statements, result) of work()."""
    counter = Statements()
    with connection.execute_wrapper(counter):
        wall, cpu = time.perf_counter(), time.process_time()
        result = work()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return wall, cpu, counter.count, result


def main() -> None:
    logging.disable(logging.WARNING)
    entries = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    half = entries // 2
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        with radicale_store() as radicale:
            agent_calendar, store = radicale.technician_calendar("tech")
            start = timezone.now().replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
            moments = [start + timedelta(hours=n % 2000, days=n // 2000) for n in range(entries)]
            for n, moment in enumerate(moments):
                (store / f"e-{n:05d}.ics").write_text(vevent(f"e-{n:05d}", moment, f"Visit {n}"), newline="")
            radicale.read_once(agent_calendar)
            report = engine.sync_agent_calendar(AgentCalendar.objects.get(pk=agent_calendar.pk), pull=True)
            print(f"{entries} entries imported (pulled {report.pulled}, failed {report.failed})", flush=True)

            for n in range(half):
                moved = moments[n] + timedelta(hours=1)
                (store / f"e-{n:05d}.ics").write_text(vevent(f"e-{n:05d}", moved, f"Changed {n}"), newline="")
            for n in range(half, entries):
                (store / f"e-{n:05d}.ics").unlink()
            radicale.read_once(agent_calendar)
            ids = list(Appointment.objects.filter(subject__startswith="Visit ").values_list("pk", flat=True)[:half])

            wall, cpu, sql, report = measured(
                lambda: engine.sync_agent_calendar(AgentCalendar.objects.get(pk=agent_calendar.pk), pull=True)
            )
            changed = Appointment.objects.filter(subject__startswith="Changed ").count()
            print(
                f"pull of {half} changed + {entries - half} deleted entries: pulled {report.pulled}, failed "
                f"{report.failed}; {changed} appointments changed, {Appointment.objects.count()} left"
            )

            def bare_fetch():
                rows = list(Appointment.objects.filter(pk__in=ids).values())
                rows += list(SyncLink.objects.filter(agent_calendar=agent_calendar).values())
                return rows

            fetches = [measured(bare_fetch) for _ in range(5)]
            f_wall = statistics.median(f[0] for f in fetches)
            f_cpu = statistics.median(f[1] for f in fetches)
            f_sql = fetches[0][2]
            print(f"\n{'':34}{'wall s':>9}{'CPU s':>9}{'SQL':>8}")
            print(f"{'pull (HTTP included in wall)':34}{wall:>9.3f}{cpu:>9.3f}{sql:>8}")
            print(f"{'bare .values() of the same rows':34}{f_wall:>9.3f}{f_cpu:>9.3f}{f_sql:>8}")
            print(f"{'ratio':34}{wall / f_wall:>9.1f}{cpu / f_cpu:>9.1f}{sql / f_sql:>8.1f}")
            print(f"database: {connection.vendor}; load average {os.getloadavg()[0]:.2f}")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
