"""A series changed on one side, its exceptions on the other (review 7 F2, F2b, F7), read without a
server: the planner's merge, `mapping.changed_fields` and the engine's re-keying of the exceptions
onto the series as it will stand. Which starts a rule gives comes from dateutil, never from our
own expansion."""

import dataclasses
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr

from integrations.providers.base import RemoteEvent, RemoteOccurrence
from integrations.sync import engine, mapping
from integrations.sync.planner import Merge, merge_fields

AMS = ZoneInfo("Europe/Amsterdam")
NEW_YORK = ZoneInfo("America/New_York")
HOUR = timedelta(hours=1)
HALF = timedelta(minutes=30)


def series(start: datetime, rule: str, length: timedelta = HOUR, **fields) -> RemoteEvent:
    zone = start.tzinfo.key
    return RemoteEvent(start=start, end=start + length, subject="Stand-up", time_zone=zone, rrules=[rule], **fields)


def starts(rule: str, first: datetime) -> list[datetime]:
    """dateutil's starts of `rule` from `first`, on `first`'s wall clock (RFC 5545 3.3.10)."""
    return [s.replace(tzinfo=first.tzinfo) for s in rrulestr(rule, dtstart=first.replace(tzinfo=None))]


def merged(synced: RemoteEvent, local: RemoteEvent, remote: RemoteEvent) -> Merge:
    """The merge as `engine._Run._three_way` asks the planner for it."""
    return merge_fields(
        local_changed=mapping.changed_fields(synced, local),
        remote_changed=mapping.changed_fields(synced, remote),
        differing=set(mapping.differing_fields(local, remote)),
        rekey_lands={"helpdesk": mapping.rekey_lands(remote, local), "remote": mapping.rekey_lands(local, remote)},
    )


def test_a_rule_changed_on_the_phone_meeting_a_cancelled_day_is_contested_not_merged_apart():
    """F2: "first Monday" made "first Tuesday" on the phone while the helpdesk cancels 7 June. June's
    EXDATE shifted by the start's one day (8 June) is no start of the new rule (dateutil: its June
    start is 1 June), so both cannot be kept: the series group is contested (the conflict rule
    decides it, logged), never merged apart with the cancellation silently dropped."""
    monday, tuesday = datetime(2027, 3, 1, 9, tzinfo=AMS), datetime(2027, 3, 2, 9, tzinfo=AMS)
    june = datetime(2027, 6, 7, 9, tzinfo=AMS)
    synced = series(monday, "FREQ=MONTHLY;COUNT=6;BYDAY=1MO")
    local = dataclasses.replace(synced, exdates=[june])
    phone = series(tuesday, "FREQ=MONTHLY;COUNT=6;BYDAY=1TU")
    new_starts = starts("FREQ=MONTHLY;COUNT=6;BYDAY=1TU", tuesday)
    assert june + timedelta(days=1) not in new_starts and datetime(2027, 6, 1, 9, tzinfo=AMS) in new_starts

    assert mapping.rekey_lands(local, phone) is False
    merge = merged(synced, local, phone)
    assert {"start", "rrules", "exdates"} <= merge.contested


def test_a_series_moved_an_hour_on_the_phone_and_a_cancelled_day_stay_apart():
    """The control for F2: a weekly series moved an hour keeps every instance an hour later
    (dateutil), so the helpdesk's cancelled day lands on one and the two changes are both kept."""
    first = datetime(2027, 1, 4, 15, tzinfo=AMS)
    third = starts("FREQ=WEEKLY;COUNT=4", first)[2]
    synced = series(first, "FREQ=WEEKLY;COUNT=4", HALF)
    local = dataclasses.replace(synced, exdates=[third])
    phone = series(first + HOUR, "FREQ=WEEKLY;COUNT=4", HALF)

    assert mapping.rekey_lands(local, phone) is True
    merge = merged(synced, local, phone)
    assert (merge.contested, merge.from_remote, merge.from_helpdesk) == (set(), {"start", "end"}, {"exdates"})


