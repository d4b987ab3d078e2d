"""What every connector's test of an unknown time zone checks once the pull is done (issue 11:
every failure names itself): the entry came in at its exact instant beside its neighbour, and one
log line, shown on the technician's sync page, names it and says how its times were read."""

from datetime import datetime

from calendars.models import Appointment
from integrations.models import SyncLogEntry


def assert_read_with_a_zone_note(
    report, agent_calendar, client, *, zone: str, reading: str, start: datetime, end: datetime
) -> None:
    """`report` of the pull that read "Site visit" (in the unknown `zone`, from `start` to `end`) and
    "Dentist" (an ordinary entry); `reading` is how the log line says the times were read."""
    assert report.failed == 0
    visit = Appointment.objects.get(subject="Site visit")
    assert (visit.start, visit.end) == (start, end)
    assert Appointment.objects.filter(subject="Dentist").exists()
    (line,) = SyncLogEntry.objects.filter(agent_calendar=agent_calendar, message__contains="Unknown time zone")
    assert line.subject == "Site visit"
    assert line.message.startswith(f"Unknown time zone “{zone}”: the times are read {reading}")
    client.force_login(agent_calendar.agent.user)
    assert f"Unknown time zone “{zone}”" in client.get("/me/sync/").content.decode()
