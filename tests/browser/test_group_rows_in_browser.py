"""The group calendar with technicians as rows (trial F16, F8) and the entries' hover text, in a
real browser: a week shows the same working-hours window every day and fits the screen, every
entry names its times and subject on hover, rows are of one height, and a drop below the last
row gives the entry to nobody."""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from calendars import services as calendar_services
from calendars.models import Appointment
from tests.browser.test_calendar_in_browser import centre, drag, settled_box

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

AMS = ZoneInfo("Europe/Amsterdam")
LONDON = ZoneInfo("Europe/London")
MONDAY = date(2035, 3, 5)  # a week with no DST change in Europe


def on(day: int, hour: int, minute: int = 0) -> datetime:
    """Day `day` of the week from Monday 5 March 2035 (0 = Monday), Amsterdam."""
    return datetime.combine(MONDAY + timedelta(days=day), time(hour, minute), AMS)


def settled(page) -> None:
    """Wait until the widget has loaded and stopped laying out (the rows fit after the load)."""
    page.wait_for_load_state("networkidle")
    last = None
    for _ in range(50):
        now = page.evaluate(
            "[...document.querySelectorAll('.ec-event, .ec-slots')]"
            ".map(e => JSON.stringify(e.getBoundingClientRect())).join()"
        )
        if now == last:
            return
        last = now
        page.wait_for_timeout(100)
    raise AssertionError("The calendar kept moving.")


def week_of_rows(open_page, log_in, team, *, width: int, slot: int):
    """The coordinator's page of the team's week from Monday 5 March 2035, as rows, settled."""
    page = log_in(open_page(width=width, height=900), "coordinator")
    page.goto(f"/calendar/group/?team={team.pk}&layout=rows&days=7&slot={slot}&date=2035-03-05")
    settled(page)
    return page


def sideways(page) -> tuple[int, int]:
    """[scrollWidth, clientWidth] of the widget's grid."""
    return page.evaluate(
        "(() => { const m = document.querySelector('.ec-main'); return [m.scrollWidth, m.clientWidth]; })()"
    )


def shown_letters(title) -> int:
    """How many leading characters of an entry's title element are in view, measured in the
    browser on a copy of the text in the element's own font (the ellipsis's room kept)."""
    return title.evaluate(
        """e => {
          const probe = document.createElement('span');
          probe.style.cssText = 'position:absolute;visibility:hidden;white-space:pre';
          probe.style.font = getComputedStyle(e).font;
          document.body.append(probe);
          const room = e.clientWidth - parseFloat(getComputedStyle(e).paddingInlineStart || 0);
          let n = 0;
          for (; n < e.textContent.length; n++) {
            probe.textContent = e.textContent.slice(0, n + 1) + '\u2026';
            if (probe.getBoundingClientRect().width > room) break;
          }
          probe.remove();
          return n;
        }"""
    )


def test_a_week_in_rows_shows_the_working_hours_window_on_every_day_and_scrolls_in_the_grid_only(
    open_page, log_in, coordinator, make_agent
):
    """Trial F16: Alice works 08:00-17:00 in Amsterdam, Bob 08:00-17:00 in London (09:00-18:00 on
    the coordinator's Amsterdam clock): the window of the two, worked out here with zoneinfo, is
    08:00-18:00. Every one of the seven days shows those ten hours (the page showed Monday from
    08:00 and every later day from 00:00, 8,191 px wide). Seventy hours do not fit 1600 px at a
    readable width: the grid scrolls sideways inside the widget, the page itself does not, and a
    one-hour entry is an hour of the day's width. One day fits with no sideways scroll."""
    alice = make_agent("alice", team="Field")
    make_agent("bob", time_zone="Europe/London", team="Field")
    starts = [on(0, 8), datetime.combine(MONDAY, time(8), LONDON).astimezone(AMS)]
    ends = [on(0, 17), datetime.combine(MONDAY, time(17), LONDON).astimezone(AMS)]
    first, last = min(start.hour for start in starts), max(end.hour for end in ends)
    assert (first, last) == (8, 18)
    for day in range(5):
        calendar_services.create_appointment(subject=f"Visit {day}", start=on(day, 9), end=on(day, 10), agents=[alice])
    page = week_of_rows(open_page, log_in, alice.teams.get(), width=1600, slot=60)
    days = page.locator(".ec-header .ec-slots")
    assert days.count() == 7
    for index in range(7):
        hours = days.nth(index).locator("time").evaluate_all("times => times.map(t => t.getAttribute('datetime'))")
        day = (MONDAY + timedelta(days=index)).isoformat()
        assert hours[0] == f"{day}T{first:02}:00:00", hours
        # The labels are spread over the day: the last one is within the window's last hours.
        assert f"{day}T{last - 3:02}:00:00" <= hours[-1] < f"{day}T{last:02}:00:00", hours
    scroll_width, client_width = sideways(page)
    assert scroll_width > client_width
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    # Ten hours a day: a one-hour entry is a tenth of its day's width.
    hour = page.locator(".ec-event", has_text="Visit 0").bounding_box()["width"]
    day_width = days.first.bounding_box()["width"]
    assert abs(day_width / (last - first) - hour) < 3, (day_width, hour)

    page.goto(f"/calendar/group/?team={alice.teams.get().pk}&layout=rows&days=1&slot=60&date=2035-03-05")
    settled(page)
    scroll_width, client_width = sideways(page)
    assert scroll_width <= client_width, f"one day is {scroll_width} px wide in a {client_width} px grid"


