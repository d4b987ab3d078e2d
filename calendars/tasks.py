from smtplib import SMTPException

from celery import shared_task

# The project's configured app, current before any task here is queued: `helpdesk` loads it on
# first use only (helpdesk/__init__.py), and a process that queues work must send it to its broker.
import helpdesk.celery  # noqa: F401
from calendars import services


@shared_task
def extend_recurring_appointments() -> int:
    """Keep a year of occurrences materialised ahead of every recurring series."""
    return services.extend_recurring_appointments()


@shared_task(
    autoretry_for=(OSError, SMTPException),
    retry_backoff=30,
    retry_backoff_max=30 * 60,
    retry_jitter=True,
    max_retries=8,
)
def send_appointment_notice(notice: dict) -> int:
    """E-mail one technician about an appointment (S3.11); retried while the mail server is away.
    One e-mail per task, so a retry never sends another technician's e-mail twice."""
    from calendars.notifications import Notice, send_notices

    return send_notices([Notice.from_dict(notice)])
