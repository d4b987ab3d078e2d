"""Trial 13: dates were written in mixed ways. The appointment page said "Mon 7 Dec 2026 09:30 - Mon
7 Dec 2026 09:45" (the day twice, with an en dash); the booking message "Planned for Tue 01 Dec 08:00" where the
page says "Tue 1 Dec 2026 08:00". One format now, the day once when an entry is on one day."""

from datetime import datetime
from zoneinfo import ZoneInfo

from calendars import services as calendar_services

AMS = ZoneInfo("Europe/Amsterdam")


def _when(page_client, alice, start: datetime, end: datetime) -> str:
    """The appointment page's "When" line for an entry of Alice's from start to end."""
    appointment = calendar_services.create_appointment(subject="Job", start=start, end=end, agents=[alice])
    page = page_client(alice.user).get(f"/calendar/appointments/{appointment.pk}/").content.decode()
    return page.split("<dt>When</dt><dd>")[1].split("</dd>")[0]


def test_an_appointment_on_one_day_names_its_day_once(page_client, alice):
    when = _when(page_client, alice, datetime(2026, 12, 7, 9, 30, tzinfo=AMS), datetime(2026, 12, 7, 9, 45, tzinfo=AMS))
    assert when == "Mon 7 Dec 2026 09:30–09:45"


def test_an_appointment_over_midnight_names_both_days(page_client, alice):
    when = _when(page_client, alice, datetime(2026, 12, 7, 22, 0, tzinfo=AMS), datetime(2026, 12, 8, 2, 0, tzinfo=AMS))
    assert when == "Mon 7 Dec 2026 22:00 – Tue 8 Dec 2026 02:00"