def test_a_cancelled_day_follows_a_series_put_on_another_clock():
    """F2b: weekly 09:00 on Amsterdam's clock put on New York's (09:00 there) on the phone while the
    helpdesk cancels 22 March (the US already on summer time, Europe not). The EXDATE the merge
    writes is the fourth start of the moved rule: 09:00 New York (dateutil), not 15:00 Amsterdam."""
    first, moved = datetime(2027, 3, 1, 9, tzinfo=AMS), datetime(2027, 3, 1, 9, tzinfo=NEW_YORK)
    synced = series(first, "FREQ=WEEKLY;COUNT=6")
    local = dataclasses.replace(synced, exdates=[starts("FREQ=WEEKLY;COUNT=6", first)[3]])
    phone = series(moved, "FREQ=WEEKLY;COUNT=6")
    merge = Merge(from_remote=frozenset({"start", "end"}), from_helpdesk=frozenset({"exdates"}), contested=frozenset())
    after = mapping.with_fields(synced, phone, merge.from_remote)

    _, written = engine._exceptions_on_one_series(merge, synced, after, local, phone)

    assert written.exdates == [starts("FREQ=WEEKLY;COUNT=6", moved)[3]]
    assert mapping.rekey_lands(local, phone) is True


def test_an_occurrence_renamed_in_the_helpdesk_takes_the_times_of_the_series_moved_on_the_phone():
    """F7: the phone moves the stand-up an hour later, the helpdesk renames the third (its times
    the rule's). The override the merge writes is at the moved rule's third start (dateutil), with
    the series' length, keeping its name; one moved on its own keeps its own times."""
    first = datetime(2027, 1, 4, 15, tzinfo=AMS)
    old, new = starts("FREQ=WEEKLY;COUNT=4", first), starts("FREQ=WEEKLY;COUNT=4", first + HOUR)
    synced = series(first, "FREQ=WEEKLY;COUNT=4", HALF)
    renamed = RemoteOccurrence(original_start=old[2], start=old[2], end=old[2] + HALF, subject="Stand-up, room 2")
    put = old[1] + 150 * timedelta(minutes=1)
    moved_alone = RemoteOccurrence(original_start=old[1], start=put, end=put + HALF)
    local = dataclasses.replace(synced, overrides=[moved_alone, renamed])
    phone = series(first + HOUR, "FREQ=WEEKLY;COUNT=4", HALF)
    merge = Merge(
        from_remote=frozenset({"start", "end"}), from_helpdesk=frozenset({"overrides"}), contested=frozenset()
    )
    after = mapping.with_fields(synced, phone, merge.from_remote)

    _, written = engine._exceptions_on_one_series(merge, synced, after, local, phone)

    assert [(o.original_start, o.start, o.end, o.subject) for o in written.overrides] == [
        (new[1], put, put + HALF, None),
        (new[2], new[2], new[2] + HALF, "Stand-up, room 2"),
    ]


def test_a_renamed_occurrence_the_phone_moved_with_its_series_is_no_change_of_it():
    """F7, read backwards: a client that moves an occurrence renamed in its text only along with
    the series (as the helpdesk and Google do) changed the series, not that occurrence: read on the
    series as synced it is the same renamed occurrence at the old rule's times, so a cancellation on
    the other side can still be merged apart from the move."""
    first = datetime(2027, 1, 4, 15, tzinfo=AMS)
    old, new = starts("FREQ=WEEKLY;COUNT=4", first), starts("FREQ=WEEKLY;COUNT=4", first + HOUR)

    def renamed(at: datetime) -> RemoteOccurrence:
        return RemoteOccurrence(original_start=at, start=at, end=at + HALF, subject="Stand-up, room 2")

    synced = series(first, "FREQ=WEEKLY;COUNT=4", HALF, overrides=[renamed(old[2])])
    phone = series(first + HOUR, "FREQ=WEEKLY;COUNT=4", HALF, overrides=[renamed(new[2])])

    assert mapping.changed_fields(synced, phone) == {"start", "end"}


