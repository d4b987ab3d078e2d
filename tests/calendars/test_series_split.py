"""'This and following': an edit of one occurrence for it and the ones after it splits the series,
as Outlook and Google do. The old series ends before the occurrence (RFC 5545 3.3.10 UNTIL), a new
one starts at it with the edit applied (COUNT reduced, or UNTIL kept), and the exceptions from the
occurrence on go with the new series. Expected starts: dateutil's expansion of the two rules as
stored, and of the series as it was."""

import io
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import WEEKLY, rrule, rrulestr
from dateutil.tz import tzical

from calendars import services
from calendars.models import Appointment, EditScope
from calendars.selectors import series_exceptions
from calendars.series_words import rule_text
from tests.integrations.series import OWN_ZONE_BLOCK

pytestmark = pytest.mark.django_db

AMS = ZoneInfo("Europe/Amsterdam")
HALF = timedelta(minutes=30)
HOUR = timedelta(hours=1)


def at(*args) -> datetime:
    return datetime(*args, tzinfo=AMS)


def expansion(master: Appointment) -> list[datetime]:
    """dateutil's starts of the stored rule from the master's start (EXDATEs aside)."""
    master = Appointment.objects.get(pk=master.pk)
    return list(rrulestr(rule_text(master), dtstart=master.start.astimezone(AMS)))


def mondays_at_nine(agent, rule: str) -> Appointment:
    """A stand-up by `rule`: Mondays 09:00-09:30 Amsterdam from 4 Mar 2030."""
    return services.create_recurring_appointment(
        rule=rule, subject="Stand-up", agents=[agent], start=at(2030, 3, 4, 9), end=at(2030, 3, 4, 9, 30)
    )


def shown(master: Appointment) -> list[tuple[datetime, datetime]]:
    rows = Appointment.objects.visible().filter(master=master).order_by("start")
    return [(o.start, o.end) for o in rows]


@pytest.mark.parametrize(
    "rule", ["RRULE:FREQ=WEEKLY;COUNT=8", "RRULE:FREQ=WEEKLY;UNTIL=20300422T080000Z"], ids=["count", "until"]
)
def test_this_and_following_an_hour_later_splits_into_dateutils_two_rules(alice, rule):
    """Mondays 09:00 Amsterdam from 4 Mar 2030, eight times; from the fifth (1 Apr) on at 10:00."""
    series = mondays_at_nine(alice, rule)
    mondays = [s.replace(tzinfo=AMS) for s in rrule(WEEKLY, count=8, dtstart=datetime(2030, 3, 4, 9))]
    assert expansion(series) == mondays
    fifth = series.occurrences.get(original_start=mondays[4])

    new = services.edit_occurrences(
        fifth,
        scope=EditScope.FOLLOWING,
        subject="Stand-up (new room)",
        start=at(2030, 4, 1, 10),
        end=at(2030, 4, 1, 10, 30),
    )

    assert new.pk != series.pk
    assert expansion(series) == mondays[:4]
    later = [moment + timedelta(hours=1) for moment in mondays[4:]]
    assert expansion(new) == later
    assert shown(series) == [(s, s + HALF) for s in mondays[:4]]
    assert shown(new) == [(s, s + HALF) for s in later]
    assert set(Appointment.objects.filter(master=new).values_list("subject", flat=True)) == {"Stand-up (new room)"}
    assert set(Appointment.objects.filter(master=series).values_list("subject", flat=True)) == {"Stand-up"}


def test_the_exceptions_from_the_split_on_go_to_the_new_series(alice):
    series = mondays_at_nine(alice, "RRULE:FREQ=WEEKLY;COUNT=8")
    mondays = [s.replace(tzinfo=AMS) for s in rrule(WEEKLY, count=8, dtstart=datetime(2030, 3, 4, 9))]
    services.cancel_occurrence(series.occurrences.get(original_start=mondays[1]))  # stays with the old one
    services.cancel_occurrence(series.occurrences.get(original_start=mondays[5]))
    moved = series.occurrences.get(original_start=mondays[6])
    services.update_appointment(moved, start=mondays[6] + timedelta(days=1), end=mondays[6] + timedelta(days=1) + HALF)

    new = services.edit_occurrences(
        series.occurrences.get(original_start=mondays[3]), scope=EditScope.FOLLOWING, location="Room 2"
    )

    assert series_exceptions(Appointment.objects.get(pk=series.pk)).cancelled == [mondays[1]]
    found = series_exceptions(Appointment.objects.get(pk=new.pk))
    assert found.cancelled == [mondays[5]]
    assert [(m.original_start, m.start) for m in found.moved] == [(mondays[6], mondays[6] + timedelta(days=1))]
    assert expansion(new) == mondays[3:]
    kept = [s for s in mondays[3:] if s not in (mondays[5], mondays[6])] + [mondays[6] + timedelta(days=1)]
    assert [start for start, _ in shown(new)] == sorted(kept)


