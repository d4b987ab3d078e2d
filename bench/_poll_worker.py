"""The Celery app of `bench/poll_round.py`'s workers: the project's own app (helpdesk.celery) and
tasks, plus signal receivers that time each pull and count its SQL statements, and report them to a
Redis list the benchmark reads (BENCH_RESULTS_URL, BENCH_RESULTS_KEY). Measuring only: nothing
here changes what a task does.

Started by the benchmark as `celery -A bench._poll_worker worker --pool solo ...`.
"""

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

import redis  # noqa: E402
from celery.signals import task_postrun, task_prerun  # noqa: E402
from django.db import connection  # noqa: E402

from helpdesk.celery import app  # noqa: E402

_results = redis.Redis.from_url(os.environ["BENCH_RESULTS_URL"])
_key = os.environ["BENCH_RESULTS_KEY"]
_running: dict[str, tuple[float, float, "_Counter"]] = {}


class _Counter:
    """A database execute wrapper that counts statements (Django's documented instrumentation hook)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


@task_prerun.connect
def _started(task_id=None, **_):
    counter = _Counter()
    connection.execute_wrappers.append(counter)
    _running[task_id] = (time.time(), time.perf_counter(), counter)


@task_postrun.connect
def _finished(task_id=None, task=None, args=None, retval=None, state=None, **_):
    wall, began, counter = _running.pop(task_id)
    connection.execute_wrappers.remove(counter)
    record = {
        "task": task.name,
        "calendar": args[0] if args else None,
        "started": wall,
        "finished": time.time(),
        "seconds": time.perf_counter() - began,
        "sql": counter.count,
        "state": state,
        "result": str(retval)[:200],
        "worker": f"{socket.gethostname()}:{os.getpid()}",
    }
    _results.rpush(_key, json.dumps(record))


__all__ = ["app"]
