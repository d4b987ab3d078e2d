"""A series changed on one side, its exceptions on the other (review 7 F2, F2b, F7), read without a
server: the planner's merge, `mapping.changed_fields` and the engine's re-keying of the exceptions
onto the series as it will stand. Which starts a rule gives comes from dateutil, never from our
own expansion."""

import dataclasses
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

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
