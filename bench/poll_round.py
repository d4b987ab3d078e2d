"""A poll round at scale: N technicians (default 1,000), each with a CalDAV calendar on one real
Radicale, synced by W real Celery worker processes (default 2) on PostgreSQL + Redis (issue 14).

Seeds a throw-away database (`test_<name>` of --database-url; made and dropped here), starts Radicale
on loopback with a calendar of --events entries per technician (with Radicale's item cache and change
history as after another client's PUTs; --cold-server leaves them for round 1 to fill), starts the workers
(`celery -A bench._poll_worker worker --pool solo`, the project's own tasks with timing hooks),
then runs the rounds:

  1. first pull: every calendar listed in full and its entries imported (no sync token yet);
  2. unchanged pull: every calendar asked what changed since (its sync token), nothing did;
  3. (with --changes P) P % of the calendars have one entry edited by another client first.

Each round is queued the way the beat queues it. `--mode burst` (default) queues every pull at
once, the worst case (the thundering herd the schedule avoids): the round's duration is the
workers' capacity. `--mode spread` runs the real beat step (`services.queue_poll_round`), each pull
at its slot within the interval; the round then spans about one interval and the figure to read
is how late pulls finish after their slot.

Prints per round: duration against the default pull interval (SYNC_PULL_SECONDS, 300 s), per-pull
p50/p95 in the worker (wall and the worker's CPU, and the wall time inside SQL statements), CalDAV
requests and Radicale's CPU per request, SQL statements per pull, worker busy share. Asserts nothing.
--profile DIR writes each worker's cProfile of its tasks; --sql-sample prints one pull's statements.

Run (PostgreSQL and Redis on loopback; uses Redis db 7 by default):
  .venv/bin/python bench/poll_round.py [--technicians 1000] [--workers 2] [--events 20] \\
      [--changes 10] [--mode burst|spread] [--interval 300] [--cold-server] [--profile DIR] [--sql-sample] \\
      [--database-url postgres://postgres@127.0.0.1:5432/i14ops] [--redis-url redis://127.0.0.1:6379/7]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--technicians", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2, help="Celery worker processes (one task at a time each)")
    parser.add_argument("--events", type=int, default=20, help="entries in each technician's calendar")
    parser.add_argument("--changes", type=float, default=10, help="%% of calendars with one entry edited (round 3)")
    parser.add_argument("--mode", choices=("burst", "spread"), default="burst")
    parser.add_argument("--interval", type=int, default=None, help="pull interval, s (default: SYNC_PULL_SECONDS)")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/i14ops")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/7")
    parser.add_argument(
        "--cold-server",
        action="store_true",
        help="leave Radicale's item cache and change history cold (it then reads every seeded file in round 1)",
    )
    parser.add_argument("--profile", metavar="DIR", default="", help="each worker writes DIR/<pid>.prof (cProfile)")
    parser.add_argument("--sql-sample", action="store_true", help="print the statements of one first-round pull")
    return parser.parse_args()


ARGS = _arguments()
os.environ["DJANGO_SETTINGS_MODULE"] = "helpdesk.settings"
os.environ["DATABASE_URL"] = ARGS.database_url
os.environ["REDIS_URL"] = ARGS.redis_url
os.environ["CELERY_BROKER_URL"] = ARGS.redis_url
os.environ["CELERY_TASK_ALWAYS_EAGER"] = "0"

import django  # noqa: E402

django.setup()

import redis  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402
from django_celery_beat.models import IntervalSchedule, PeriodicTask  # noqa: E402

from agents.models import Agent  # noqa: E402
from helpdesk.celery import app  # noqa: E402
from integrations import selectors, services  # noqa: E402
from integrations.models import AgentCalendar  # noqa: E402
from integrations.providers.caldav import CalDAVProvider  # noqa: E402
from integrations.sync.schedule import pull_delay  # noqa: E402
from integrations.tasks import pull_agent_calendar  # noqa: E402
from tests.peers.radicale import _QuietHandler, start_radicale  # noqa: E402

RESULTS_KEY = f"bench:poll_round:{uuid.uuid4().hex}"
requests_seen = 0
_count_lock = threading.Lock()


class _CountingHandler(_QuietHandler):
    def handle(self):
        global requests_seen
        with _count_lock:
            requests_seen += 1
        super().handle()


def _event(uid: str, start: datetime, summary: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//poll round//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:{stamp}\r\nDTSTART:{start:%Y%m%dT%H%M%SZ}\r\n"
        f"DTEND:{start + timedelta(hours=1):%Y%m%dT%H%M%SZ}\r\nSUMMARY:{summary}\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def _seed(server, technicians: int, events: int) -> tuple[list[int], list[Path]]:
    """Technicians, their Radicale calendars (made over CalDAV, entries written to Radicale's own
    storage as another client's would be) and their connected AgentCalendars, in bulk."""
    conn = services.add_connection(
        name="Radicale", kind="caldav", url=server.url, username="helpdesk", secret="pw",
        options={"calendar_home": "/{user}/"},
    )  # fmt: skip
    provider = CalDAVProvider(server.url, "helpdesk", "pw", calendar_home="/{user}/")
    users = User.objects.bulk_create(
        [User(username=f"tech{n}", email=f"tech{n}@example.com") for n in range(technicians)]
    )
    agents = Agent.objects.bulk_create([Agent(user=user, import_external=True) for user in users])
    first = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
    folders, calendars = [], []
    for agent in agents:
        remote = provider.make_calendar(f"{agent.user.username}@example.com", "work")
        folder = server.folder / "collections" / "collection-root" / agent.user.username / "work"
        for n in range(events):
            uid = f"{agent.user.username}-{n}@bench"
            (folder / f"{uid}.ics").write_text(_event(uid, first + timedelta(days=n % 28, hours=n // 28), f"Visit {n}"))
        folders.append(folder)
        calendars.append(AgentCalendar(agent=agent, connection=conn, calendar_id=remote.calendar_id))
    AgentCalendar.objects.bulk_create(calendars)
    if not ARGS.cold_server:
        _as_if_put(server, [agent.user.username for agent in agents])
    return list(AgentCalendar.objects.order_by("pk").values_list("pk", flat=True)), folders


def _as_if_put(server, users: list[str]) -> None:
    """Radicale's state as after each entry's PUT by another client: the files above are written
    behind its back for speed, so its storage is asked for each item once, which stores the item
    cache and the change history that its PUT (storage `upload`) stores. Without this, round 1
    would also time Radicale parsing and caching 20,000 files it would have cached on their PUTs."""
    storage = server._server.get_app()._storage
    with storage.acquire_lock("w", "helpdesk"):
        for user in users:
            collection = next(iter(storage.discover(f"/{user}/work/")))
            for item in collection.get_all():
                collection._update_history_etag(item.href, item)


def _start_workers(count: int, database_url: str) -> list[subprocess.Popen]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "BENCH_RESULTS_URL": ARGS.redis_url,
        "BENCH_RESULTS_KEY": RESULTS_KEY,
        "LOG_LEVEL": "WARNING",
        "BENCH_PROFILE_DIR": ARGS.profile,
        "BENCH_SQL_SAMPLE": "1" if ARGS.sql_sample else "",
    }
    workers = []
    for n in range(count):
        command = [sys.executable, "-m", "celery", "-A", "bench._poll_worker", "worker", "--pool", "solo",
                   "--hostname", f"bench{n}@%h", "--loglevel", "INFO", "--without-mingle",
                   "--without-gossip"]  # fmt: skip
        workers.append(
            subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        )
    for worker in workers:  # wait for "ready" so start-up is not counted in the first round
        deadline = time.monotonic() + 60
        for line in worker.stdout:
            if " ready." in line:
                break
            if time.monotonic() > deadline:
                raise RuntimeError("A Celery worker did not start within a minute.")
        threading.Thread(target=lambda w=worker: [None for _ in w.stdout], daemon=True).start()  # drain
    return workers


def _percentile(values: list[float], share: float) -> float:
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(share * 100) - 1]


def _round(label: str, ids: list[int], interval: int, results: redis.Redis) -> None:
    global requests_seen
    results.delete(RESULTS_KEY)
    with _count_lock:
        requests_seen = 0
    began = time.time()
    server_cpu = time.process_time()  # this process: Radicale's threads (and this loop, asleep)
    if ARGS.mode == "burst":
        for pk in ids:
            pull_agent_calendar.delay(pk)
        queued = len(ids)
    else:
        tick = timezone.now()
        queued = services.queue_poll_round(tick)
    pulls: dict[int, dict] = {}  # the final run of each calendar's pull
    retried: list[dict] = []  # runs that asked to be retried (their retry reports again)
    others: list[dict] = []
    deadline = time.monotonic() + max(3 * interval, 600)
    while len(pulls) < queued and time.monotonic() < deadline:
        for raw in results.lpop(RESULTS_KEY, 1000) or []:
            record = json.loads(raw)
            if record["task"] != pull_agent_calendar.name:
                others.append(record)  # e.g. a push queued by a change, or one from an earlier round
            elif record["state"] == "RETRY":
                retried.append(record)
            else:
                pulls[record["calendar"]] = record
        time.sleep(0.2)
    done = [r for r in pulls.values() if r["state"] == "SUCCESS"]
    failed = [r for r in pulls.values() if r["state"] != "SUCCESS"]
    duration = max(r["finished"] for r in done) - began
    server_cpu = time.process_time() - server_cpu
    seconds = [r["seconds"] for r in done]
    cpu = [r["cpu"] for r in done]
    sql = [r["sql"] for r in done]
    busy = sum(seconds) / (ARGS.workers * duration)
    print(f"\n{label}: {len(done)} of {queued} pulls done, {len(failed)} failed, {len(retried)} runs retried")
    for record in (failed + retried)[:3]:
        print(f"  e.g. {record['state']}: {record['result']}")
    if others:
        print(f"  other tasks run meanwhile: {len(others)} ({', '.join(sorted({r['task'] for r in others}))})")
    which = "interval" if ARGS.interval else "default interval"
    print(f"  round duration {duration:8.1f} s   {which} {interval} s   ratio {duration / interval:.3f}")
    p50, p95 = _percentile(seconds, 0.5) * 1000, _percentile(seconds, 0.95) * 1000
    print(f"  per pull        p50 {p50:7.1f} ms   p95 {p95:7.1f} ms   max {max(seconds) * 1000:7.1f} ms")
    print(f"  worker CPU      p50 {_percentile(cpu, 0.5) * 1000:7.1f} ms   p95 {_percentile(cpu, 0.95) * 1000:7.1f} ms"
          f"   in SQL (wall) mean {statistics.fmean(r['sql_seconds'] for r in done) * 1000:.1f} ms")  # fmt: skip
    print(f"  CalDAV requests {requests_seen:8d}   per pull {requests_seen / max(len(done), 1):.2f}   "
          f"Radicale CPU per request {server_cpu / max(requests_seen, 1) * 1000:.1f} ms")  # fmt: skip
    for record in [r for r in done if "statements" in r][:1]:
        print("  statements of one pull:\n    " + "\n    ".join(record["statements"]))
    print(f"  SQL per pull    p50 {statistics.median(sql):7.0f}   p95 {_percentile(sql, 0.95):7.0f}   "
          f"mean {statistics.fmean(sql):7.1f}   total {sum(sql)}")  # fmt: skip
    print(f"  workers busy    {busy:8.1%} of {ARGS.workers} x {duration:.1f} s   "
          f"load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")  # fmt: skip
    if ARGS.mode == "burst":
        print(f"  capacity        ~{int(len(done) * interval / duration)} calendars per {interval} s interval")
    else:
        late = [r["finished"] - (tick.timestamp() + pull_delay(r["calendar"], interval, tick)) for r in done]
        print(f"  after its slot  p50 {statistics.median(late):.2f} s   max {max(late):.2f} s (queue to finish)")
        # Spread, the round spans the interval by design; what must hold is that each pull is done
        # before the calendar's next slot, one interval after this one.
        print(f"  every pull done before its next slot: {'yes' if max(late) < interval else 'NO'}")


def _edit_some(folders: list[Path], share: float) -> int:
    step = max(1, round(100 / share)) if share > 0 else 0
    edited = 0
    for folder in folders[::step] if step else []:
        item = next(folder.glob("*-0@bench.ics"))
        item.write_text(item.read_text().replace("SUMMARY:Visit 0", "SUMMARY:Visit 0 (moved by phone)"))
        edited += 1
    return edited


def main() -> None:
    logging.disable(logging.WARNING)
    default_interval = int(settings.CELERY_BEAT_SCHEDULE["sync-calendars"]["schedule"])
    interval = ARGS.interval or default_interval
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    db = connection.settings_dict
    database_url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    results = redis.Redis.from_url(ARGS.redis_url)
    workers: list[subprocess.Popen] = []
    with tempfile.TemporaryDirectory() as folder:
        server = start_radicale(Path(folder), {"helpdesk": "pw"})
        server._server.RequestHandlerClass = _CountingHandler
        try:
            began = time.perf_counter()
            ids, folders = _seed(server, ARGS.technicians, ARGS.events)
            every = IntervalSchedule.objects.create(every=interval, period=IntervalSchedule.SECONDS)
            PeriodicTask.objects.create(name="sync-calendars", task=selectors.SYNC_ALL_TASK, interval=every)
            with app.connection_for_write() as conn:
                conn.default_channel.queue_purge("celery")
            print(
                f"{ARGS.technicians} technicians x {ARGS.events} entries on one Radicale (loopback), "
                f"{connection.vendor} + Redis ({ARGS.redis_url}), {ARGS.workers} Celery worker processes (solo pool), "
                f"mode {ARGS.mode}, interval {interval} s; seeded in {time.perf_counter() - began:.0f} s"
            )
            workers = _start_workers(ARGS.workers, database_url)
            _round("round 1, first pull (full listing, entries imported)", ids, interval, results)
            _round("round 2, unchanged pull", ids, interval, results)
            if ARGS.changes:
                edited = _edit_some(folders, ARGS.changes)
                _round(f"round 3, {edited} calendars with one entry edited elsewhere", ids, interval, results)
        finally:
            for worker in workers:
                worker.terminate()
            for worker in workers:
                try:
                    worker.wait(15)
                except subprocess.TimeoutExpired:
                    worker.kill()
            results.delete(RESULTS_KEY)
            server.stop()
            connection.close()
            connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
