from celery import shared_task

from calendars import services


@shared_task
def extend_recurring_appointments() -> int:
    """Keep a year of occurrences materialised ahead of every recurring series."""
    return services.extend_recurring_appointments()
