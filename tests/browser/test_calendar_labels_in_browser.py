"""Calendar page faults of earlier sessions: labels of an entry over midnight, the drag preview's
label in the browser's own DST gap, and the group calendar on a phone.

Expected labels are the entry's wall-clock times on the user's zone (zoneinfo gives them from the
stored UTC times), cut at each day's midnight as Outlook and Google Calendar label each day's
part; 24:00 is the end of a day (ISO 8601 4.2.3).
"""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from calendars import services as calendar_services
from tests.browser.conftest import answer_in_page
from tests.browser.test_browser_zone_in_browser import hour_line
from tests.browser.test_calendar_in_browser import at, settled_box, wait_saved
from tests.browser.test_dst_in_browser import in_view

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
LONDON = ZoneInfo("Europe/London")


def labels(page, subject: str) -> list[str]:
    """The time labels of the entry's parts, in the order the widget draws them (day by day)."""
    entry = page.locator(".ec-event", has_text=subject)
    settled_box(page, entry.first)
    return [text.strip() for text in entry.locator(".ec-event-time").all_inner_texts()]


def test_an_entry_over_midnight_is_labelled_as_it_is_on_each_day(open_page, log_in, alice):
    """Tuesday 22:00 to Wednesday 06:00 on Alice's clock: Tuesday's part is 22:00-24:00 and
    Wednesday's 00:00-06:00 (both days showed 22:00-06:00)."""
    start, end = at(3, 22), at(4, 6)
    assert (start.astimezone(AMSTERDAM).strftime("%a %H:%M"), end.astimezone(AMSTERDAM).strftime("%a %H:%M")) == (
        "Tue 22:00",
        "Wed 06:00",
    )
    calendar_services.create_appointment(subject="Night shift", start=start, end=end, agents=[alice])
    page = log_in(open_page(), "alice")
    page.goto("/calendar/?date=2026-03-02&view=timeGridWeek")
    assert labels(page, "Night shift") == ["22:00\u201324:00", "00:00\u201306:00"]
    # The day view of each day: the same part.
    page.goto("/calendar/?date=2026-03-04&view=timeGridDay")
    assert labels(page, "Night shift") == ["00:00\u201306:00"]
    # The list of the week: under each day.
    page.goto("/calendar/?date=2026-03-02&view=listWeek")
    assert labels(page, "Night shift") == ["22:00\u201324:00", "00:00\u201306:00"]


def test_an_entry_over_two_midnights_shows_the_whole_middle_day(open_page, log_in, alice):
    """Monday 20:00 to Wednesday 08:00: 20:00-24:00, 00:00-24:00, 00:00-08:00."""
    calendar_services.create_appointment(subject="Server move", start=at(2, 20), end=at(4, 8), agents=[alice])
    page = log_in(open_page(), "alice")
    page.goto("/calendar/?date=2026-03-02&view=timeGridWeek")
    assert labels(page, "Server move") == ["20:00\u201324:00", "00:00\u201324:00", "00:00\u201308:00"]


def test_a_drag_over_midnight_previews_each_days_part(open_page, log_in, alice):
    """Tuesday 21:00-23:00 dragged two hours down in the week view: the preview's parts read
    23:00-24:00 and 00:00-01:00 while dragged, and it is saved as 23:00 to 01:00."""
    job = calendar_services.create_appointment(subject="Late job", start=at(3, 21), end=at(3, 23), agents=[alice])
    page = log_in(open_page(), "alice")
    page.goto("/calendar/?date=2026-03-02&view=timeGridWeek")
    box = in_view(page, page.locator(".ec-event", has_text="Late job"))
    x, y = box["x"] + box["width"] / 2, box["y"] + 10
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x, y + 2 * (hour_line(page, "22:00") - hour_line(page, "21:00")), steps=15)
    parts = page.locator(".ec-event.ec-preview", has_text="Late job").locator(".ec-event-time")
    expect(parts).to_have_text(["23:00\u201324:00", "00:00\u201301:00"])
    page.mouse.up()
    answer_in_page(page, accept=True)  # outside Alice's working hours
    wait_saved(page)
    job.refresh_from_db()
    assert (job.start, job.end) == (at(3, 23), at(4, 1))
    assert labels(page, "Late job") == ["23:00\u201324:00", "00:00\u201301:00"]


def early_check_on_a_london_browser(open_page, log_in, alice, start: datetime, end: datetime):
    """Alice's "Early check" in her day view of Sunday 28 March 2027 on a London browser, scrolled
    into view: (the appointment, the page, the entry's box, the height of an hour's row)."""
    job = calendar_services.create_appointment(subject="Early check", start=start, end=end, agents=[alice])
    page = log_in(open_page(timezone_id="Europe/London"), "alice")
    page.goto("/calendar/?date=2027-03-28&view=timeGridDay")
    entry = page.locator(".ec-event", has_text="Early check")
    box = in_view(page, entry)
    return job, page, box, hour_line(page, "02:00") - hour_line(page, "01:00")


def drag_with_preview_label(page, x: float, from_y: float, to_y: float, label: str) -> None:
    """Press at (x, from_y) and move to to_y: the preview is labelled `label`; drop, wait for the save."""
    page.mouse.move(x, from_y)
    page.mouse.down()
    page.mouse.move(x, to_y, steps=15)
    preview = page.locator(".ec-event.ec-preview", has_text="Early check").locator(".ec-event-time")
    expect(preview).to_have_text(label)
    page.mouse.up()
    answer_in_page(page, accept=True)  # outside Alice's working hours
    wait_saved(page)


