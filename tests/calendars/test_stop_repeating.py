"""A series stops repeating now (Outlook's "end the series"): its past stays as it was, its
future goes, and the rule ends with UNTIL at the last start before now (RFC 5545 3.3.10). The
expected starts come from dateutil's rrule."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import MO, WEEKLY, rrule
from django.core.exceptions import ValidationError

from calendars import services
from calendars.models import Appointment
from calendars.series_words import rule_text

AMS = ZoneInfo("Europe/Amsterdam")
MADE = datetime(2026, 9, 1, tzinfo=AMS)
FIRST = datetime(2026, 9, 7, 9, tzinfo=AMS)  # a Monday
HALF_HOUR = timedelta(minutes=30)

pytestmark = pytest.mark.django_db


@pytest.fixture
def standup(alice) -> Appointment:
    return services.create_recurring_appointment(
        rule="RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=20",
        subject="Stand-up",
        start=FIRST,
        end=FIRST + HALF_HOUR,
        agents=[alice],
        now=MADE,
    )


def shown(master: Appointment) -> list[tuple[datetime, datetime]]:
    occurrences = Appointment.objects.visible().filter(master=master).order_by("start")
    return [(o.start, o.end) for o in occurrences]


def test_stopping_a_series_keeps_its_past_and_ends_its_rule_at_the_last_start_before_now(standup):
    occurrences = list(standup.occurrences.order_by("original_start"))
    moved = occurrences[1]
    moved_to = (moved.start + 2 * HALF_HOUR, moved.end + 2 * HALF_HOUR)
    services.update_appointment(moved, start=moved_to[0], end=moved_to[1])
    now = datetime(2026, 10, 14, 12, tzinfo=AMS)  # a Wednesday: six Mondays have passed

    services.stop_repeating(Appointment.objects.get(pk=standup.pk), now=now)

    kept = [day for day in rrule(WEEKLY, byweekday=MO, count=20, dtstart=FIRST) if day < now]
    assert len(kept) == 6
    expected = sorted([(day, day + HALF_HOUR) for day in kept if day != moved.original_start] + [moved_to])
    assert shown(standup) == expected
    until = kept[-1].astimezone(UTC)
    assert rule_text(Appointment.objects.get(pk=standup.pk)) == f"FREQ=WEEKLY;UNTIL={until:%Y%m%dT%H%M%SZ};BYDAY=MO"


def test_the_occurrence_under_way_now_stays(standup):
    now = datetime(2026, 9, 14, 9, 10, tzinfo=AMS)  # ten minutes into the second one

    services.stop_repeating(Appointment.objects.get(pk=standup.pk), now=now)

    assert shown(standup) == [
        (FIRST, FIRST + HALF_HOUR),
        (FIRST + timedelta(weeks=1), FIRST + timedelta(weeks=1) + HALF_HOUR),
    ]


def test_a_series_that_has_not_begun_cannot_stop_repeating_and_keeps_its_rule(standup):
    with pytest.raises(ValidationError, match="not begun yet"):
        services.stop_repeating(Appointment.objects.get(pk=standup.pk), now=FIRST)

    assert rule_text(Appointment.objects.get(pk=standup.pk)) == "FREQ=WEEKLY;COUNT=20;BYDAY=MO"
    assert len(shown(standup)) == 20


def test_a_series_that_ended_already_is_left_as_it_is(standup):
    after = datetime(2027, 6, 1, tzinfo=AMS)
    sequence = standup.sequence

    services.stop_repeating(Appointment.objects.get(pk=standup.pk), now=after)

    assert Appointment.objects.get(pk=standup.pk).sequence == sequence
    assert rule_text(Appointment.objects.get(pk=standup.pk)) == "FREQ=WEEKLY;COUNT=20;BYDAY=MO"
