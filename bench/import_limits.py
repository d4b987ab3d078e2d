"""What one calendar full of entries, hostile ones among them, costs one pull (issue 11).

Starts a real Radicale on loopback, gives one technician (import on) N plain entries (default
2000) and, in a second calendar, the same N plus the hostile ones of issue 11: an endless
FREQ=MINUTELY and FREQ=SECONDLY series, FREQ=HOURLY;COUNT=1000000 and a 5 MB DESCRIPTION.
Pulls each calendar once (the first, full listing) and once more (nothing changed), and prints,
side by side with the plain calendar as the reference: seconds, appointment rows, peak Python
memory during the pull (tracemalloc) and the process's peak resident memory. Uses a throw-away
test database on whatever DATABASE_URL points to. Prints figures; asserts nothing.

Radicale runs in its own process (`start_radicale_process`): in this process tracemalloc would
trace, and slow down, the server's allocations too (the run that never finished: Radicale's first
read of a COUNT=1000000 series under tracemalloc outlasted the client's timeout, and each retry
started the same read again). Radicale's own first read of new files (it expands the series to
index them, tens of seconds for the million) is the server's cost: one unmeasured listing warms
its cache before the pulls are measured.

Run: `.venv/bin/python bench/import_limits.py [entries]`
"""

import logging
import os
import resource
import sys
import time
import tracemalloc
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
from integrations.models import AgentCalendar, SyncLogEntry  # noqa: E402
from integrations.sync import engine  # noqa: E402

FMT = "%Y%m%dT%H%M%SZ"


def vevent(uid: str, start, summary: str, lines: str = "") -> str:
    end = start + timedelta(minutes=45)
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Bench//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:{timezone.now().strftime(FMT)}\r\n"
        f"DTSTART:{start.astimezone(UTC).strftime(FMT)}\r\nDTEND:{end.astimezone(UTC).strftime(FMT)}\r\n"
        f"SUMMARY:{summary}\r\n{lines}END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def fill(folder: Path, entries: int, start, *, hostile: bool) -> None:
    """Objects written straight into Radicale's file store (a PUT each costs Radicale time that
    grows with the collection); Radicale reads them as if they had been sent."""
    for number in range(entries):
        moment = start + timedelta(hours=number % 2000, days=number // 2000)
        (folder / f"plain-{number}.ics").write_text(vevent(f"plain-{number}", moment, f"Visit {number}"), newline="")
    if hostile:
        for uid, lines in (
            ("minutely", "RRULE:FREQ=MINUTELY\r\n"),
            ("secondly", "RRULE:FREQ=SECONDLY\r\n"),
            ("million", "RRULE:FREQ=HOURLY;COUNT=1000000\r\n"),
            ("huge", "DESCRIPTION:" + "0123456789" * (5 * 1024 * 1024 // 10) + "\r\n"),
        ):
            (folder / f"{uid}.ics").write_text(vevent(uid, start, uid.title(), lines), newline="")


def pull(agent_calendar: AgentCalendar) -> dict:
    agent_calendar.refresh_from_db()
    tracemalloc.start()
    began = time.perf_counter()
    report = engine.sync_agent_calendar(agent_calendar, pull=True)
    seconds = time.perf_counter() - began
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {
        "seconds": seconds,
        "rows": Appointment.objects.filter(agents=agent_calendar.agent).count(),
        "plain imported": Appointment.objects.filter(agents=agent_calendar.agent, subject__startswith="Visit ").count(),
        "peak MiB": peak / 1024 / 1024,
        "failed": report.failed,
        "log lines": SyncLogEntry.objects.filter(agent_calendar=agent_calendar).count(),
    }


def main() -> None:
    logging.disable(logging.WARNING)
    entries = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        with radicale_store() as radicale:
            start = timezone.now().replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
            results = {}
            for name, hostile in (("plain (reference)", False), ("with hostile", True)):
                username = name.split()[0] + "-tech"
                agent_calendar, store = radicale.technician_calendar(username)
                began = time.perf_counter()
                fill(store, entries, start, hostile=hostile)
                radicale.read_once(agent_calendar)
                print(
                    f"{name}: {entries} entries written to Radicale's store and read once by it"
                    f" in {time.perf_counter() - began:.1f} s",
                    flush=True,
                )
                results[name] = (pull(agent_calendar), pull(agent_calendar))
            reference, hostile = results["plain (reference)"], results["with hostile"]
            print(f"\n{'':30}{'reference':>12}{'hostile':>12}{'ratio':>8}")
            for label, index in (("first pull", 0), ("unchanged pull", 1)):
                for key in ("seconds", "rows", "plain imported", "peak MiB", "failed", "log lines"):
                    a, b = reference[index][key], hostile[index][key]
                    ratio = f"{b / a:.2f}" if a else "-"
                    print(f"{label + ' ' + key:30}{a:>12.1f}{b:>12.1f}{ratio:>8}")
            maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"\nprocess peak resident memory: {maxrss:.0f} MiB (both calendars; Radicale in its own process)")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