def test_a_series_ended_earlier_on_the_phone_and_a_later_day_cancelled_stay_apart():
    """A cancelled day the other side's change took out of the series altogether is moot, not lost:
    the phone ends the weekly series after four (COUNT=6 to COUNT=4) while the helpdesk cancels the
    fifth. Every start the new rule gives is one of the old rule's (dateutil), so the two changes
    are kept apart (the phone's end, the helpdesk's cancellation naming nothing), no conflict."""
    first = datetime(2027, 1, 4, 15, tzinfo=AMS)
    old, new = starts("FREQ=WEEKLY;COUNT=6", first), starts("FREQ=WEEKLY;COUNT=4", first)
    assert set(new) <= set(old) and old[4] not in new
    synced = series(first, "FREQ=WEEKLY;COUNT=6", HALF)
    local = dataclasses.replace(synced, exdates=[old[4]])
    phone = series(first, "FREQ=WEEKLY;COUNT=4", HALF)

    assert mapping.rekey_lands(local, phone) is True
    merge = merged(synced, local, phone)
    assert (merge.contested, merge.from_remote, merge.from_helpdesk) == (set(), {"rrules"}, {"exdates"})


def test_a_moved_occurrence_of_a_weekday_the_phone_drops_is_not_silently_lost():
    """Review 8 F3: a visit the helpdesk moved from a Wednesday the phone then dropped from the rule
    (MO,WE to MO) names no instance of the new rule (RFC 5545 3.8.4.4): a conflict, not moot."""
    monday = datetime(2027, 3, 1, 9, tzinfo=AMS)
    wednesday = datetime(2027, 3, 10, 9, tzinfo=AMS)
    thursday_10 = datetime(2027, 3, 11, 10, tzinfo=AMS)
    synced = series(monday, "FREQ=WEEKLY;COUNT=12;BYDAY=MO,WE")
    # the technician moved the visit of Wednesday 10 March to Thursday 10:00 in the helpdesk
    local = dataclasses.replace(
        synced,
        overrides=[
            RemoteOccurrence(original_start=wednesday, start=thursday_10, end=thursday_10 + HOUR, subject="Stand-up")
        ],
    )
    phone = series(monday, "FREQ=WEEKLY;COUNT=6;BYDAY=MO")  # the organiser keeps Mondays only
    assert not mapping.rekey_lands(local, phone)
    merge = merged(synced, local, phone)
    assert merge.contested, "the helpdesk's moved visit is dropped without a conflict"


def on_rule(rule: str, first: datetime, moment: datetime) -> bool:
    """Is `moment` a start of `rule` from `first` (dateutil, on `first`'s wall clock, UNTIL in UTC)?
    dateutil walks the rule from `first` up to `moment`, whatever that costs."""
    return moment in rrulestr(rule, dtstart=first)


DAILY_20_YEARS = "FREQ=DAILY;UNTIL=20461231T235959Z"


def test_a_day_cancelled_18_years_into_a_daily_series_follows_the_series_moved_on_the_phone():
    """A daily series over 20 years (7,300 starts, past the 5,000 a walk was allowed): the phone
    moves it an hour, the helpdesk cancels a day in 2045. The cancelled day shifted an hour is a
    start of the moved rule (dateutil), so the two changes are kept apart, no conflict."""
    first = datetime(2027, 1, 4, 15, tzinfo=AMS)
    cancelled = datetime(2045, 7, 12, 15, tzinfo=AMS)
    assert on_rule(DAILY_20_YEARS, first, cancelled) and on_rule(DAILY_20_YEARS, first + HOUR, cancelled + HOUR)
    synced = series(first, DAILY_20_YEARS, HALF)
    local = dataclasses.replace(synced, exdates=[cancelled])
    phone = series(first + HOUR, DAILY_20_YEARS, HALF)

    assert mapping.rekey_lands(local, phone) is True
    merge = merged(synced, local, phone)
    assert (merge.contested, merge.from_remote, merge.from_helpdesk) == (set(), {"start", "end"}, {"exdates"})


