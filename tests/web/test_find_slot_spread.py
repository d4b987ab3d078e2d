""" "Find a slot" proposes a spread of choices, not the first five starts 30 minutes apart on
one morning (calendars.availability.spread_slots): one slot per technician per half-day
(morning before 12:00, afternoon from 12:00, on the reader's wall clock) first, as dispatch tools
offer one time per technician per arrival window.

Expected starts come from dateutil's rrule over the default working week (Monday to Friday
08:00-17:00), not from the availability code.
"""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import DAILY, FR, MO, TH, TU, WE, rrule

from agents.models import Team
from tickets import selectors, services

AMS = ZoneInfo("Europe/Amsterdam")
NOW = datetime(2035, 3, 5, 7, 10, tzinfo=AMS)  # a Monday, before the working day
HOUR = timedelta(hours=1)


def _starts(hour: int, minute: int = 0) -> list[datetime]:
    """That time on each working day from NOW on (dateutil)."""
    first = NOW.replace(hour=hour, minute=minute, second=0, microsecond=0)
    return list(rrule(DAILY, byweekday=(MO, TU, WE, TH, FR), dtstart=first, count=5))


def test_together_proposes_one_slot_a_morning_and_one_an_afternoon(alice):
    ticket = services.create_request(summary="Printer", assigned_agents=[alice], estimate=HOUR)

    found = selectors.slot_proposals(ticket, now=NOW)

    mornings, afternoons = _starts(8), _starts(12)
    expected = [mornings[0], afternoons[0], mornings[1], afternoons[1], mornings[2]]
    assert [slot.start for slot in found.slots] == expected
    assert (
        len({(slot.start.astimezone(AMS).date(), slot.start.astimezone(AMS).hour >= 12) for slot in found.slots}) == 5
    )


def test_a_team_gets_distinct_technicians_before_the_same_one_again(make_agent):
    """Carol and Dave, both free and unbooked (fair order: by name): Carol 08:00, Dave 08:30 on
    Monday morning, then Carol 12:00, Dave 12:30 in the afternoon, then Tuesday morning."""
    carol, dave = make_agent("carol", team="Field"), make_agent("dave", team="Field")
    ticket = services.create_request(summary="Printer", assigned_agents=[carol], estimate=HOUR)

    found = selectors.slot_proposals(ticket, team=Team.objects.get(name="Field"), now=NOW)

    assert [(slot.start, slot.agent_ids[0]) for slot in found.slots] == [
        (_starts(8)[0], carol.pk),
        (_starts(8, 30)[0], dave.pk),
        (_starts(12)[0], carol.pk),
        (_starts(12, 30)[0], dave.pk),
        (_starts(8)[1], carol.pk),
    ]
    # Whoever is proposed first, the other free technician is still named.
    assert found.slots[1].agent_ids == (dave.pk, carol.pk)


def test_a_single_free_morning_still_fills_the_proposals(alice):
    """Only Monday 08:00-11:00 is free up to the horizon (a year): the spread takes one, then the
    earliest others fill the five rather than leaving choices out."""
    from calendars import services as calendar_services

    later = NOW.replace(hour=11, minute=0)
    year = later + timedelta(days=400)
    calendar_services.create_appointment(subject="Project", start=later, end=year, agents=[alice])
    ticket = services.create_request(summary="Printer", assigned_agents=[alice], estimate=HOUR)

    found = selectors.slot_proposals(ticket, now=NOW)

    monday = NOW.replace(hour=8, minute=0)
    assert [slot.start for slot in found.slots] == [monday + timedelta(minutes=30 * k) for k in range(5)]
