"""The sync log names an entry by its appointment (its link's text in the log and admin): an
all-day entry by its days, the same on every clock (RFC 5545 3.6.1: a DATE DTSTART names days,
DTEND the day after the last), never as a midnight of some zone (trial fault 7)."""

from datetime import date

import pytest
from django.utils import timezone

from calendars import services as calendar_services
from integrations.models import SyncLink

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("reader_zone", ["America/Los_Angeles", "Asia/Tokyo"])
def test_an_all_day_entry_is_named_by_its_days_in_the_log(alice_calendar, reader_zone):
    one_day = calendar_services.create_appointment(
        subject="Course", all_day=True, start=date(2026, 12, 16), end=date(2026, 12, 17), agents=[alice_calendar.agent]
    )
    two_days = calendar_services.create_appointment(
        subject="Training",
        all_day=True,
        start=date(2026, 12, 16),
        end=date(2026, 12, 18),
        agents=[alice_calendar.agent],
    )

    with timezone.override(reader_zone):
        assert str(SyncLink.objects.get(appointment=one_day)) == (
            f"Course (Wed 16 Dec 2026 (all day)) -> {alice_calendar}"
        )
        assert str(two_days) == "Training (Wed 16 Dec 2026 \u2013 Thu 17 Dec 2026 (all day))"
