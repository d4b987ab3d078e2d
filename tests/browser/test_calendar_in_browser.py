from datetime import datetime
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest

from calendars import services as calendar_services
from calendars.models import Appointment
from tickets import services as ticket_services

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

AMS = ZoneInfo("Europe/Amsterdam")


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=AMS)


def drag(page, start: tuple[float, float], end: tuple[float, float]) -> None:
    """A drag the widget accepts: press, move in steps, release."""
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(*end, steps=15)
    page.mouse.up()


def settled_box(page, locator) -> dict:
    """The element's box once the widget has stopped laying out (it scrolls to the morning
    and re-renders after loading entries)."""
    page.wait_for_load_state("networkidle")
    box = locator.bounding_box()
    for _ in range(50):
        page.wait_for_timeout(100)
        again = locator.bounding_box()
        if again == box:
            return box
        box = again
    raise AssertionError("The calendar kept moving.")


def centre(box) -> tuple[float, float]:
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def wait_saved(page) -> None:
    page.wait_for_selector("#calendar-message:not([hidden])")
    message = page.inner_text("#calendar-message")
    assert message == "Saved.", message


def test_log_in_and_create_appointment_on_request_for_two_agents(open_page, log_in, alice, bob):
    ticket = ticket_services.create_request(summary="Replace switch", assigned_agents=[alice])
    page = log_in(open_page(), "alice")
    page.goto(f"/requests/{ticket.pk}/?tab=appointments")
    page.fill("#id_appointment-subject", "Install new switch")
    page.fill("#id_appointment-start", "2026-03-03T10:00")
    page.fill("#id_appointment-end", "2026-03-03T12:00")
    page.check(f"input[name=appointment-agents][value='{bob.pk}']")
    page.check("input[name=appointment-entries][value=each]")
    page.click("#appointment-form button[type=submit]")
    page.wait_for_selector("text=2 appointment(s) created.")
    rows = page.locator("table.appointments tbody tr")
    assert rows.count() == 2
    made = Appointment.objects.filter(request=ticket, subject="Install new switch")
    assert sorted(a.agents.get().user.username for a in made) == ["alice", "bob"]
    assert all(a.start == at(3, 10) and a.end == at(3, 12) for a in made)


def test_drag_and_resize_on_personal_calendar_are_saved(open_page, log_in, alice):
    appointment = calendar_services.create_appointment(
        subject="Visit Acme", start=at(3, 9), end=at(3, 10), agents=[alice]
    )
    page = log_in(open_page(), "alice")
    page.goto("/calendar/?date=2026-03-02")
    entry = page.locator(".ec-event", has_text="Visit Acme")
    box = settled_box(page, entry)
    # One hour is the entry's own height: drag it down by that much.
    x, y = centre(box)
    drag(page, (x, y), (x, y + box["height"]))
    wait_saved(page)
    page.reload()
    entry = page.locator(".ec-event", has_text="Visit Acme")
    box = settled_box(page, entry)
    # Now the bottom edge, half an hour further.
    x = box["x"] + box["width"] / 2
    bottom = box["y"] + box["height"] - 3
    entry.hover()
    drag(page, (x, bottom), (x, bottom + box["height"] / 2))
    wait_saved(page)
    page.reload()
    page.wait_for_selector(".ec-event:has-text('Visit Acme')")
    appointment.refresh_from_db()
    assert (appointment.start, appointment.end) == (at(3, 10), at(3, 11, 30))
    shown = page.locator(".ec-event", has_text="Visit Acme").inner_text()
    assert "10:00" in shown and "11:30" in shown


def test_reassign_by_dragging_to_another_technician_on_group_calendar(open_page, log_in, coordinator, alice, bob):
    appointment = calendar_services.create_appointment(
        subject="Network check", start=at(2, 10), end=at(2, 11), agents=[alice]
    )
    page = log_in(open_page(), "coordinator")
    page.goto(f"/calendar/group/?agent={alice.pk}&agent={bob.pk}&layout=columns&days=1&date=2026-03-02")
    entry = page.locator(".ec-event", has_text="Network check")
    start = centre(settled_box(page, entry))
    bob_column = settled_box(page, page.locator("#calendar").get_by_text("Bob", exact=True))
    drag(page, start, (bob_column["x"] + bob_column["width"] / 2, start[1]))
    wait_saved(page)
    appointment.refresh_from_db()
    assert [agent.user.username for agent in appointment.agents.all()] == ["bob"]
    assert (appointment.start, appointment.end) == (at(2, 10), at(2, 11))