def test_a_week_in_rows_at_1400_px_shows_each_one_hour_entrys_subject(open_page, log_in, coordinator, make_agent):
    """Trial (uifix 1): a week of rows at 1400 px for technicians in three zones (Amsterdam,
    London, New York: a window of 08:00 to 23:00 on the coordinator's clock) cut every entry to a
    chip showing a digit of its time ("1..."), and still did not fit. Now each one-hour entry
    shows at least the first five letters of its subject on its first line and its start under
    it, its hover text whole, and the grid scrolls sideways to make room."""
    alice = make_agent("alice", team="Field")
    make_agent("bob", time_zone="Europe/London", team="Field")
    make_agent("carol", time_zone="America/New_York", team="Field")
    for day in range(7):
        calendar_services.create_appointment(
            subject=f"Visit Acme Logistics {day}", start=on(day, 11), end=on(day, 12), agents=[alice]
        )
    page = week_of_rows(open_page, log_in, alice.teams.get(), width=1400, slot=30)
    entries = page.locator(".ec-event[title*='Visit']")
    assert entries.count() == 7
    for index in range(7):
        entry = entries.nth(index)
        title = entry.locator(".ec-event-title")
        assert title.text_content().startswith("Visit Acme Logistics")
        assert shown_letters(title) >= 5
        # The subject is the first line, the start under it.
        time_box = entry.locator(".ec-event-time").bounding_box()
        assert title.bounding_box()["y"] + title.bounding_box()["height"] <= time_box["y"] + 1
        assert entry.locator(".ec-event-time").text_content() == "11:00"
        assert entry.get_attribute("title").startswith("11:00\u201312:00 \u00b7 Visit Acme Logistics ")
    scroll_width, client_width = sideways(page)
    assert scroll_width > client_width


def test_an_entry_too_narrow_for_its_label_names_its_times_and_subject_on_hover(
    open_page, log_in, coordinator, make_agent
):
    """Trial F16: in a week of rows a one-hour entry is too narrow for its label (the page showed
    "0..."), and it had no hover text. Now each entry's title names its times and subject; an
    imported private entry only its times and "Busy" (S2.5), never its subject."""
    alice = make_agent("alice", team="Field")
    calendar_services.create_appointment(subject="Visit Acme Logistics", start=on(1, 9), end=on(1, 10), agents=[alice])
    calendar_services.create_appointment(
        subject="Dentist",
        start=on(1, 14),
        end=on(1, 15, 30),
        agents=[alice],
        source=Appointment.Source.EXTERNAL,
        private=True,
    )
    page = log_in(open_page(width=1600, height=900), "coordinator")
    page.goto(f"/calendar/group/?team={alice.teams.get().pk}&layout=rows&days=7&slot=60&date=2035-03-05")
    settled(page)
    visit = page.locator(".ec-event[title*='Visit']")
    assert visit.get_attribute("title") == "09:00\u201310:00 \u00b7 Visit Acme Logistics"
    # Narrower than its own label: the hover text is the only place its subject can be read.
    title = visit.locator(".ec-event-title")
    assert title.evaluate("e => e.scrollWidth > e.clientWidth")
    private = page.locator(".ec-event.entry-unavailable")
    assert private.get_attribute("title") == "14:00\u201315:30 \u00b7 Busy"
    assert "Dentist" not in page.content()