def test_the_drag_preview_inside_the_browsers_own_dst_gap_shows_the_users_wall_clock(open_page, log_in, alice):
    """Alice (Amsterdam) on a London browser, Sunday 28 March 2027: London skips 01:00-02:00, Amsterdam
    not (its gap is 02:00-03:00). Her 00:15-00:45 CET dragged an hour down is previewed and saved as
    01:15-01:45 CET, 00:15-00:45 UTC; the preview said 02:15-02:45, an hour off."""
    start, end = datetime(2027, 3, 27, 23, 15, tzinfo=UTC), datetime(2027, 3, 27, 23, 45, tzinfo=UTC)
    assert start.astimezone(AMSTERDAM).strftime("%H:%M %Z") == "00:15 CET"
    # The target wall clock falls in London's gap: a browser Date cannot hold it.
    target = datetime(2027, 3, 28, 1, 15, tzinfo=LONDON)
    assert target.astimezone(UTC).astimezone(LONDON).strftime("%H:%M") != "01:15"
    job, page, box, row = early_check_on_a_london_browser(open_page, log_in, alice, start, end)
    assert labels(page, "Early check") == ["00:15\u201300:45"]
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2

    drag_with_preview_label(page, x, y, y + row, "01:15\u201301:45")
    job.refresh_from_db()
    assert (job.start, job.end) == (datetime(2027, 3, 28, 0, 15, tzinfo=UTC), datetime(2027, 3, 28, 0, 45, tzinfo=UTC))
    assert job.start.astimezone(AMSTERDAM).strftime("%H:%M %Z") == "01:15 CET"
    assert labels(page, "Early check") == ["01:15\u201301:45"]


def test_a_resize_preview_inside_the_browsers_own_dst_gap_shows_the_users_wall_clock(open_page, log_in, alice):
    """Her 00:10-00:40 CET with its end dragged into the 01:00-01:30 row: the widget snaps the end
    to the end of the slot under the pointer, 01:30 CET (London skips it), so the preview says
    00:10-01:30 (it said 00:10-02:30) and the end is saved as 00:30 UTC."""
    start, end = datetime(2027, 3, 27, 23, 10, tzinfo=UTC), datetime(2027, 3, 27, 23, 40, tzinfo=UTC)
    assert start.astimezone(AMSTERDAM).strftime("%H:%M %Z") == "00:10 CET"
    job, page, box, row = early_check_on_a_london_browser(open_page, log_in, alice, start, end)
    x, bottom = box["x"] + box["width"] / 2, box["y"] + box["height"] - 3  # on the resizer
    page.mouse.move(x, box["y"] + 5)  # the resizer shows on hover

    drag_with_preview_label(page, x, bottom, hour_line(page, "01:00") + row / 4, "00:10\u201301:30")
    job.refresh_from_db()
    assert (job.start, job.end) == (start, datetime(2027, 3, 28, 0, 30, tzinfo=UTC))
    assert job.end.astimezone(AMSTERDAM).strftime("%H:%M %Z") == "01:30 CET"


NAMES = ("alice", "bob", "carol", "dave", "erin")


def test_the_group_calendar_on_a_phone_keeps_each_technician_readable(open_page, log_in, coordinator, make_agent):
    """Five technicians as columns at 390x844: each column was 58 px, labels cut to "09:00-1".
    Each column is now at least 7rem (112 px) wide, the grid scrolls sideways inside the calendar
    (the page does not), the times stay beside it, and each entry's time label shows in full."""
    agents = [make_agent(name) for name in NAMES]
    for index, agent in enumerate(agents):
        calendar_services.create_appointment(
            subject=f"Visit {index}", start=at(2, 9 + index), end=at(2, 10 + index), agents=[agent]
        )
    page = log_in(open_page(width=390, height=844), "coordinator")
    ids = "&".join(f"agent={agent.pk}" for agent in agents)
    page.goto(f"/calendar/group/?{ids}&layout=columns&days=1&date=2026-03-02")
    settled_box(page, page.locator(".ec-event").first)

    heads = page.locator(".ec-header .ec-col-head")
    assert heads.count() == len(NAMES)
    widths = [heads.nth(index).bounding_box()["width"] for index in range(len(NAMES))]
    assert min(widths) >= 112, widths
    page_widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert page_widths[0] <= page_widths[1], page_widths
    main = page.evaluate("(m => [m.scrollWidth, m.clientWidth])(document.querySelector('#calendar .ec-main'))")
    assert main[0] > main[1], main
    for index in range(len(NAMES)):
        time = page.locator(".ec-event", has_text=f"Visit {index}").locator(".ec-event-time")
        time.scroll_into_view_if_needed()
        assert time.evaluate("el => el.scrollWidth <= el.clientWidth"), time.inner_text()
        assert time.inner_text() == f"{9 + index:02d}:00\u2013{10 + index:02d}:00"
        # Scrolled to the last column, the hours are still beside it.
        sidebar = page.locator(".ec-body .ec-sidebar").bounding_box()
        assert sidebar["x"] >= 0 and time.bounding_box()["x"] >= sidebar["x"] + sidebar["width"] - 1
