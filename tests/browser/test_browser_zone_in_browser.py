"""A browser on another zone than the user's (issue 15, item 2): the calendars show and save times
on the user's helpdesk zone, the zone of every page, form and overlap message, whatever the
browser's clock says.

Monday 2 March 2026: New York is on EST (UTC-5; the US changes on Sunday 8 March, the second
Sunday of March), London on GMT (UTC+0), Amsterdam on CET (UTC+1). Each expected stored UTC value
is worked by hand from those offsets and checked against zoneinfo in the test.
"""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Permission
from playwright.sync_api import expect

from calendars import services as calendar_services
from calendars.models import Appointment
from tests.browser.conftest import answer_in_page
from tests.browser.test_calendar_in_browser import centre, drag, settled_box, wait_saved
from tickets import services as ticket_services
from tickets.models import Request

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

NEW_YORK = ZoneInfo("America/New_York")
AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def new_york(hour: int, minute: int = 0, day: int = 2) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=NEW_YORK)


def hour_line(page, label: str) -> float:
    """The y of the grid line the time grid labels `label` ("10:00"): what the user reads."""
    box = page.locator(".ec-body .ec-sidebar time", has_text=label).first.bounding_box()
    return box["y"] + box["height"] / 2


def nina(make_agent, **fields):
    return make_agent("nina", time_zone="America/New_York", **fields)


def form_opened_by_click(page, y: float) -> tuple[str, str]:
    """Click the day's grid at `y` and read the start and end the new-appointment form opens at."""
    body = page.locator(".ec-body .ec-grid").first.bounding_box()
    page.mouse.click(body["x"] + body["width"] / 2, y)
    page.wait_for_url("**/calendar/appointments/new/**")
    return page.input_value("#id_start"), page.input_value("#id_end")


def saved_form(page, subject: str, *, outside_hours: bool = False) -> Appointment:
    """Give the open form a subject, save it, and return what was stored. `outside_hours`: the
    page asks first (SPEC S6.3); tick "Save anyway" and save again."""
    page.fill("#id_subject", subject)
    page.click("main form button[type=submit]")
    if outside_hours:
        page.check("#id_confirm_overlap")
        page.click("main form button[type=submit]")
    page.wait_for_url(lambda url: "/new/" not in url)
    return Appointment.objects.get(subject=subject)


def test_a_drag_on_the_own_calendar_saves_the_time_the_user_reads_not_the_browsers(open_page, log_in, make_agent):
    """Nina (New York) on a London browser: her 'Call' 09:00-10:00 New York shows at 09:00 (not
    London's 14:00); dropped with its top on the line labelled 11:00 it is stored at 11:00 EST =
    16:00 UTC."""
    agent = nina(make_agent)
    call = calendar_services.create_appointment(subject="Call", start=new_york(9), end=new_york(10), agents=[agent])
    page = log_in(open_page(timezone_id="Europe/London"), "nina")
    page.goto("/calendar/?date=2026-03-02&view=timeGridDay")
    entry = page.locator(".ec-event", has_text="Call")
    box = settled_box(page, entry)
    assert "09:00–10:00" in entry.inner_text()
    assert box["y"] == pytest.approx(hour_line(page, "09:00"), abs=2)
    x = box["x"] + box["width"] / 2
    drag(page, (x, box["y"] + 10), (x, hour_line(page, "11:00") + 10))
    wait_saved(page)
    call.refresh_from_db()
    assert call.start == datetime(2026, 3, 2, 16, tzinfo=UTC) == new_york(11)
    assert call.end == datetime(2026, 3, 2, 17, tzinfo=UTC)