def test_rows_are_of_one_height_and_a_drop_below_the_last_row_changes_nothing(
    open_page, log_in, coordinator, make_agent
):
    """Trial F8: the last technician's row filled the empty space under the rows (about 500 px),
    and an entry let go there went to that technician. Now the three rows are of one height
    (the tallest's: Carol's three entries at once), the space under them is empty, and an entry
    let go there, or under the calendar, stays where it was, with nothing sent."""
    alice = make_agent("alice", team="Field")
    make_agent("bob", team="Field")
    carol = make_agent("carol", team="Field")
    job = calendar_services.create_appointment(
        subject="Move desk phones", start=on(2, 10), end=on(2, 11), agents=[alice]
    )
    for index in range(3):
        calendar_services.create_appointment(subject=f"Overlap {index}", start=on(2, 9), end=on(2, 12), agents=[carol])
    page = log_in(open_page(width=1280, height=900), "coordinator")
    patches = []
    page.on("request", lambda request: request.method == "PATCH" and patches.append(request.url))
    page.goto(f"/calendar/group/?team={alice.teams.get().pk}&layout=rows&days=1&date=2035-03-07")
    settled(page)
    heads = [page.locator(".ec-body .ec-row-head").nth(i).bounding_box() for i in range(3)]
    assert max(head["height"] for head in heads) - min(head["height"] for head in heads) < 1, heads
    overlaps = [page.locator(".ec-event", has_text=f"Overlap {i}").bounding_box() for i in range(3)]
    assert heads[2]["y"] + heads[2]["height"] >= max(box["y"] + box["height"] for box in overlaps)
    bottom = heads[2]["y"] + heads[2]["height"]
    calendar_box = page.locator("#calendar").bounding_box()
    assert calendar_box["y"] + calendar_box["height"] - bottom > 100  # empty room under the rows

    start = centre(settled_box(page, page.locator(".ec-event", has_text="Move desk phones")))
    # Under the rows, and under the calendar (the widget read both as the nearest row).
    for target_y in (bottom + 40, calendar_box["y"] + calendar_box["height"] + 10):
        drag(page, start, (start[0], target_y))
        page.wait_for_selector("#calendar-message:not([hidden])")
        assert page.inner_text("#calendar-message").startswith("Not moved"), page.inner_text("#calendar-message")
        page.wait_for_timeout(300)
        assert patches == []
        job.refresh_from_db()
        assert [agent.pk for agent in job.agents.all()] == [alice.pk]
        assert (job.start, job.end) == (on(2, 10), on(2, 11))
        # Still drawn in Alice's row (the first).
        start = centre(settled_box(page, page.locator(".ec-event", has_text="Move desk phones")))
        alices = page.locator(".ec-body .ec-row-head").first.bounding_box()
        assert alices["y"] <= start[1] <= alices["y"] + alices["height"], (start, alices)


def test_short_entries_in_a_week_of_rows_on_a_phone_show_a_readable_short_label(
    open_page, log_in, coordinator, make_agent
):
    """Trial fault 15: at 390 px a week of rows showed a 30-minute request entry as "#…" over "0…"
    and Erin's 15-minute weekly "Backup check" as "↻ 0". Now each shows a whole short label (the
    request's number, the subject's first word) and names its times and subject on hover."""
    alice = make_agent("alice", team="Field")
    erin = make_agent("erin", team="Field")
    calendar_services.create_appointment(
        subject="#36 Install firewall update", start=on(1, 9), end=on(1, 9, 30), agents=[alice]
    )
    calendar_services.create_recurring_appointment(
        rule="FREQ=WEEKLY;COUNT=3", subject="Backup check", start=on(1, 9, 15), end=on(1, 9, 30), agents=[erin]
    )
    page = week_of_rows(open_page, log_in, alice.teams.get(), width=390, slot=30)

    for hover_text, label in (
        ("09:00\u201309:30 \u00b7 #36 Install firewall update", "#36"),
        ("09:15\u201309:30 \u00b7 \u21bb Backup check", "Backup"),
    ):
        entry = page.locator(f".ec-event[title='{hover_text}']")
        title = entry.locator(".ec-event-title")
        assert title.inner_text() == label
        # Whole, not cut: the label's text fits inside the entry.
        assert title.evaluate("e => e.scrollWidth <= e.clientWidth"), label
        box, label_box = entry.bounding_box(), title.locator(".label-short").bounding_box()
        assert box["x"] <= label_box["x"] and label_box["x"] + label_box["width"] <= box["x"] + box["width"] + 0.5