def test_a_saturday_renamed_18_years_into_a_daily_series_the_phone_makes_weekdays_only_is_contested():
    """The same long series made Monday to Friday on the phone while the helpdesk renames a
    Saturday in 2045: that Saturday is no start of the new rule (dateutil), and an occurrence
    changed on its own is never moot, so the series is contested."""
    first = datetime(2027, 1, 4, 15, tzinfo=AMS)
    saturday = datetime(2045, 7, 15, 15, tzinfo=AMS)
    weekdays = DAILY_20_YEARS + ";BYDAY=MO,TU,WE,TH,FR"
    assert on_rule(DAILY_20_YEARS, first, saturday) and not on_rule(weekdays, first, saturday)
    renamed = RemoteOccurrence(original_start=saturday, start=saturday, end=saturday + HALF, subject="Open day")
    synced = series(first, DAILY_20_YEARS, HALF)
    local = dataclasses.replace(synced, overrides=[renamed])
    phone = series(first, weekdays, HALF)

    assert mapping.rekey_lands(local, phone) is False
    assert merged(synced, local, phone).contested


def test_a_daily_series_ended_after_15_years_on_the_phone_makes_a_day_cancelled_in_year_18_moot():
    """The phone ends the 20-year series after 2041 while the helpdesk cancels a day in 2045: every
    start of the shortened rule is one of the old rule's (dateutil) and the cancelled day is none
    of the new rule's, so the cancellation is moot: kept apart, no conflict."""
    first = datetime(2027, 1, 4, 15, tzinfo=AMS)
    cancelled = datetime(2045, 7, 12, 15, tzinfo=AMS)
    shorter = "FREQ=DAILY;UNTIL=20411231T235959Z"
    assert not on_rule(shorter, first, cancelled)
    synced = series(first, DAILY_20_YEARS, HALF)
    local = dataclasses.replace(synced, exdates=[cancelled])
    phone = series(first, shorter, HALF)

    assert mapping.rekey_lands(local, phone) is True
    merge = merged(synced, local, phone)
    assert (merge.contested, merge.from_remote, merge.from_helpdesk) == (set(), {"rrules"}, {"exdates"})


def test_a_minute_cancelled_40_days_into_an_every_minute_series_follows_it_moved_30_seconds():
    """An open-ended every-minute series (a monitoring check), a minute cancelled 40 days in
    (57,600 starts on): the phone moves the series 30 seconds later, which moves every start
    (dateutil), so the cancelled minute lands; with the rule made every two minutes (from the
    same start) the odd minute is no start (dateutil) and a renamed one is contested."""
    first = datetime(2027, 3, 1, 9, tzinfo=AMS)
    later = first + timedelta(seconds=30)
    minute = first + timedelta(days=40, minutes=7)
    assert on_rule("FREQ=MINUTELY", first, minute) and on_rule("FREQ=MINUTELY", later, minute + timedelta(seconds=30))
    synced = series(first, "FREQ=MINUTELY", timedelta(seconds=20))
    local = dataclasses.replace(synced, exdates=[minute])
    phone = series(later, "FREQ=MINUTELY", timedelta(seconds=20))
    assert mapping.rekey_lands(local, phone) is True

    every_two = "FREQ=MINUTELY;INTERVAL=2"
    assert not on_rule(every_two, first, minute)
    renamed = RemoteOccurrence(original_start=minute, start=minute, end=minute + timedelta(seconds=20), subject="Ping")
    local = dataclasses.replace(synced, overrides=[renamed])
    phone = series(first, every_two, timedelta(seconds=20))
    assert mapping.rekey_lands(local, phone) is False