def test_a_summer_entry_seen_in_winter_shows_and_saves_its_own_time(open_page, log_in, alice):
    """Browser and Alice both on Amsterdam time, the browser's today in winter (CET, UTC+1):
    her entry on Monday 5 July 2027 09:00-10:00 CEST (UTC+2, 07:00 UTC) shows at 09:00, and
    dropped on the 10:00 line it is stored at 10:00 CEST = 08:00 UTC (the widget's own
    conversion used today's offset for every date: 08:00 shown, and the drop saved as 07:00)."""
    start = datetime(2027, 7, 5, 9, tzinfo=AMSTERDAM)
    job = calendar_services.create_appointment(
        subject="Summer job", start=start, end=start + timedelta(hours=1), agents=[alice]
    )
    page = open_page()
    page.clock.set_fixed_time(datetime(2026, 11, 30, 12, tzinfo=UTC))
    log_in(page, "alice")
    page.goto("/calendar/?date=2027-07-05&view=timeGridDay")
    entry = page.locator(".ec-event", has_text="Summer job")
    box = settled_box(page, entry)
    assert "09:00–10:00" in entry.inner_text()
    x = box["x"] + box["width"] / 2
    drag(page, (x, box["y"] + 10), (x, hour_line(page, "10:00") + 10))
    wait_saved(page)
    job.refresh_from_db()
    assert job.start == datetime(2027, 7, 5, 8, tzinfo=UTC) == datetime(2027, 7, 5, 10, tzinfo=AMSTERDAM)


def test_a_drag_on_the_group_calendar_checks_and_saves_on_the_users_clock(open_page, log_in, make_agent, alice):
    """Nina, a New York coordinator on a London browser. Alice's job 15:00-16:00 Amsterdam is
    09:00-10:00 for Nina. Frank works 08:00-17:00 New York. Dropped in Frank's column on the
    03:00 line (before his day) it asks first; on the 11:00 line it is saved without asking,
    at 11:00 EST = 16:00 UTC, on Frank's calendar."""
    coordinate = Permission.objects.get(codename="coordinate", content_type__app_label="agents")
    nina(make_agent).user.user_permissions.add(coordinate)
    frank = make_agent("frank", time_zone="America/New_York")
    job = calendar_services.create_appointment(
        subject="Swap router",
        start=datetime(2026, 3, 2, 15, tzinfo=AMSTERDAM),
        end=datetime(2026, 3, 2, 16, tzinfo=AMSTERDAM),
        agents=[alice],
    )
    page = log_in(open_page(timezone_id="Europe/London"), "nina")
    page.goto(f"/calendar/group/?agent={alice.pk}&agent={frank.pk}&layout=columns&days=1&slot=60&date=2026-03-02")
    entry = page.locator(".ec-event", has_text="Swap router")
    box = settled_box(page, entry)
    assert "09:00–10:00" in entry.inner_text()
    frank_head = settled_box(page, page.locator("#calendar").get_by_text("Frank", exact=True))
    frank_x = centre(frank_head)[0]
    drag(page, (centre(box)[0], box["y"] + 10), (frank_x, hour_line(page, "03:00") + 10))
    assert "Outside the working hours of Frank." in answer_in_page(page, accept=False)
    expect(page.locator("#calendar-message")).to_have_text("Not saved.")

    box = settled_box(page, entry)
    drag(page, (centre(box)[0], box["y"] + 10), (frank_x, hour_line(page, "11:00") + 10))
    expect(page.locator("#calendar-message")).to_have_text("Saved.")
    assert page.locator("dialog.ask-dialog").count() == 0
    job.refresh_from_db()
    assert [a.pk for a in job.agents.all()] == [frank.pk]
    assert job.start == datetime(2026, 3, 2, 16, tzinfo=UTC) == new_york(11)


def test_a_click_on_the_calendar_opens_the_form_at_the_time_the_user_reads(open_page, log_in, make_agent):
    """Nina (New York) on a London browser clicks just under the 10:00 line: the form opens at
    10:00-11:00 (her clock, as the form reads it), and saving stores 10:00 EST = 15:00 UTC."""
    agent = nina(make_agent)
    page = log_in(open_page(timezone_id="Europe/London"), "nina")
    page.goto("/calendar/?date=2026-03-02&view=timeGridDay")
    settled_box(page, page.locator(".working-hours").first)
    assert form_opened_by_click(page, hour_line(page, "10:00") + 5) == ("2026-03-02T10:00", "2026-03-02T11:00")
    made = saved_form(page, "Clicked")
    assert list(made.agents.all()) == [agent]
    assert made.start == datetime(2026, 3, 2, 15, tzinfo=UTC) == new_york(10)


