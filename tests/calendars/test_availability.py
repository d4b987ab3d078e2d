"""The availability service against hand-worked cases (issue 15).

Every expected slot below is worked out by hand in the test's docstring from the rules it names
(the dates of the daylight-saving changes in law, the public holidays in law), not from our code.
Times in the working are UTC unless marked local.
"""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from agents.models import Agent
from calendars import services
from calendars.availability import Busy, Mode, Options, Technician, find_slots, find_slots_for
from calendars.models import Appointment

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
WEEKDAYS = (0, 1, 2, 3, 4)
HOUR = timedelta(hours=1)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def tech(id: int, zone: ZoneInfo, start=time(9), end=time(17), **extra) -> Technician:
    return Technician(id=id, name=f"t{id}", zone=zone, working_days=WEEKDAYS, start=start, end=end, **extra)


def starts(slots) -> list[datetime]:
    return [slot.start for slot in slots]


# --- pure cases ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        # Week before either change: Amsterdam CEST (UTC+2) 09-17 = 07:00-15:00; New York EDT
        # (UTC-4) 09-17 = 13:00-21:00; together 13:00-15:00: starts 13:00, 14:00.
        (datetime(2026, 10, 19, tzinfo=UTC), [utc(2026, 10, 19, 13), utc(2026, 10, 19, 14)]),
        # Europe went back on Sunday 25 Oct 2026 (last Sunday of October, Directive 2000/84/EC),
        # the US only on Sunday 1 Nov 2026 (first Sunday of November, Energy Policy Act 2005):
        # Amsterdam CET (UTC+1) 08:00-16:00, New York still EDT 13:00-21:00; together
        # 13:00-16:00: starts 13:00, 14:00, 15:00 (one hour more than either side of it).
        (
            datetime(2026, 10, 26, tzinfo=UTC),
            [utc(2026, 10, 26, 13), utc(2026, 10, 26, 14), utc(2026, 10, 26, 15)],
        ),
        # Both changed: Amsterdam CET 08:00-16:00, New York EST (UTC-5) 14:00-22:00;
        # together 14:00-16:00: starts 14:00, 15:00.
        (datetime(2026, 11, 2, tzinfo=UTC), [utc(2026, 11, 2, 14), utc(2026, 11, 2, 15)]),
    ],
)
def test_together_across_zones_on_both_sides_of_a_dst_change(day, expected):
    """Amsterdam and New York technicians, both 09:00-17:00 local, one hour together, step one hour."""
    technicians = [tech(1, AMSTERDAM), tech(2, NEW_YORK)]
    slots = find_slots(
        technicians,
        [],
        start=day,
        end=day + timedelta(days=1),
        options=Options(duration=HOUR, step=HOUR),
        now=day - timedelta(days=30),
    )
    assert starts(slots) == expected
    assert all(slot.agent_ids == (1, 2) for slot in slots)


def test_any_one_on_the_week_only_europe_has_changed():
    """Any one, two hours, step one hour, Monday 26 Oct 2026 (Amsterdam CET, New York EDT).

    Amsterdam 08:00-16:00 gives starts 08..14; New York 13:00-21:00 gives 13..19.
    So 08-12: Amsterdam alone; 13, 14: both; 15-19: New York alone."""
    day = utc(2026, 10, 26)
    slots = find_slots(
        [tech(1, AMSTERDAM), tech(2, NEW_YORK)],
        [],
        start=day,
        end=day + timedelta(days=1),
        options=Options(duration=2 * HOUR, step=HOUR, mode=Mode.ANY),
        now=day - timedelta(days=1),
    )
    who = {slot.start.hour: set(slot.agent_ids) for slot in slots}
    assert who == {
        8: {1}, 9: {1}, 10: {1}, 11: {1}, 12: {1}, 13: {1, 2}, 14: {1, 2},
        15: {2}, 16: {2}, 17: {2}, 18: {2}, 19: {2},
    }  # fmt: skip


