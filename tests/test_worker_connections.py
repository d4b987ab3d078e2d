"""A Celery worker keeps its PostgreSQL connection from one task to the next (issue 14: a new
connection is a server process started per pull), and never starts a task on a connection the
last task or the server broke. What a worker does around each task is run here as it runs it:
Celery's Django fixup before and after (`DjangoWorkerFixup.on_task_prerun/postrun`, with the
project's CELERY_DB_REUSE_MAX) and the `task_prerun` signal (which reaches helpdesk/celery.py).
The connection is told apart by its server process id (PostgreSQL's pg_backend_pid())."""

import psycopg
import pytest
from celery.fixups.django import DjangoWorkerFixup
from celery.signals import task_prerun
from django.db import connection

from helpdesk.celery import app
from integrations.tasks import prune_sync_log

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("Connection reuse is PostgreSQL's concern; SQLite opens a file.")


def run_task(fixup: DjangoWorkerFixup) -> int:
    """One task in a worker: the fixup's and the signal's turns around a query. Returns the id of
    the server process that answered."""
    task = prune_sync_log  # any of the project's tasks, outside eager mode (as a worker runs it)
    assert not task.request.is_eager
    fixup.on_task_prerun(task)
    task_prerun.send(sender=task, task_id="bench", task=task, args=(), kwargs={})
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    fixup.on_task_postrun(task)
    return pid


def other_session():
    db = connection.settings_dict
    return psycopg.connect(
        host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, user=db["USER"], password=db["PASSWORD"] or None,
        dbname=db["NAME"], autocommit=True,
    )  # fmt: skip


def test_the_next_task_uses_the_same_connection():
    fixup = DjangoWorkerFixup(app)

    first = run_task(fixup)

    assert [run_task(fixup) for _ in range(3)] == [first] * 3


def test_a_task_after_the_server_dropped_the_connection_gets_a_new_one():
    fixup = DjangoWorkerFixup(app)
    first = run_task(fixup)
    with other_session() as admin:  # the server ends it between two tasks (restart, idle timeout)
        admin.execute("SELECT pg_terminate_backend(%s)", [first])

    second = run_task(fixup)

    assert second != first
    assert run_task(fixup) == second