def test_this_and_following_from_the_first_occurrence_and_all_change_the_whole_series(alice):
    series = mondays_at_nine(alice, "RRULE:FREQ=WEEKLY;COUNT=4")
    third = series.occurrences.get(original_start=at(2030, 3, 18, 9))

    saved = services.edit_occurrences(
        third, scope=EditScope.ALL, start=at(2030, 3, 18, 9, 15), end=at(2030, 3, 18, 9, 45)
    )

    assert saved.pk == series.pk
    quarter = [s.replace(tzinfo=AMS) for s in rrule(WEEKLY, count=4, dtstart=datetime(2030, 3, 4, 9, 15))]
    assert expansion(series) == quarter
    assert shown(series) == [(s, s + HALF) for s in quarter]


def third_moved_to_eleven(alice) -> Appointment:
    """The third of four Monday stand-ups (18 Mar 2030), moved on its own to 11:00-11:30."""
    series = mondays_at_nine(alice, "RRULE:FREQ=WEEKLY;COUNT=4")
    third = series.occurrences.get(original_start=at(2030, 3, 18, 9))
    return services.update_appointment(third, start=at(2030, 3, 18, 11), end=at(2030, 3, 18, 11, 30))


def test_an_occurrence_moved_on_its_own_and_then_split_starts_the_new_series_at_the_time_given(alice):
    third = third_moved_to_eleven(alice)

    new = services.edit_occurrences(
        third,
        scope=EditScope.FOLLOWING,
        start=at(2030, 3, 18, 14),
        end=at(2030, 3, 18, 14, 30),
    )

    # Given 14:00 for it and the following ones: the series is at 14:00 from then on (as Outlook does).
    later = [s.replace(tzinfo=AMS) for s in rrule(WEEKLY, count=2, dtstart=datetime(2030, 3, 18, 14))]
    assert expansion(new) == later
    assert shown(new) == [(s, s + HALF) for s in later]


def test_an_occurrence_moved_on_its_own_keeps_its_time_when_the_split_changes_only_its_text(alice):
    third = third_moved_to_eleven(alice)

    new = services.edit_occurrences(
        third, scope=EditScope.FOLLOWING, subject="Renamed", start=third.start, end=third.end
    )

    assert expansion(new) == [at(2030, 3, 18, 9), at(2030, 3, 25, 9)]
    assert shown(new) == [(at(2030, 3, 18, 11), at(2030, 3, 18, 11, 30)), (at(2030, 3, 25, 9), at(2030, 3, 25, 9, 30))]


def test_an_all_day_series_split_two_days_later_keeps_its_days(alice):
    series = services.create_recurring_appointment(
        rule="RRULE:FREQ=WEEKLY;COUNT=4",
        subject="On call",
        agents=[alice],
        start=date(2030, 3, 4),
        end=date(2030, 3, 5),
        all_day=True,
    )
    third = series.occurrences.get(start_date=date(2030, 3, 18))

    new = services.edit_occurrences(
        third, scope=EditScope.FOLLOWING, start=date(2030, 3, 20), end=date(2030, 3, 21), all_day=True
    )

    days = [d.date() for d in rrule(WEEKLY, count=2, dtstart=datetime(2030, 3, 20))]
    assert list(new.occurrences.order_by("start").values_list("start_date", flat=True)) == days
    assert list(series.occurrences.order_by("start").values_list("start_date", flat=True)) == [
        date(2030, 3, 4),
        date(2030, 3, 11),
    ]


def test_an_all_day_series_split_for_a_technician_on_another_clock_keeps_its_days_clock_and_edits(alice, make_agent):
    """Task times, fault 2: an all-day series' days are midnights on its technicians' zone, so the
    new half made for a technician in New York names its days there: the old half's edited fourth
    day and cancelled fifth day must land on the same days of the new half (they were keyed on
    Amsterdam's midnights, which name no day in New York, and the fourth day's own subject was lost).
    Expected days: dateutil."""
    carol = make_agent("carol", time_zone="America/New_York")
    series = services.create_recurring_appointment(
        rule="RRULE:FREQ=WEEKLY;COUNT=5",
        subject="On call",
        agents=[alice],
        start=date(2030, 3, 4),
        end=date(2030, 3, 5),
        all_day=True,
    )
    fourth = series.occurrences.get(start_date=date(2030, 3, 25))
    services.update_appointment(fourth, subject="Holiday cover")
    services.cancel_occurrence(series.occurrences.get(start_date=date(2030, 4, 1)))
    third = series.occurrences.get(start_date=date(2030, 3, 18))

    new = services.edit_occurrences(third, scope=EditScope.FOLLOWING, agents=[carol], subject="On call (Carol)")

    new = Appointment.objects.select_related("schedule").get(pk=new.pk)
    days = [d.date() for d in rrule(WEEKLY, count=3, dtstart=datetime(2030, 3, 18))]
    rows = list(Appointment.objects.visible().filter(master=new).order_by("start_date"))
    assert [(o.start_date, o.subject) for o in rows] == [(days[0], "On call (Carol)"), (days[1], "Holiday cover")]
    assert series_exceptions(new).cancelled == [datetime.combine(days[2], datetime.min.time(), carol.zone)]


