import os

from celery import Celery
from celery.signals import task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

app = Celery("helpdesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


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
