"""Trial fault 1: a recurring series moved to another time of day over the API (PATCH on its
master) keeps its exceptions. The trial's exact input: the demo's stand-up, Mondays 15:00-15:30 on
Amsterdam's clock from this week's Monday, the second occurrence moved to the Tuesday, the third
cancelled, then `PATCH /api/appointments/<master>/` to 15:30. RFC 5545 3.8.5.1 (EXDATE) and
3.8.4.4 (RECURRENCE-ID) name instances the rule gives, so both move with the series to 15:30.

The right value is dateutil's expansion of the shifted rule, minus the shifted cancelled start
and the shifted moved one, plus the moved occurrence once; what Alice's phone shows is its copy
on a real Radicale expanded by recurring-ical-events."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events
from dateutil.rrule import MO, WEEKLY, rrule
from django.utils import timezone
from rest_framework.test import APIClient

from calendars import services as calendar_services
from calendars.models import Appointment
from integrations.models import SyncLink

pytestmark = pytest.mark.django_db

AMS = ZoneInfo("Europe/Amsterdam")
HALF = timedelta(minutes=30)
WEEKS = 7


@pytest.fixture
def monday() -> datetime:
    """This week's Monday (today or before), 15:00 Amsterdam: the series has begun."""
    today = timezone.now().astimezone(AMS)
    return (today - timedelta(days=today.weekday())).replace(hour=15, minute=0, second=0, microsecond=0)


@pytest.fixture
def standup(alice_calendar, bob, coordinator, monday, django_capture_on_commit_callbacks) -> Appointment:
    with django_capture_on_commit_callbacks(execute=True):
        series = calendar_services.create_recurring_appointment(
            rule="RRULE:FREQ=WEEKLY;BYDAY=MO",
            agents=[alice_calendar.agent, bob],
            start=monday,
            end=monday + HALF,
            time_zone=AMS,
            subject="Weekly team stand-up",
        )
        moved, cancelled = series.occurrences.order_by("original_start")[1:3]
        day = timedelta(days=1)
        calendar_services.update_appointment(moved, start=moved.start + day, end=moved.end + day, by=coordinator)
        calendar_services.cancel_occurrence(cancelled, by=coordinator)
    return series


def on_phone(phone, master: Appointment, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    calendar = icalendar.Calendar.from_ical(phone.by_uid(SyncLink.objects.get(appointment=master).marker).data)
    return sorted(
        (event.decoded("dtstart").astimezone(UTC), event.decoded("dtend").astimezone(UTC))
        for event in recurring_ical_events.of(calendar).between(start, end)
    )


def test_trial_standup_moved_to_half_past_three_keeps_its_cancelled_and_moved_occurrences(
    standup, monday, coordinator, alice, alice_phone, django_capture_on_commit_callbacks
):
    client = APIClient()
    client.force_authenticate(coordinator)
    new_start = monday + HALF
    body = {"start": new_start.isoformat(), "end": (new_start + HALF).isoformat(), "confirm_overlap": True}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.patch(f"/api/appointments/{standup.pk}/", body, format="json")
    assert response.status_code == 200, response.content

    local = new_start.astimezone(AMS).replace(tzinfo=None)
    starts = [s.replace(tzinfo=AMS) for s in rrule(WEEKLY, byweekday=MO, dtstart=local, count=WEEKS)]
    moved_key, cancelled_key = starts[1], starts[2]
    moved_to = monday + timedelta(weeks=1, days=1)  # its own time, unchanged: Tuesday 15:00
    expected = sorted(
        [(s.astimezone(UTC), (s + HALF).astimezone(UTC)) for s in starts if s not in (moved_key, cancelled_key)]
        + [(moved_to.astimezone(UTC), (moved_to + HALF).astimezone(UTC))]
    )
    window = (monday - timedelta(hours=1), starts[-1] + timedelta(hours=1))

    answer = response.json()
    assert [datetime.fromisoformat(m) for m in answer["cancelled_starts"]] == [cancelled_key]
    ((moved,),) = [answer["moved_occurrences"]]
    assert datetime.fromisoformat(moved["original_start"]) == moved_key
    assert datetime.fromisoformat(moved["start"]) == moved_to
    for agent in (alice, standup.agents.exclude(pk=alice.pk).get()):
        shown = Appointment.objects.visible().filter(master=standup.pk, agents=agent, start__lt=window[1])
        assert [(s.astimezone(UTC), e.astimezone(UTC)) for s, e in shown.values_list("start", "end")] == expected
    assert on_phone(alice_phone, standup, *window) == expected
