"""The Celery app of `bench/poll_round.py`'s workers: the project's own app (helpdesk.celery) and
tasks, plus signal receivers that time each pull (wall and this process's CPU), count its SQL
statements and the time spent in them, and report them to a Redis list the benchmark reads
(BENCH_RESULTS_URL, BENCH_RESULTS_KEY). Measuring only: nothing here changes what a task does.

With BENCH_PROFILE_DIR set, each worker also runs cProfile over its tasks (prerun to postrun) and
writes `<dir>/<pid>.prof` when it shuts down; with BENCH_SQL_SAMPLE set, the first pull of each
worker reports its statements' text (the first 160 characters of each).

Started by the benchmark as `celery -A bench._poll_worker worker --pool solo ...`.
"""

import cProfile
import json
import os
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

import django

django.setup()

import logging  # noqa: E402

import redis  # noqa: E402
from celery.signals import task_postrun, task_prerun, worker_shutdown  # noqa: E402
from django.db import connection  # noqa: E402

from helpdesk.celery import app  # noqa: E402

# The benchmark waits for the worker's "ready." line, an INFO record, while LOG_LEVEL=WARNING keeps the
# tasks' own lines out of the timings: that one logger stays at INFO.
logging.getLogger("celery.apps.worker").setLevel(logging.INFO)

_results = redis.Redis.from_url(os.environ["BENCH_RESULTS_URL"])
_key = os.environ["BENCH_RESULTS_KEY"]
_running: dict[str, tuple[float, float, float, "_Counter"]] = {}
_profile_dir = os.environ.get("BENCH_PROFILE_DIR", "")
_profiler = cProfile.Profile() if _profile_dir else None
_sample_sql = bool(os.environ.get("BENCH_SQL_SAMPLE"))


class _Counter:
    """A database execute wrapper (Django's documented instrumentation hook) that counts statements
    and the wall time spent in them, and keeps their text when asked."""

    def __init__(self, keep: bool = False) -> None:
        self.count = 0
        self.seconds = 0.0
        self.statements: list[str] | None = [] if keep else None

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        if self.statements is not None:
            self.statements.append(sql[:160])
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - began


@task_prerun.connect
def _started(task_id=None, **_):
    global _sample_sql
    counter = _Counter(keep=_sample_sql)
    _sample_sql = False
    connection.execute_wrappers.append(counter)
    _running[task_id] = (time.time(), time.perf_counter(), time.process_time(), counter)
    if _profiler is not None:
        _profiler.enable()


@task_postrun.connect
def _finished(task_id=None, task=None, args=None, retval=None, state=None, **_):
    if _profiler is not None:
        _profiler.disable()
    wall, began, cpu, counter = _running.pop(task_id)
    connection.execute_wrappers.remove(counter)
    record = {
        "task": task.name,
        "calendar": args[0] if args else None,
        "started": wall,
        "finished": time.time(),
        "seconds": time.perf_counter() - began,
        "cpu": time.process_time() - cpu,
        "sql": counter.count,
        "sql_seconds": counter.seconds,
        "state": state,
        "result": str(retval)[:200],
        "worker": f"{socket.gethostname()}:{os.getpid()}",
    }
    if counter.statements is not None:
        record["statements"] = counter.statements
    _results.rpush(_key, json.dumps(record))


@worker_shutdown.connect
def _dump_profile(**_):
    if _profiler is not None:
        _profiler.dump_stats(os.path.join(_profile_dir, f"{os.getpid()}.prof"))


__all__ = ["app"]
