"""The entry form's "All day" in a real browser (trial fault): ticking it hides Start and End and
shows First day and Last day; unticking brings the times back with what was typed in them. An
all-day entry's edit page opens with its days shown. Without JavaScript all four fields show
and the form still saves (progressive enhancement)."""

from datetime import date

import pytest

from calendars import services
from calendars.models import Appointment

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def shown(page) -> dict[str, bool]:
    return {
        name: page.locator(f"input[name={name}]").is_visible() for name in ("start", "end", "first_day", "last_day")
    }


TIMES = {"start": True, "end": True, "first_day": False, "last_day": False}
DAYS = {"start": False, "end": False, "first_day": True, "last_day": True}


def create_a_training_day(page) -> None:
    """Fill in and send an all-day entry on 16 Dec 2026; it is saved as that one day (DTEND the 17th)."""
    page.fill("input[name=subject]", "Training day")
    page.get_by_label("All day").check()
    page.fill("input[name=first_day]", "2026-12-16")
    page.locator("input[name=agents]").first.check()
    with page.expect_navigation():
        page.get_by_role("button", name="Create").click()
    entry = Appointment.objects.get(subject="Training day")
    assert (entry.all_day, entry.start_date, entry.end_date) == (True, date(2026, 12, 16), date(2026, 12, 17))


def test_ticking_all_day_swaps_the_time_fields_for_day_fields_and_back(open_page, log_in, alice):
    page = log_in(open_page(), "alice")
    page.goto("/calendar/appointments/new/")
    assert shown(page) == TIMES
    page.fill("input[name=start]", "2026-12-16T10:00")
    page.fill("input[name=end]", "2026-12-16T11:00")

    page.get_by_label("All day").check()
    assert shown(page) == DAYS

    page.get_by_label("All day").uncheck()
    assert shown(page) == TIMES
    assert page.input_value("input[name=start]") == "2026-12-16T10:00"
    assert page.input_value("input[name=end]") == "2026-12-16T11:00"

    create_a_training_day(page)


def test_an_all_day_entrys_edit_page_opens_with_its_days(open_page, log_in, alice):
    entry = services.create_appointment(
        subject="Day off", all_day=True, start=date(2026, 12, 16), end=date(2026, 12, 17), agents=[alice]
    )
    page = log_in(open_page(), "alice")
    page.goto(f"/calendar/appointments/{entry.pk}/")

    assert shown(page) == DAYS
    assert page.input_value("input[name=first_day]") == "2026-12-16"


def test_without_javascript_all_four_fields_show_and_an_all_day_entry_saves(open_page, log_in, alice):
    page = log_in(open_page(java_script_enabled=False), "alice")
    page.goto("/calendar/appointments/new/")
    assert shown(page) == {"start": True, "end": True, "first_day": True, "last_day": True}

    create_a_training_day(page)