def test_find_a_slot_shows_and_books_on_the_users_clock(open_page, log_in, make_agent):
    """Nina (New York) on a London browser: the first proposal reads on her clock, and booking
    it plans the request at exactly that wall-clock time in New York."""
    agent = nina(make_agent)
    ticket = ticket_services.create_request(summary="Printer", assigned_agents=[agent], estimate=timedelta(hours=1))
    page = log_in(open_page(timezone_id="Europe/London"), "nina")
    page.goto(f"/requests/{ticket.pk}/")
    page.click("#find-slot button[type=submit]")
    first = page.locator(".dispatch-slots li").first
    shown = first.locator("span").first.inner_text()
    first.locator("button", has_text="Book").click()
    page.wait_for_url(lambda url: "tab=appointments" in url)
    planned = Request.objects.get(pk=ticket.pk).planned_start.astimezone(NEW_YORK)
    assert shown == f"{planned:%a} {planned.day} {planned:%b %H:%M}–{planned + timedelta(hours=1):%H:%M}"


def test_a_holiday_band_is_the_technicians_day_on_the_users_clock_not_the_browsers(
    open_page, log_in, coordinator, make_agent
):
    """Martin Luther King Jr. Day, Monday 18 January 2027 (third Monday of January, 5 U.S.C.
    6103), is Frank's (New York, EST, UTC-5) from 00:00 to 24:00 his time: on the coordinator's
    clock (Amsterdam, CET, UTC+1) the grey band begins on the 06:00 line of the 18th, on a
    browser in Tokyo (UTC+9) as anywhere; his working-hours band is not there that day."""
    frank = make_agent("frank", time_zone="America/New_York", holiday_country="US")
    page = log_in(open_page(timezone_id="Asia/Tokyo"), "coordinator")
    page.goto(f"/calendar/group/?agent={frank.pk}&layout=columns&days=1&slot=60&date=2027-01-18")
    band = page.locator(".ec-bg-event.public-holiday")
    box = settled_box(page, band)
    assert box["y"] == pytest.approx(hour_line(page, "06:00"), abs=2)
    assert page.locator(".working-hours").count() == 0


def test_a_technicians_own_holiday_is_an_all_day_band_on_her_calendar(open_page, log_in, make_agent):
    """Epiphany, Wednesday 6 January 2027, is a public holiday in Bavaria: Greta (Berlin, region
    BY) sees a grey all-day band in her week (the widget draws it in the all-day row and down
    the day), over the Wednesday column and no other, on a browser in Tokyo."""
    make_agent("greta", time_zone="Europe/Berlin", holiday_country="DE", holiday_region="BY")
    page = log_in(open_page(timezone_id="Asia/Tokyo"), "greta")
    page.goto("/calendar/?date=2027-01-04&view=timeGridWeek")
    band = page.locator(".ec-all-day .ec-bg-event.public-holiday")
    box = settled_box(page, band)
    wednesday = page.locator(".ec-col-head:has(time[datetime='2027-01-06'])").bounding_box()
    assert centre(box)[0] == pytest.approx(centre(wednesday)[0], abs=5)
    for shade in page.locator(".ec-bg-event.public-holiday").all():
        assert centre(shade.bounding_box())[0] == pytest.approx(centre(wednesday)[0], abs=5)


# Sunday 29 March 2026: London's clocks go from 01:00 GMT to 02:00 BST, so 01:00-02:00 does not
# exist on a London browser's clock; New York has been on EDT (UTC-4) since 8 March, so 01:30
# there is 05:30 UTC. A JS Date made for 01:30 on that browser is 02:30 BST.
LONDON_GAP_DAY = 29


def scroll_to_midnight(page) -> None:
    """Bring the grid's first hours into view (the day view opens at the working hours)."""
    page.locator(".ec-main").evaluate("main => { main.scrollTop = 0; }")
    page.wait_for_timeout(200)


def half_past(page, hour: str, next_hour: str) -> float:
    """The y of hh:30 on the time grid: halfway between two labelled hour lines."""
    return (hour_line(page, hour) + hour_line(page, next_hour)) / 2


