"""A whole series moved (a new start on its master) takes its end along: each RRULE's UNTIL
shifts by the same wall-clock shift, keeping its form (RFC 5545 3.3.10: UNTIL is compared with
the starts counted from DTSTART), as Outlook and Google move a series' end with it. The number of
occurrences is dateutil's expansion of the rule before the move, and stays so after it."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr

from calendars import services
from calendars.models import Appointment
from calendars.series_words import rule_text

pytestmark = pytest.mark.django_db

AMS = ZoneInfo("Europe/Amsterdam")


def at(*args) -> datetime:
    return datetime(*args, tzinfo=AMS)


def dateutil_starts(master: Appointment) -> list[datetime]:
    """The oracle: dateutil's expansion of the stored rule from the master's start."""
    return list(rrulestr(rule_text(master), dtstart=master.start.astimezone(AMS)))


def shown(master: Appointment) -> list[datetime]:
    return list(Appointment.objects.visible().filter(master=master).order_by("start").values_list("start", flat=True))


def series(agent, rule: str, start: datetime, **fields) -> Appointment:
    made = services.create_recurring_appointment(
        rule=rule, subject="Stand-up", agents=[agent], start=start, end=start + timedelta(minutes=30), **fields
    )
    return Appointment.objects.get(pk=made.pk)


@pytest.mark.parametrize(
    "shift",
    [timedelta(hours=1), timedelta(days=1), timedelta(days=-1), timedelta(days=27)],
    ids=["an-hour-later", "a-day-later", "a-day-earlier", "over-the-dst-change"],
)
def test_a_series_moved_keeps_its_number_of_occurrences_as_dateutil_expands_its_rule(alice, shift):
    # As Outlook writes it: UNTIL is the last start itself (09:00 Amsterdam on Fri 8 Mar, in UTC).
    master = series(alice, "RRULE:FREQ=DAILY;UNTIL=20300308T080000Z", at(2030, 3, 4, 9))
    before = dateutil_starts(master)
    assert len(before) == 5 and shown(master) == before

    start = master.start.astimezone(AMS) + shift  # on the wall clock (Python adds to a zoned time so)
    services.update_appointment(master, start=start, end=start + timedelta(minutes=30))

    master = Appointment.objects.get(pk=master.pk)
    after = dateutil_starts(master)
    # The same days, each at the shifted time on the wall clock (DST-correct).
    wall = [(start.replace(tzinfo=None) + shift).replace(tzinfo=AMS) for start in before]
    assert after == wall
    assert shown(master) == after
    assert rule_text(master).endswith("Z")  # UNTIL stays in UTC (RFC 5545 3.3.10 with a zoned start)


def test_an_all_day_series_moved_two_days_ends_two_days_later(alice):
    master = services.create_recurring_appointment(
        rule="RRULE:FREQ=DAILY;UNTIL=20300308T225959Z",  # the last second of Fri 8 Mar in Amsterdam
        subject="On call",
        agents=[alice],
        start=date(2030, 3, 4),
        end=date(2030, 3, 5),
        all_day=True,
    )
    days_before = [start.date() for start in dateutil_starts(master)]

    services.update_appointment(master, start=date(2030, 3, 6), end=date(2030, 3, 7), all_day=True)

    master = Appointment.objects.get(pk=master.pk)
    days = [occurrence.start_date for occurrence in master.occurrences.order_by("start")]
    assert days == [day + timedelta(days=2) for day in days_before]
    until = master.schedule.recurrence.rrules[0].until
    assert until.astimezone(AMS).replace(tzinfo=None) == datetime(2030, 3, 10, 23, 59, 59)


def test_a_rule_given_with_the_move_keeps_its_own_until(alice):
    master = series(alice, "RRULE:FREQ=DAILY;UNTIL=20300308T080000Z", at(2030, 3, 4, 9))

    services.edit_appointment(
        master, start=at(2030, 3, 4, 10), end=at(2030, 3, 4, 10, 30), recurrence="FREQ=DAILY;UNTIL=20300310T090000Z"
    )

    master = Appointment.objects.get(pk=master.pk)
    assert master.schedule.recurrence.rrules[0].until == datetime(2030, 3, 10, 9, tzinfo=UTC)
    assert len(shown(master)) == 7
