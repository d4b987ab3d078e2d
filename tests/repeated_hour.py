"""Entries on the autumn night of 2027 in Europe/Amsterdam (02:00-03:00 runs twice, +02:00 then
+01:00), with the UTC instants RFC 5545 3.3.5 and Python's PEP 495 `fold` give for them: what a
reader of anything the helpdesk writes must find (trial 2 fault N2)."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

AMS = ZoneInfo("Europe/Amsterdam")

# name -> (start, end, start in UTC, end in UTC); fold=1 is the second 02:30 (+01:00).
CASES = {
    "ends in the repeated hour": (
        datetime(2027, 10, 31, 1, 30, tzinfo=AMS),  # +02:00
        datetime(2027, 10, 31, 2, 30, tzinfo=AMS, fold=1),  # +01:00: two real hours
        datetime(2027, 10, 30, 23, 30, tzinfo=UTC),
        datetime(2027, 10, 31, 1, 30, tzinfo=UTC),
    ),
    "starts in the repeated hour": (
        datetime(2027, 10, 31, 2, 30, tzinfo=AMS, fold=1),
        datetime(2027, 10, 31, 3, 30, tzinfo=AMS),  # one real hour
        datetime(2027, 10, 31, 1, 30, tzinfo=UTC),
        datetime(2027, 10, 31, 2, 30, tzinfo=UTC),
    ),
}


def night_job(case: str, agent, capture_on_commit):
    """The single entry CASES[case] made for `agent` in the helpdesk and committed (so pushed)."""
    from calendars import services as calendar_services

    start, end, _start_utc, _end_utc = CASES[case]
    with capture_on_commit(execute=True):
        return calendar_services.create_appointment(subject="Night job", start=start, end=end, agents=[agent])


def kept_after_an_edit_elsewhere(case: str, appointment, agent_calendar, edit) -> None:
    """Pull (the entry's link taken), `edit()` (the other calendar adds the location "Server room"),
    pull again: the appointment has that location and still CASES[case]'s instants, not an hour-early
    time read from a wall clock that occurs twice."""
    from integrations.sync import engine

    engine.sync_agent_calendar(agent_calendar, pull=True)
    edit()
    agent_calendar.refresh_from_db()
    engine.sync_agent_calendar(agent_calendar, pull=True)

    appointment.refresh_from_db()
    assert appointment.location == "Server room"
    assert (appointment.start.astimezone(UTC), appointment.end.astimezone(UTC)) == CASES[case][2:]


def patch_runs_with_an_extra_start(agent, zone: str, capture_on_commit):
    """Weekly "Patch run" x2 from Sunday 24 Oct 2027 09:00 on `zone`'s clock, an hour each, with an
    extra start (RDATE, given in UTC) at the SECOND 02:30 of 31 Oct 2027 there (dateutil's fold=1),
    committed (so pushed). Returns (master, that extra start in UTC, the held starts in UTC)."""
    from dateutil import tz as dateutil_tz

    from calendars import services as calendar_services
    from calendars.models import Appointment

    clock = dateutil_tz.gettz(zone)
    second = dateutil_tz.enfold(datetime(2027, 10, 31, 2, 30, tzinfo=clock), fold=1).astimezone(UTC)
    start = datetime(2027, 10, 24, 9, 0, tzinfo=clock)
    with capture_on_commit(execute=True):
        master = calendar_services.create_recurring_appointment(
            rule=f"RRULE:FREQ=WEEKLY;COUNT=2\nRDATE:{second.strftime('%Y%m%dT%H%M%SZ')}",
            agents=[agent],
            start=start,
            end=start + timedelta(hours=1),
            subject="Patch run",
            time_zone=zone,
        )
    held = Appointment.objects.filter(master=master, is_cancelled=False).values_list("start", flat=True)
    return master, second, sorted(moment.astimezone(UTC) for moment in held)