def test_working_hours_per_technician():
    """Tuesday 3 Nov 2026, Amsterdam (CET, UTC+1). Technician 1 works 08:00-12:00 local
    (07:00-11:00 UTC), technician 2 12:00-18:00 local (11:00-17:00 UTC). Together: never.
    Any one, 3 hours, step 1 hour: 1 at 07:00, 08:00; 2 at 11:00 .. 14:00."""
    day = utc(2026, 11, 3)
    technicians = [tech(1, AMSTERDAM, time(8), time(12)), tech(2, AMSTERDAM, time(12), time(18))]
    window = {"start": day, "end": day + timedelta(days=1), "now": day - timedelta(days=1)}
    assert find_slots(technicians, [], options=Options(duration=3 * HOUR, step=HOUR), **window) == []
    slots = find_slots(technicians, [], options=Options(duration=3 * HOUR, step=HOUR, mode=Mode.ANY), **window)
    assert [(slot.start.hour, slot.agent_ids) for slot in slots] == [
        (7, (1,)),
        (8, (1,)),
        (11, (2,)),
        (12, (2,)),
        (13, (2,)),
        (14, (2,)),
    ]


def test_buffer_before_and_after_busy_time():
    """Wednesday 4 Nov 2026, Amsterdam 09:00-17:00 local = 08:00-16:00 UTC, busy 10:00-11:00
    UTC. One hour, step 30 minutes.
    No buffer: free 08:00-10:00 and 11:00-16:00: 08:00, 08:30, 09:00, 11:00, ...
    Buffer 30 minutes: busy becomes 09:30-11:30: free 08:00-09:30, 11:30-16:00: 08:00, 08:30, 11:30, ..."""
    day = utc(2026, 11, 4)
    busy = [Busy(1, utc(2026, 11, 4, 10), utc(2026, 11, 4, 11))]
    window = {"start": day, "end": day + timedelta(days=1), "now": day - timedelta(days=1)}
    plain = find_slots([tech(1, AMSTERDAM)], busy, options=Options(duration=HOUR, limit=4), **window)
    assert starts(plain) == [utc(2026, 11, 4, 8), utc(2026, 11, 4, 8, 30), utc(2026, 11, 4, 9), utc(2026, 11, 4, 11)]
    options = Options(duration=HOUR, buffer=timedelta(minutes=30), limit=4)
    buffered = find_slots([tech(1, AMSTERDAM)], busy, options=options, **window)
    assert starts(buffered) == [
        utc(2026, 11, 4, 8),
        utc(2026, 11, 4, 8, 30),
        utc(2026, 11, 4, 11, 30),
        utc(2026, 11, 4, 12),
    ]


def test_minimum_notice_and_transparent_blocks():
    """Wednesday 4 Nov 2026, Amsterdam 08:00-16:00 UTC. Now 09:10 UTC with two hours' notice:
    nothing before 11:10, so on the 30-minute grid the first start is 11:30. A transparent block
    11:00-13:00 ("show as free") takes nothing: 11:30, 12:00 follow."""
    day = utc(2026, 11, 4)
    busy = [Busy(1, utc(2026, 11, 4, 11), utc(2026, 11, 4, 13), transparent=True)]
    slots = find_slots(
        [tech(1, AMSTERDAM)],
        busy,
        start=day,
        end=day + timedelta(days=1),
        options=Options(duration=HOUR, notice=2 * HOUR, limit=2),
        now=utc(2026, 11, 4, 9, 10),
    )
    assert starts(slots) == [utc(2026, 11, 4, 11, 30), utc(2026, 11, 4, 12)]


