"""Trial fault 2: an occurrence of a series given to a technician who is not on the series (the
group calendar's drag, a technician added to one occurrence) reaches that technician's external
calendar as a one-off entry of their own (or waits for their approval under Ask), the series'
technician gets it left out (EXDATE), `external_calendars` names the new technician, and giving
it back removes the one-off entry again without a duplicate (SPEC S2.2, S3.2, S3.7).

What the calendars hold is read with the caldav client library and expanded with
recurring-ical-events, as another client sees it."""

from __future__ import annotations

from datetime import UTC, timedelta

import icalendar
import pytest
import recurring_ical_events

from agents.models import Agent
from calendars import services as calendar_services
from calendars.models import CalendarSettings, SyncPolicy
from integrations import selectors
from tests.integrations.conftest import USERS, OtherClient
from tests.integrations.series import weekly_four_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def bob_phone(radicale, bob_calendar):
    return OtherClient(radicale.url, "bob", USERS["bob"], bob_calendar.calendar_id)


@pytest.fixture
def series(alice_calendar, bob_calendar, tomorrow_9, django_capture_on_commit_callbacks):
    """Alice's weekly series of four, committed (so pushed); bob is on none of it."""
    return weekly_four_of(alice_calendar.agent, tomorrow_9, django_capture_on_commit_callbacks)


def _starts(phone: OtherClient, start, end) -> list:
    """Every occurrence start (UTC) on the phone's calendar between `start` and `end`."""
    found = []
    for entry in phone.entries():
        calendar = icalendar.Calendar.from_ical(entry.data)
        found += [e.decoded("DTSTART").astimezone(UTC) for e in recurring_ical_events.of(calendar).between(start, end)]
    return sorted(found)


def _lines(occurrence) -> list[str]:
    return [name for name, _state in selectors.external_calendar_lines([occurrence])[occurrence.pk]]


def test_an_occurrence_dragged_to_another_technician_moves_to_their_calendar_and_back(
    series, alice_phone, bob_phone, tomorrow_9, django_capture_on_commit_callbacks
):
    alice, bob = series.agents.get(), Agent.objects.get(user__username="bob")
    occurrences = list(series.occurrences.order_by("original_start"))
    second = occurrences[1]
    window = (tomorrow_9 - timedelta(days=1), tomorrow_9 + timedelta(weeks=5))
    every = sorted(o.start.astimezone(UTC) for o in occurrences)
    assert _starts(alice_phone, *window) == every

    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.reassign_appointment(second, from_agent=alice, to_agent=bob)

    assert _starts(alice_phone, *window) == [start for start in every if start != second.start.astimezone(UTC)]
    assert _starts(bob_phone, *window) == [second.start.astimezone(UTC)]
    [entry] = bob_phone.entries()
    assert "RRULE" not in entry.icalendar_component  # a one-off entry of bob's own
    second.refresh_from_db()
    assert _lines(second) == [bob.name]

    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.reassign_appointment(second, from_agent=bob, to_agent=alice)

    assert bob_phone.entries() == []
    assert len(alice_phone.entries()) == 1
    assert _starts(alice_phone, *window) == every
    second.refresh_from_db()
    assert _lines(second) == [alice.name]


def test_a_technician_added_to_one_occurrence_gets_it_on_their_calendar(
    series, alice_phone, bob_phone, tomorrow_9, django_capture_on_commit_callbacks
):
    alice, bob = series.agents.get(), Agent.objects.get(user__username="bob")
    third = series.occurrences.order_by("original_start")[2]
    window = (tomorrow_9 - timedelta(days=1), tomorrow_9 + timedelta(weeks=5))
    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.reassign_appointment(third, from_agent=None, to_agent=bob)

    assert _starts(bob_phone, *window) == [third.start.astimezone(UTC)]
    assert len(_starts(alice_phone, *window)) == 4  # alice keeps it in her series
    third.refresh_from_db()
    assert sorted(_lines(third)) == sorted([alice.name, bob.name])


def test_under_ask_the_occurrence_given_to_another_waits_for_their_approval(
    series, bob_phone, tomorrow_9, django_capture_on_commit_callbacks
):
    from agents.models import Agent

    settings = CalendarSettings.load()
    settings.sync_policy = SyncPolicy.ASK
    settings.save()
    alice, bob = series.agents.get(), Agent.objects.get(user__username="bob")
    second = series.occurrences.order_by("original_start")[1]
    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.reassign_appointment(second, from_agent=alice, to_agent=bob)

    assert [link.appointment_id for link in selectors.waiting_for_approval(bob)] == [second.pk]
    assert bob_phone.entries() == []
