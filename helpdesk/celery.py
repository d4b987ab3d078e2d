import os

from celery import Celery
from celery.signals import setup_logging, task_prerun, worker_ready

from helpdesk import broker

# The settings' default broker URL (`helpdesk-filesystem://`) names the transport of helpdesk/broker.py.
broker.register()
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

app = Celery("helpdesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def _project_logging(**_) -> None:
    """Worker and beat log through the project's LOGGING (UTC, zone shown: helpdesk/logs.py)
    instead of Celery's own format on the process's local clock."""
    import logging.config

    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)


@task_prerun.connect
def _connections_fit_for_reuse(sender=None, **_) -> None:
    """Before a task in a worker, what Django does before a request: a database connection kept
    from the last task (CELERY_DB_REUSE_MAX) is closed when it is older than CONN_MAX_AGE or saw an
    error it does not survive, and pinged before its first use (CONN_HEALTH_CHECKS), so a task
    never starts on a connection the last one broke. Eager tasks run inside the caller's
    transaction, whose connection is the caller's business."""
    if getattr(getattr(sender, "request", None), "is_eager", False):
        return
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        connection.close_if_unusable_or_obsolete()


@worker_ready.connect
def _push_what_waits(**_) -> None:
    """A worker that starts (again, after one was killed) queues the pushes of every calendar with
    changes not yet sent (integrations.services.queue_pending_pushes): nothing waits for the poll."""
    import logging

    from django.db import connections

    from integrations import services

    try:
        queued = services.queue_pending_pushes()
    except Exception:  # a worker must start even when the database is not there yet
        logging.getLogger(__name__).warning("Could not queue the pending pushes at start", exc_info=True)
        return
    finally:
        # In a prefork worker this is the main process, which runs no task: no connection is kept
        # open there for the worker's life (review F9); elsewhere the next query opens one again.
        # One inside a transaction (a caller's, a test's) is not ours to close.
        for connection in connections.all(initialized_only=True):
            if not connection.in_atomic_block:
                connection.close()
    if queued:
        logging.getLogger(__name__).info(
            "Worker ready: queued the pushes of %d calendar(s) with changes waiting", queued
        )