def test_any_one_orders_by_hours_booked_that_week():
    """Thursday 5 Nov 2026, three Amsterdam technicians all free 08:00-16:00 UTC that day.
    Booked that week (Mon 2 - Sun 8 Nov local): 1 has 6 hours of helpdesk work on Monday;
    2 has 2 hours of helpdesk work and 8 hours of external busy time (which is not booked
    work); 3 has 3 hours, but 2 of them fall in the week before (Sunday 1 Nov 22:00 - Mon 2 Nov
    01:00 local = Sun 21:00 - Mon 00:00 UTC, one hour of it, 23:00-24:00 UTC = 00:00-01:00
    local Monday, in this week). So booked hours: 1 -> 6, 2 -> 2, 3 -> 1: order 3, 2, 1."""
    busy = [
        Busy(1, utc(2026, 11, 2, 8), utc(2026, 11, 2, 14)),
        Busy(2, utc(2026, 11, 3, 8), utc(2026, 11, 3, 10)),
        Busy(2, utc(2026, 11, 4, 8), utc(2026, 11, 4, 16), booked=False),
        Busy(3, utc(2026, 11, 1, 21), utc(2026, 11, 2, 0)),
    ]
    day = utc(2026, 11, 5)
    slots = find_slots(
        [tech(1, AMSTERDAM), tech(2, AMSTERDAM), tech(3, AMSTERDAM)],
        busy,
        start=day,
        end=day + timedelta(days=1),
        options=Options(duration=HOUR, mode=Mode.ANY, limit=1),
        now=day - timedelta(days=1),
    )
    assert slots[0].start == utc(2026, 11, 5, 8)
    assert slots[0].agent_ids == (3, 2, 1)
    assert slots[0].booked_hours == {1: 6.0, 2: 2.0, 3: 1.0}


def test_a_public_holiday_in_one_region_only():
    """Epiphany, Wednesday 6 Jan 2027, is a public holiday in Bavaria (DE-BY) but not in Berlin
    (DE-BE). Both technicians in Europe/Berlin (CET, UTC+1), 09:00-17:00 = 08:00-16:00 UTC.
    Any one, the whole working day (8 hours): only the Berlin technician; together: nothing.
    The next day (Thursday 7 Jan) both."""
    bavaria = tech(1, BERLIN, country="DE", region="BY")
    berlin = tech(2, BERLIN, country="DE", region="BE")
    day = utc(2027, 1, 6)
    window = {"start": day, "end": day + timedelta(days=2), "now": day - timedelta(days=1)}
    any_one = find_slots([bavaria, berlin], [], options=Options(duration=8 * HOUR, mode=Mode.ANY), **window)
    assert [(slot.start, slot.agent_ids) for slot in any_one] == [
        (utc(2027, 1, 6, 8), (2,)),
        (utc(2027, 1, 7, 8), (1, 2)),
    ]
    together = find_slots([bavaria, berlin], [], options=Options(duration=8 * HOUR), **window)
    assert starts(together) == [utc(2027, 1, 7, 8)]


def test_bad_duration_is_refused():
    with pytest.raises(ValueError, match="longer than zero"):
        find_slots(
            [tech(1, AMSTERDAM)],
            [],
            start=utc(2026, 1, 1),
            end=utc(2026, 1, 2),
            options=Options(HOUR * 0),
            now=utc(2026, 1, 1),
        )


# --- from the database ---------------------------------------------------------------------


@pytest.mark.django_db
def test_private_external_busy_counts_and_transparent_entries_do_not(make_agent):
    """Wednesday 4 Nov 2026, Alice in Amsterdam (CET, UTC+1) works 09:00-17:00 local =
    08:00-16:00 UTC. An imported private entry 10:00-11:00 local (09:00-10:00 UTC) is busy; a
    helpdesk entry shown as free 13:00-14:00 local does not count.
    One hour, step one hour: 08, 10, 11, 12, 13, 14, 15 UTC (not 09)."""
    alice = make_agent("alice", working_hours_start=time(9), working_hours_end=time(17), working_days=list(WEEKDAYS))
    services.create_appointment(
        subject="",
        start=datetime(2026, 11, 4, 10, tzinfo=AMSTERDAM),
        end=datetime(2026, 11, 4, 11, tzinfo=AMSTERDAM),
        agents=[alice],
        private=True,
        source=Appointment.Source.EXTERNAL,
    )
    services.create_appointment(
        subject="Available for calls",
        start=datetime(2026, 11, 4, 13, tzinfo=AMSTERDAM),
        end=datetime(2026, 11, 4, 14, tzinfo=AMSTERDAM),
        agents=[alice],
        busy=False,
    )
    day = datetime(2026, 11, 4, tzinfo=AMSTERDAM)
    slots = find_slots_for(
        [alice],
        start=day,
        end=day + timedelta(days=1),
        options=Options(duration=HOUR, step=HOUR),
        now=day - timedelta(days=1),
    )
    assert [slot.start.hour for slot in slots] == [8, 10, 11, 12, 13, 14, 15]