def test_a_drag_onto_a_technician_already_on_the_entry_says_so_and_keeps_both(
    open_page, log_in, coordinator, alice, bob
):
    # Trial 4: the swap took Alice off the entry, and the page spoke of something else.
    appointment = calendar_services.create_appointment(
        subject="Team stand-up", start=at(2, 10), end=at(2, 11), agents=[alice, bob]
    )
    page = log_in(open_page(), "coordinator")
    page.goto(f"/calendar/group/?agent={alice.pk}&agent={bob.pk}&layout=columns&days=1&date=2026-03-02")
    entry = page.locator(".ec-event", has_text="Team stand-up").first
    start = centre(settled_box(page, entry))
    bob_column = settled_box(page, page.locator("#calendar").get_by_text("Bob", exact=True))
    assert start[0] < bob_column["x"], "the first copy is in Alice's column"
    drag(page, start, (bob_column["x"] + bob_column["width"] / 2, start[1]))
    page.wait_for_selector("#calendar-message:not([hidden])")
    assert page.inner_text("#calendar-message") == f"Not moved: {bob.name} is already on it."
    page.wait_for_load_state("networkidle")
    assert sorted(agent.pk for agent in appointment.agents.all()) == sorted([alice.pk, bob.pk])
    assert appointment.sequence == Appointment.objects.get(pk=appointment.pk).sequence


def test_imported_entry_cannot_be_dragged_to_another_technician_but_moves_in_time(
    open_page, log_in, coordinator, alice, bob
):
    """Trial report, problem 1: alice's own "Dentist" (imported from her calendar) dropped on Bob's
    column stays in hers, the page says why and sends nothing; a drag down her own column saves."""
    dentist = calendar_services.create_appointment(
        subject="Dentist", start=at(2, 10), end=at(2, 11), agents=[alice], source=Appointment.Source.EXTERNAL
    )
    page = log_in(open_page(), "coordinator")
    page.goto(f"/calendar/group/?agent={alice.pk}&agent={bob.pk}&layout=columns&days=1&date=2026-03-02")
    writes = []
    page.on("request", lambda request: writes.append(request.url) if request.method != "GET" else None)
    entry = page.locator(".ec-event", has_text="Dentist")
    start = centre(settled_box(page, entry))
    bob_column = settled_box(page, page.locator("#calendar").get_by_text("Bob", exact=True))

    drag(page, start, (bob_column["x"] + bob_column["width"] / 2, start[1]))

    page.wait_for_selector("#calendar-message:not([hidden])")
    refusal = page.inner_text("#calendar-message")
    assert "cannot be given to another technician" in refusal
    assert settled_box(page, entry)["x"] < bob_column["x"]  # still drawn in Alice's column
    assert writes == []
    dentist.refresh_from_db()
    assert ([agent.pk for agent in dentist.agents.all()], dentist.start) == ([alice.pk], at(2, 10))

    hour = settled_box(page, entry)["height"]
    drag(page, start, (start[0], start[1] + hour))

    page.wait_for_function("(old) => document.querySelector('#calendar-message').textContent !== old", arg=refusal)
    wait_saved(page)
    dentist.refresh_from_db()
    assert ([agent.pk for agent in dentist.agents.all()], dentist.start) == ([alice.pk], at(2, 11))


def test_private_external_entry_shows_data_unavailable(open_page, log_in, coordinator, alice):
    calendar_services.create_appointment(
        subject="Doctor: results",
        note="Secret note",
        location="Hospital",
        start=at(3, 14),
        end=at(3, 15),
        agents=[alice],
        source=Appointment.Source.EXTERNAL,
        private=True,
    )
    page = log_in(open_page(), "coordinator")
    page.goto(f"/calendar/?agent={alice.pk}&date=2026-03-02")
    entry = page.locator(".ec-event.entry-unavailable")
    assert "Data unavailable" in entry.inner_text()
    assert "Doctor" not in page.content() and "Hospital" not in page.content()


def test_phone_width_calendar_has_no_horizontal_page_scroll(open_page, log_in, coordinator, alice, bob):
    calendar_services.create_appointment(subject="Visit", start=at(3, 9), end=at(3, 10), agents=[alice])
    ticket = ticket_services.create_request(summary="Printer", assigned_agents=[alice, bob], planned_start=at(3, 11))
    page = log_in(open_page(width=390, height=844), "coordinator")
    for url in (
        f"/calendar/?agent={alice.pk}&date=2026-03-02",
        "/calendar/group/?date=2026-03-02",
        "/calendar/group/?date=2026-03-02&layout=rows&days=7",
        "/requests/",
        f"/requests/{ticket.pk}/?tab=appointments",
        f"/requests/{ticket.pk}/edit/",
    ):
        page.goto(url)
        page.wait_for_load_state("networkidle")
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{url} scrolls sideways by {overflow}px"


