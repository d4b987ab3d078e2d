"""The weekly series every connector's sync suite pushes, and the helpdesk's side of it."""

from datetime import timedelta

from calendars import services as calendar_services
from calendars.models import Appointment

HOUR = timedelta(hours=1)


def make_weekly_series(agent, start, capture_on_commit):
    """A weekly series of six in the helpdesk, its second occurrence moved, its third cancelled, each
    change committed (so pushed) on its own. Returns the master."""
    with capture_on_commit(execute=True):
        master = calendar_services.create_recurring_appointment(
            rule="RRULE:FREQ=WEEKLY;COUNT=6", agents=[agent], start=start, end=start + HOUR, subject="Weekly check"
        )
    occurrences = list(master.occurrences.order_by("original_start"))
    with capture_on_commit(execute=True):
        calendar_services.update_appointment(
            occurrences[1], start=occurrences[1].start + 3 * HOUR, end=occurrences[1].end + 3 * HOUR
        )
    with capture_on_commit(execute=True):
        calendar_services.cancel_occurrence(occurrences[2])
    return master


def helpdesk_view(master, start, end) -> list[tuple]:
    """(start, end, subject) of the series' visible occurrences starting in [start, end)."""
    return list(
        Appointment.objects.visible()
        .filter(master=master, start__gte=start, start__lt=end)
        .order_by("start")
        .values_list("start", "end", "subject")
    )