@pytest.mark.django_db
def test_four_weeks_for_a_hundred_technicians_in_a_constant_number_of_queries(
    calendar_settings, django_assert_max_num_queries, busy_technicians
):
    """One technician or a hundred, four weeks with busy time every day: the same two queries
    (the technicians, then every busy row at once)."""
    start = datetime(2026, 11, 2, tzinfo=AMSTERDAM)
    agents = busy_technicians(100, start)
    options = Options(duration=HOUR, mode=Mode.ANY, limit=1000)
    results = {}
    for count in (1, 100):
        with django_assert_max_num_queries(2):
            chosen = list(Agent.objects.filter(pk__in=[a.pk for a in agents[:count]]).select_related("user"))
            results[count] = find_slots_for(
                chosen,
                start=start,
                end=start + timedelta(days=28),
                options=options,
                now=start,
                settings=calendar_settings,
            )
    # Busy 10:00-12:00 local every day leaves 08:00-10:00 and 12:00-17:00 on the 20 working days:
    # starts 08:00, 08:30, 09:00 and 12:00 .. 16:00 (9): 12 a day, 240 in all, each with everyone.
    assert len(results[100]) == len(results[1]) == 240
    assert all(len(slot.agent_ids) == 100 for slot in results[100])


@pytest.mark.django_db
def test_unknown_holiday_country_or_region_is_refused_clearly(make_agent):
    from django.core.exceptions import ValidationError

    alice = make_agent("alice")
    for country, region, field in (
        ("XX", "", "holiday_country"),
        ("DE", "ZZ", "holiday_region"),
        ("", "BY", "holiday_region"),
    ):
        alice.holiday_country, alice.holiday_region = country, region
        with pytest.raises(ValidationError) as error:
            alice.clean()
        assert field in error.value.message_dict
    alice.holiday_country, alice.holiday_region = "DE", "BY"
    alice.clean()


@pytest.mark.django_db
@pytest.mark.parametrize("mode", [Mode.TOGETHER, Mode.ANY])
def test_a_widening_search_finds_the_slots_of_one_search_over_its_period(make_agent, mode):
    """Dispatch gap 1: the far search reads its period in rounds (14, 28, 56 days ...), each
    reading only the busy rows that begin in its new part. Both are busy for weeks (jobs across
    the edges of the rounds at days 14 and 28), so either mode searches past them; every block
    must count as it would in one search over the whole period: the same slots, same order."""
    from calendars.availability import search_slots_for

    alice = make_agent("alice")
    bob = make_agent("bob", time_zone="America/New_York")
    start = datetime(2035, 3, 5, 7, tzinfo=UTC)  # a Monday
    for agent, begin, days in ((alice, 0, 45), (bob, 0, 30), (bob, 31, 7), (alice, 47, 1)):
        services.create_appointment(
            subject="Job",
            start=start + timedelta(days=begin, hours=1),
            end=start + timedelta(days=begin + days),
            agents=[agent],
        )
    options = Options(duration=HOUR, mode=mode, limit=40)

    found = search_slots_for([alice, bob], start=start, horizon=start + timedelta(days=365), options=options, now=start)
    whole = find_slots_for([alice, bob], start=start, end=found.end, options=options, now=start)

    assert found.end >= start + timedelta(days=56)
    assert [(s.start, s.agent_ids) for s in found.slots] == [(s.start, s.agent_ids) for s in whole]
    assert len(found.slots) == 40