def test_click_on_entry_opens_it_and_click_on_empty_slot_starts_a_new_one(open_page, log_in, alice):
    appointment = calendar_services.create_appointment(
        subject="Visit Acme", start=at(3, 9), end=at(3, 10), agents=[alice]
    )
    page = log_in(open_page(), "alice")
    page.goto("/calendar/?date=2026-03-03&view=timeGridDay")
    page.locator(".ec-event", has_text="Visit Acme").click()
    came_from = urlencode({"next": "/calendar/?date=2026-03-03&view=timeGridDay"})
    # With the page it came from, for the way back after a delete (trial fault 11).
    page.wait_for_url(lambda url: url.endswith(f"/calendar/appointments/{appointment.pk}/?{came_from}"))
    page.go_back()
    entry = settled_box(page, page.locator(".ec-event", has_text="Visit Acme"))
    # Two hours below the entry's start is 11:00, an empty slot.
    page.mouse.click(entry["x"] + entry["width"] / 2, entry["y"] + 2 * entry["height"] + 5)
    page.wait_for_url("**/calendar/appointments/new/**")
    assert page.input_value("#id_start") == "2026-03-03T11:00"
    assert page.is_checked(f"input[name=agents][value='{alice.pk}']")


@pytest.mark.parametrize("layout", ["columns", "rows", "grid"])
def test_group_layouts_show_entries_without_script_errors(open_page, log_in, coordinator, alice, bob, layout):
    calendar_services.create_appointment(subject="Shared job", start=at(2, 10), end=at(2, 11), agents=[alice, bob])
    page = log_in(open_page(), "coordinator")
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"/calendar/group/?layout={layout}&days=2&slot=15&date=2026-03-02")
    page.wait_for_selector(".ec-event:has-text('Shared job')")
    expected = 1 if layout == "grid" else 2  # once per technician when they have their own column or row
    assert page.locator(".ec-event", has_text="Shared job").count() == expected
    assert errors == []


def test_entry_text_is_shown_as_text_not_markup(open_page, log_in, alice):
    calendar_services.create_appointment(
        subject='<img src=x onerror="window.injected=1">Trap', start=at(3, 9), end=at(3, 10), agents=[alice]
    )
    page = log_in(open_page(), "alice")
    page.goto("/calendar/?date=2026-03-02")
    entry = page.locator(".ec-event", has_text="Trap")
    assert "<img" in entry.inner_text()
    assert page.evaluate("window.injected") is None


def test_technician_starts_a_new_appointment_only_in_her_own_group_column(open_page, log_in, alice, bob):
    calendar_services.create_appointment(subject="Alice visit", start=at(3, 9), end=at(3, 10), agents=[alice])
    calendar_services.create_appointment(subject="Bob visit", start=at(3, 9), end=at(3, 10), agents=[bob])
    page = log_in(open_page(), "alice")
    page.goto(f"/calendar/group/?agent={alice.pk}&agent={bob.pk}&layout=columns&days=1&date=2026-03-03")
    bobs = settled_box(page, page.locator(".ec-event", has_text="Bob visit"))
    # Two hours below his entry's start: an empty slot in Bob's column, where alice may not create.
    page.mouse.click(bobs["x"] + bobs["width"] / 2, bobs["y"] + 2 * bobs["height"] + 5)
    page.wait_for_timeout(500)
    assert "/calendar/group/" in page.url
    alices = settled_box(page, page.locator(".ec-event", has_text="Alice visit"))
    page.mouse.click(alices["x"] + alices["width"] / 2, alices["y"] + 2 * alices["height"] + 5)
    page.wait_for_url("**/calendar/appointments/new/**")
    assert page.is_checked(f"input[name=agents][value='{alice.pk}']")
    assert page.locator(f"input[name=agents][value='{bob.pk}']").count() == 0


def test_phone_day_view_names_its_date_and_opens_at_working_hours(open_page, log_in, alice):
    """On a 390x844 screen (trial report) the personal calendar opens in the day view; its toolbar
    names the day shown and the grid starts at alice's working hours (the site's default,
    08:00-17:00 Amsterdam), not at midnight: the 08:00 row is on screen, 00:00 is not."""
    calendar_services.create_appointment(subject="Visit", start=at(3, 9), end=at(3, 10), agents=[alice])
    page = log_in(open_page(width=390, height=844), "alice")
    page.goto("/calendar/?date=2026-03-03")
    settled_box(page, page.locator(".ec-event", has_text="Visit"))
    title = page.locator(".ec-toolbar .ec-title")
    assert title.is_visible() and "3" in title.inner_text() and "Mar" in title.inner_text(), title.inner_text()

    def on_screen(label: str) -> bool:
        # The hour labels down the side of the grid; .ec-main is the part that scrolls.
        box = page.locator(".ec-body .ec-sidebar time", has_text=label).bounding_box()
        shown = page.locator(".ec-main").bounding_box()
        return shown["y"] <= box["y"] < min(shown["y"] + shown["height"], 844)

    assert on_screen("08:00")
    assert not on_screen("00:00")
