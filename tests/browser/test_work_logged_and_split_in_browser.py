"""The dispatch tasks in a real browser: the calendar tells logged work from the plan, and a job
longer than a working day is booked in parts with one click on the request page."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from calendars.models import Appointment
from tickets import services as ticket_services

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

AMS = ZoneInfo("Europe/Amsterdam")


def at(day: int, hour: int) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=AMS)


def test_the_calendar_shows_logged_work_apart_from_the_plan(open_page, log_in, alice):
    ticket = ticket_services.create_request(summary="Printer jams", assigned_agents=[alice])
    ticket_services.update_request(ticket, planned_start=at(3, 9))
    ticket_services.log_action(
        ticket, agent=alice, done_at=at(4, 14), time_taken=timedelta(hours=2), add_to_calendar=True
    )
    page = log_in(open_page(), "alice")
    page.goto("/calendar/?date=2026-03-02")
    page.wait_for_selector(".ec-event")

    titles = sorted(page.locator(".ec-event .ec-event-title").all_inner_texts())

    assert titles == [f"#{ticket.pk} Printer jams", f"Work logged: #{ticket.pk} Printer jams"]


def test_a_job_longer_than_a_working_day_is_booked_in_parts_with_one_click(open_page, log_in, alice, coordinator):
    ticket = ticket_services.create_request(
        summary="Server move", assigned_agents=[alice], estimate=timedelta(hours=12)
    )
    page = log_in(open_page(), "coordinator")
    # From a Monday five weeks ahead: 08:00-17:00 that day (9 hours), 08:00-11:00 the next.
    day = date.today() + timedelta(weeks=5)
    day -= timedelta(days=day.weekday())
    page.goto(f"/requests/{ticket.pk}/?find=1&after={day.isoformat()}")
    assert "is longer than" in page.inner_text("#find-slot")

    page.click("text=Book in 2 parts")
    page.wait_for_selector("text=Planned in 2 parts")

    booked = [(a.start, a.end) for a in Appointment.objects.filter(request=ticket).order_by("start")]
    tuesday = day + timedelta(days=1)
    assert booked == [
        (datetime(day.year, day.month, day.day, 8, tzinfo=AMS), datetime(day.year, day.month, day.day, 17, tzinfo=AMS)),
        (
            datetime(tuesday.year, tuesday.month, tuesday.day, 8, tzinfo=AMS),
            datetime(tuesday.year, tuesday.month, tuesday.day, 11, tzinfo=AMS),
        ),
    ]