def test_a_drag_into_the_browsers_own_dst_gap_saves_and_checks_the_time_the_user_reads(open_page, log_in, make_agent):
    """Nina (New York) works 02:00-10:00 on Sundays; her 'Night call' 03:00-04:00 EDT on Sunday
    29 March 2026, dragged on a London browser with its top on 01:30 (a time London skips that
    night), starts before her day: she is asked, and once she agrees it is stored at 01:30-02:30
    EDT = 05:30-06:30 UTC (the browser's Date made it 02:30, inside her hours, and saved an hour
    late)."""
    agent = nina(make_agent, working_days=[6], working_hours_start=time(2), working_hours_end=time(10))
    call = calendar_services.create_appointment(
        subject="Night call",
        start=new_york(3, day=LONDON_GAP_DAY),
        end=new_york(4, day=LONDON_GAP_DAY),
        agents=[agent],
    )
    page = log_in(open_page(timezone_id="Europe/London"), "nina")
    page.goto(f"/calendar/?date=2026-03-{LONDON_GAP_DAY}&view=timeGridDay")
    entry = page.locator(".ec-event", has_text="Night call")
    settled_box(page, entry)
    scroll_to_midnight(page)
    box = entry.bounding_box()
    assert box["y"] == pytest.approx(hour_line(page, "03:00"), abs=2)
    x = box["x"] + box["width"] / 2
    drag(page, (x, box["y"] + 10), (x, half_past(page, "01:00", "02:00") + 10))
    assert "Outside the working hours of Nina." in answer_in_page(page, accept=True)
    wait_saved(page)
    call.refresh_from_db()
    assert call.start == datetime(2026, 3, 29, 5, 30, tzinfo=UTC) == new_york(1, 30, day=LONDON_GAP_DAY)
    assert call.end == datetime(2026, 3, 29, 6, 30, tzinfo=UTC) == new_york(2, 30, day=LONDON_GAP_DAY)


def test_a_click_in_the_browsers_own_dst_gap_opens_the_form_at_the_time_the_user_reads(open_page, log_in, make_agent):
    """Nina (New York) on a London browser clicks just under 01:30 on Sunday 29 March 2026: the
    form opens at 01:30-02:30 (an hour, on her clock) and saving stores 01:30-02:30 EDT =
    05:30-06:30 UTC (the browser's Date put the end at 03:30)."""
    nina(make_agent)
    page = log_in(open_page(timezone_id="Europe/London"), "nina")
    page.goto(f"/calendar/?date=2026-03-{LONDON_GAP_DAY}&view=timeGridDay")
    settled_box(page, page.locator(".ec-body .ec-sidebar time", has_text="08:00").first)
    scroll_to_midnight(page)
    opened = form_opened_by_click(page, half_past(page, "01:00", "02:00") + 5)
    assert opened == ("2026-03-29T01:30", "2026-03-29T02:30")
    made = saved_form(page, "Clicked in the gap", outside_hours=True)  # Sunday night
    assert made.start == datetime(2026, 3, 29, 5, 30, tzinfo=UTC) == new_york(1, 30, day=LONDON_GAP_DAY)
    assert made.end == datetime(2026, 3, 29, 6, 30, tzinfo=UTC) == new_york(2, 30, day=LONDON_GAP_DAY)


def test_a_resize_into_the_browsers_own_dst_gap_saves_the_end_the_user_reads(open_page, log_in, make_agent):
    """Nina's 'Late call' 00:30-01:00 EDT on Sunday 29 March 2026 (New York), its bottom edge
    dragged on a London browser down to 01:30 (a time London skips that night): stored ending at
    01:30 EDT = 05:30 UTC (the browser's Date made the end 02:30)."""
    agent = nina(make_agent)
    call = calendar_services.create_appointment(
        subject="Late call",
        start=new_york(0, 30, day=LONDON_GAP_DAY),
        end=new_york(1, day=LONDON_GAP_DAY),
        agents=[agent],
    )
    page = log_in(open_page(timezone_id="Europe/London"), "nina")
    page.goto(f"/calendar/?date=2026-03-{LONDON_GAP_DAY}&view=timeGridDay")
    entry = page.locator(".ec-event", has_text="Late call")
    settled_box(page, entry)
    scroll_to_midnight(page)
    box = entry.bounding_box()
    x = box["x"] + box["width"] / 2
    bottom = box["y"] + box["height"] - 3
    entry.hover()
    drag(page, (x, bottom), (x, bottom + box["height"]))
    answer_in_page(page, accept=True)  # outside Nina's working hours
    wait_saved(page)
    call.refresh_from_db()
    assert call.start == datetime(2026, 3, 29, 4, 30, tzinfo=UTC) == new_york(0, 30, day=LONDON_GAP_DAY)
    assert call.end == datetime(2026, 3, 29, 5, 30, tzinfo=UTC) == new_york(1, 30, day=LONDON_GAP_DAY)
