"""The start page (trial of main: "/" said only "The helpdesk is running. Admins configure ... in
admin", to technicians who cannot open admin, and showed nothing of their day)."""

from datetime import datetime, time, timedelta

from django.utils import timezone
from django.utils.formats import date_format

from calendars import services as calendar_services
from calendars.models import Appointment
from tests.web.conftest import AMS


def entry(alice, subject: str, day_offset: int, hour: int, minute: int = 0, **fields) -> Appointment:
    """An hour on Alice's calendar, `day_offset` days from today in Amsterdam, at hour:minute."""
    day = timezone.localdate(timezone.now(), AMS) + timedelta(days=day_offset)
    start = datetime.combine(day, time(hour, minute), tzinfo=AMS)
    return calendar_services.create_appointment(
        subject=subject, start=start, end=start + timedelta(hours=1), agents=[alice], **fields
    )


def test_a_technician_sees_the_entries_of_today_on_their_own_clock(page_client, alice):
    """Alice (Amsterdam) has 09:00 and 16:00 today, 00:30 and 09:00 tomorrow; a private imported
    entry today shows only as "Data unavailable"."""
    entry(alice, "Printer at Acme", 0, 9, location="Hall")
    entry(alice, "Switch at Delft", 0, 16)
    entry(alice, "Doctor: results", 0, 12, source=Appointment.Source.EXTERNAL, private=True)
    entry(alice, "Tomorrow's job", 1, 9)
    entry(alice, "Just after midnight", 1, 0, 30)
    page = page_client(alice.user).get("/").content.decode()
    assert f"Today, {date_format(timezone.localdate(timezone.now(), AMS), 'l j F')}" in page
    assert page.index("09:00–10:00") < page.index("Printer at Acme") < page.index("Data unavailable")
    assert page.index("Data unavailable") < page.index("16:00–17:00") < page.index("Switch at Delft")
    assert "Doctor" not in page and "job" not in page and "Just after midnight" not in page
    assert 'href="/admin/"' not in page  # a technician cannot open admin


def test_the_start_page_reads_a_fixed_number_of_queries(page_client, alice, django_assert_max_num_queries):
    client = page_client(alice.user)
    client.get("/")
    for hour in range(8, 16):
        entry(alice, f"Job {hour}", 0, hour)
    with django_assert_max_num_queries(9):
        assert client.get("/").status_code == 200


def test_a_coordinator_is_sent_to_the_group_calendar_and_staff_to_admin(page_client, coordinator, admin_user):
    page = page_client(coordinator).get("/").content.decode()
    assert 'href="/calendar/group/"' in page and 'href="/admin/"' not in page
    assert 'href="/admin/"' in page_client(admin_user).get("/").content.decode()


def test_nothing_today_says_so(page_client, alice):
    entry(alice, "Tomorrow's job", 1, 9)
    assert "Nothing on your calendar today." in page_client(alice.user).get("/").content.decode()
