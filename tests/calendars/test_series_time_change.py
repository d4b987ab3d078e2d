"""A whole series moved (a new start on its master) takes its exceptions along: cancelled starts
(EXDATE, RFC 5545 3.8.5.1) and the original starts of occurrences moved on their own
(RECURRENCE-ID, 3.8.4.4) shift by the same wall-clock shift on the series' zone, so cancelled
stay cancelled and moved stay moved, once. Expected starts come from dateutil's rrule."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import WEEKLY, rrule

from calendars import services
from calendars.models import Appointment
from calendars.selectors import series_exceptions

pytestmark = pytest.mark.django_db

AMS = ZoneInfo("Europe/Amsterdam")
HALF = timedelta(minutes=30)


def at(*args) -> datetime:
    return datetime(*args, tzinfo=AMS)


def shown(master: Appointment) -> list[tuple[datetime, datetime]]:
    occurrences = Appointment.objects.visible().filter(master=master).order_by("start")
    return [(o.start, o.end) for o in occurrences]


def from_4_march(agent, rule: str) -> Appointment:
    """A series by `rule` from Monday 4 March 2030, 09:00-09:30 Amsterdam."""
    return services.create_recurring_appointment(
        rule=rule, subject="Stand-up", agents=[agent], start=at(2030, 3, 4, 9), end=at(2030, 3, 4, 9, 30)
    )


@pytest.fixture
def weekly(alice) -> Appointment:
    """Mondays 09:00-09:30 Amsterdam from 4 Mar 2030, eight times (summer time from 31 Mar); the
    second moved to the Tuesday, the fourth (25 Mar, winter time) cancelled."""
    series = from_4_march(alice, "RRULE:FREQ=WEEKLY;COUNT=8")
    services.update_appointment(
        series.occurrences.get(original_start=at(2030, 3, 11, 9)), start=at(2030, 3, 12, 9), end=at(2030, 3, 12, 9, 30)
    )
    services.cancel_occurrence(series.occurrences.get(original_start=at(2030, 3, 25, 9)))
    return Appointment.objects.get(pk=series.pk)


def test_a_series_moved_a_week_later_over_the_dst_change_keeps_its_exceptions_on_the_wall_clock(weekly):
    moved = services.update_appointment(weekly, start=at(2030, 3, 11, 9), end=at(2030, 3, 11, 9, 30))

    starts = [s.replace(tzinfo=AMS) for s in rrule(WEEKLY, count=8, dtstart=datetime(2030, 3, 11, 9))]
    moved_key, cancelled_key = starts[1], starts[3]  # a week on from 11 and 25 Mar
    assert cancelled_key == at(2030, 4, 1, 9)  # 09:00 summer time: a UTC shift would give 10:00
    expected = [(s, s + HALF) for s in starts if s not in (moved_key, cancelled_key)]
    expected.append((at(2030, 3, 12, 9), at(2030, 3, 12, 9, 30)))  # the moved one keeps its own time
    assert shown(weekly) == sorted(expected)
    found = series_exceptions(Appointment.objects.get(pk=weekly.pk))
    assert found.cancelled == [cancelled_key]
    assert [(m.original_start, m.start) for m in found.moved] == [(moved_key, at(2030, 3, 12, 9))]
    assert moved.dropped_exceptions == []


def test_cancelled_before_made_and_moved_before_made_move_with_the_series(alice):
    series = from_4_march(alice, "RRULE:FREQ=WEEKLY;COUNT=70")
    far = at(2031, 4, 21, 9)  # beyond the year of occurrences made
    assert not series.occurrences.filter(original_start=far).exists()
    services.keep_cancelled_starts(series, [far])
    services.keep_future_exceptions(
        series, [{"original_start": far + timedelta(weeks=1), "start": at(2031, 4, 29, 14), "end": at(2031, 4, 29, 15)}]
    )

    services.update_appointment(series, start=at(2030, 3, 4, 9, 30), end=at(2030, 3, 4, 10))

    found = series_exceptions(Appointment.objects.get(pk=series.pk))
    assert found.cancelled == [far + HALF]
    assert [(m.original_start, m.start) for m in found.moved] == [
        (far + timedelta(weeks=1) + HALF, at(2031, 4, 29, 14))
    ]


def test_an_occurrence_edited_only_in_its_text_follows_the_series_new_time(weekly):
    renamed = weekly.occurrences.get(original_start=at(2030, 4, 15, 9))
    services.update_appointment(renamed, subject="Stand-up with the vendor")

    services.update_appointment(weekly, start=at(2030, 3, 4, 9, 30), end=at(2030, 3, 4, 10, 15))

    renamed.refresh_from_db()
    assert (renamed.original_start, renamed.start, renamed.end) == (
        at(2030, 4, 15, 9, 30),
        at(2030, 4, 15, 9, 30),
        at(2030, 4, 15, 10, 15),
    )
    assert renamed.subject == "Stand-up with the vendor"
    assert [m.original_start for m in series_exceptions(Appointment.objects.get(pk=weekly.pk)).moved] == [
        at(2030, 3, 11, 9, 30)
    ]


def test_a_weekday_change_under_byday_drops_the_exceptions_no_occurrence_matches_and_names_them(alice):
    series = from_4_march(alice, "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=6")
    services.cancel_occurrence(series.occurrences.get(original_start=at(2030, 3, 18, 9)))

    moved = services.update_appointment(series, start=at(2030, 3, 5, 9), end=at(2030, 3, 5, 9, 30))

    assert moved.dropped_exceptions == [at(2030, 3, 18, 9)]
    assert series_exceptions(Appointment.objects.get(pk=series.pk)).cancelled == []
    # No exception is left at a start the rule does not give (RFC 5545 3.8.5.1).
    assert not series.occurrences.filter(is_modified=True).exists()