def test_an_hourly_series_moved_an_hour_keeps_a_cancellation_years_on_but_not_one_off_its_new_rule():
    """Every three hours from 09:00 Amsterdam, open-ended, across 25 DST changes: a start cancelled
    in 2039 lands on the rule moved an hour later (dateutil says the shifted start is one), and a
    start renamed there names none of a rule every four hours (dateutil)."""
    first = datetime(2027, 3, 1, 9, tzinfo=AMS)
    rule = "FREQ=HOURLY;INTERVAL=3"
    cancelled = datetime(2039, 10, 30, 0, tzinfo=AMS)
    assert on_rule(rule, first, cancelled) and on_rule(rule, first + HOUR, cancelled + HOUR)
    synced = series(first, rule, HALF)
    local = dataclasses.replace(synced, exdates=[cancelled])
    assert mapping.rekey_lands(local, series(first + HOUR, rule, HALF)) is True

    other = "FREQ=HOURLY;INTERVAL=4"
    assert not on_rule(other, first, cancelled)
    renamed = RemoteOccurrence(original_start=cancelled, start=cancelled, end=cancelled + HALF, subject="Backup")
    local = dataclasses.replace(synced, overrides=[renamed])
    assert mapping.rekey_lands(local, series(first, other, HALF)) is False


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=MONTHLY",  # the 31st of each month that has one (the day from DTSTART)
        "FREQ=MONTHLY;INTERVAL=5;BYDAY=-1FR",
        "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
        "FREQ=YEARLY;INTERVAL=3;BYMONTH=12,1",  # the 31st (from DTSTART), every third year
        "FREQ=YEARLY;BYWEEKNO=1;BYDAY=MO,TH",  # ISO week 1 starts in the December before
        "FREQ=WEEKLY;INTERVAL=2;WKST=SU;BYDAY=SU,SA",
        "FREQ=WEEKLY;INTERVAL=3",
        "FREQ=DAILY;INTERVAL=7;BYMONTH=1,12",
        "FREQ=HOURLY;INTERVAL=5;BYHOUR=9,14,19",
        "FREQ=HOURLY;INTERVAL=7;UNTIL=20391225T000000Z",  # ends inside the window
    ],
)
def test_which_far_starts_a_rule_gives_is_dateutils_answer(rule):
    """Far into a long series (years on, past what a walk from the first start was allowed), the
    starts the series is said to have are the ones dateutil gives walking from the first start:
    every hour from mid-December 2039 to mid-January 2040, across a year's end and ISO week 1."""
    first = datetime(2027, 1, 31, 9, tzinfo=AMS)
    keys = [datetime(2039, 12, 10, tzinfo=AMS) + timedelta(hours=h) for h in range(24 * 40)]
    low, high = keys[0].replace(tzinfo=None), keys[-1].replace(tzinfo=None)
    given = set(rrulestr(rule, dtstart=first).between(keys[0], keys[-1], inc=True))
    assert given, "a window with no start would prove nothing"

    assert mapping.names_instances(series(first, rule), keys) == [key in given for key in keys], (low, high)


def test_a_date_names_the_days_start_of_an_every_two_hours_series_years_on():
    """A cancellation written as a date (as some clients write EXDATE) on an every-two-hours series
    names that day's starts: 12 starts on 3 June 2041 (dateutil), none on a day after UNTIL."""
    first = datetime(2027, 3, 1, 9, tzinfo=AMS)
    rule = "FREQ=HOURLY;INTERVAL=2;UNTIL=20410604T000000Z"
    day, after = datetime(2041, 6, 3, tzinfo=AMS), datetime(2041, 6, 5, tzinfo=AMS)
    assert len(rrulestr(rule, dtstart=first).between(day, day + timedelta(days=1))) == 12
    assert not rrulestr(rule, dtstart=first).between(after, after + timedelta(days=1))

    assert mapping.names_instances(series(first, rule), [day.date(), after.date()]) == [True, False]