def test_edits_of_occurrences_not_made_yet_go_to_the_new_series_shifted(alice):
    series = mondays_at_nine(alice, "RRULE:FREQ=WEEKLY;COUNT=70")
    far = at(2031, 4, 21, 9)  # beyond the year of occurrences made
    services.keep_cancelled_starts(series, [far])
    edit = {"original_start": far + timedelta(weeks=1), "start": at(2031, 4, 29, 14), "end": at(2031, 4, 29, 15)}
    services.keep_future_exceptions(series, [edit])

    new = services.edit_occurrences(
        series.occurrences.get(original_start=at(2030, 3, 18, 9)),
        scope=EditScope.FOLLOWING,
        start=at(2030, 3, 18, 9, 30),
        end=at(2030, 3, 18, 10),
    )

    found = series_exceptions(Appointment.objects.get(pk=new.pk))
    assert found.cancelled == [far + HALF]
    moved_key = far + timedelta(weeks=1) + HALF
    assert [(m.original_start, m.start) for m in found.moved] == [(moved_key, at(2031, 4, 29, 14))]
    assert series_exceptions(Appointment.objects.get(pk=series.pk)) == type(found)([], [])
    assert len(expansion(new)) == 68 and len(expansion(series)) == 2


def own_zone_weekly_starts(hour: int = 9) -> list[datetime]:
    """The starts (UTC) of a weekly call of an hour, 8 times from Mon 1 Mar 2027 at `hour` on the
    block's own clock (OWN_ZONE_BLOCK, +03:00 then +04:00 from 28 Mar 2027), by dateutil alone: its
    tzical reads the block (RFC 5545 3.6.5) and rrulestr repeats the rule on that wall clock (3.3.10).
    Not through icalendar, which keeps the first block it reads under a TZID for the whole process."""
    zone = tzical(io.StringIO(OWN_ZONE_BLOCK)).get()
    starts = rrulestr("FREQ=WEEKLY;COUNT=8", dtstart=datetime(2027, 3, 1, hour))
    return [start.replace(tzinfo=zone).astimezone(UTC) for start in starts]


def test_this_and_following_on_a_series_kept_on_its_own_time_zone_keeps_that_clock(alice):
    """review8 F5: "this and following" on a series kept on its own VTIMEZONE (Schedule.zone_block,
    a zone no IANA zone matches) used to fail with ZoneInfoNotFoundError (the block's zone handed to
    ZoneInfo as a key: a 500 on the page). The new series keeps the block, so its starts after the
    block's own clock change (28 Mar 2027) stay 09:00 there; expected: recurring-ical-events'
    expansion of the series as the block and rule give it (RFC 5545 3.3.10)."""
    master = services.create_recurring_appointment(
        rule="RRULE:FREQ=WEEKLY;COUNT=8",
        agents=[alice],
        start=datetime(2027, 3, 1, 6, tzinfo=UTC),  # 09:00 on the block's clock (+03:00)
        end=datetime(2027, 3, 1, 7, tzinfo=UTC),
        zone_block=OWN_ZONE_BLOCK,
        subject="Weekly call",
    )
    expected = own_zone_weekly_starts()
    third = Appointment.objects.filter(master=master).order_by("start")[2]

    new = services.edit_occurrences(third, scope=EditScope.FOLLOWING, subject="Weekly call (new)")

    new = Appointment.objects.select_related("schedule").get(pk=new.pk)
    assert new.schedule.zone_block == OWN_ZONE_BLOCK
    new_starts = [o.start for o in Appointment.objects.visible().filter(master=new).order_by("start")]
    old_starts = [o.start for o in Appointment.objects.visible().filter(master=master).order_by("start")]
    assert old_starts == expected[:2]
    assert new_starts == expected[2:]
    assert datetime(2027, 4, 5, 5, tzinfo=UTC) in new_starts  # 09:00 at +04:00


def test_this_and_following_moved_an_hour_on_a_series_on_its_own_time_zone(alice):
    """review8 F5, with a move: the new series starts an hour later on the block's wall clock, on
    both sides of the block's clock change (expected: recurring-ical-events, the rule at 10:00)."""
    master = services.create_recurring_appointment(
        rule="RRULE:FREQ=WEEKLY;COUNT=8",
        agents=[alice],
        start=datetime(2027, 3, 1, 6, tzinfo=UTC),
        end=datetime(2027, 3, 1, 7, tzinfo=UTC),
        zone_block=OWN_ZONE_BLOCK,
        subject="Weekly call",
    )
    expected = own_zone_weekly_starts(hour=10)
    third = Appointment.objects.filter(master=master).order_by("start")[2]

    new = services.edit_occurrences(third, scope=EditScope.FOLLOWING, start=third.start + HOUR, end=third.end + HOUR)

    assert Appointment.objects.select_related("schedule").get(pk=new.pk).schedule.zone_block == OWN_ZONE_BLOCK
    new_starts = [o.start for o in Appointment.objects.visible().filter(master=new).order_by("start")]
    assert new_starts == expected[2:]
