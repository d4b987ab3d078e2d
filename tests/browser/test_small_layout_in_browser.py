"""Layout faults of the trial report (problem 7) in a real browser: the sync page on a phone,
checkboxes beside their labels, and the calendar's save status where it is seen."""

import pytest

from calendars import services as calendar_services
from integrations.models import AgentCalendar, Connection, SyncLogEntry
from tests.browser.test_calendar_in_browser import at, centre, drag, settled_box, wait_saved
from tickets import services as ticket_services

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_sync_page_on_a_phone_does_not_scroll_sideways(open_page, log_in, alice):
    """At 390x844 the "Recent activity" table was 534 px wide and cut off its Result column."""
    connection = Connection.objects.create(name="Office CalDAV", kind="caldav", server_url="http://127.0.0.1:9/")
    calendar = AgentCalendar.objects.create(agent=alice, connection=connection, calendar_name="Work")
    for operation, result, message in (
        ("create", "ok", ""),
        ("update", "error", "The server answered 412 Precondition Failed: the entry changed on the server meanwhile."),
        ("delete", "conflict", "Deleted in the helpdesk, changed on https://dav.example.com/alice/work/entry-123.ics"),
    ):
        SyncLogEntry.objects.create(
            agent_calendar=calendar,
            direction="out",
            operation=operation,
            result=result,
            subject="Replace the network switch in the second-floor meeting room",
            message=message,
        )
    page = log_in(open_page(width=390, height=844), "alice")

    page.goto("/me/sync/")

    assert page.locator("#recent-activity").is_visible()
    widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert widths[0] <= widths[1], f"the page is {widths[0]} px wide in a {widths[1]} px window"
    result = page.locator("#recent-activity td[data-label=Result]").first.bounding_box()
    assert result["x"] >= 0 and result["x"] + result["width"] <= 390


def _beside(page, field_id: str) -> None:
    """The checkbox and its label on one line, the box first and close to the label."""
    box = page.locator(f"#{field_id}").bounding_box()
    label = page.locator(f"label[for={field_id}]").bounding_box()
    assert box["x"] + box["width"] <= label["x"] <= box["x"] + box["width"] + 20, (box, label)
    assert abs((box["y"] + box["height"] / 2) - (label["y"] + label["height"] / 2)) < 8, (box, label)


def test_checkboxes_sit_beside_their_labels(open_page, log_in, alice):
    """ "Private" and "Save it anyway" sat centred on a line of their own, away from their labels."""
    calendar_services.create_appointment(subject="Busy", start=at(3, 10), end=at(3, 11), agents=[alice])
    ticket = ticket_services.create_request(summary="Replace switch", assigned_agents=[alice])
    page = log_in(open_page(), "alice")
    page.goto(f"/requests/{ticket.pk}/?tab=appointments")
    _beside(page, "id_appointment-private")

    page.fill("#id_appointment-subject", "Install new switch")
    page.fill("#id_appointment-start", "2026-03-03T10:30")
    page.fill("#id_appointment-end", "2026-03-03T11:30")
    page.click("#appointment-form button[type=submit]")
    page.wait_for_selector("#id_appointment-confirm_overlap")

    _beside(page, "id_appointment-confirm_overlap")
    _beside(page, "id_appointment-private")


def test_group_calendar_save_status_shows_above_the_grid_in_view(open_page, log_in, coordinator, alice, bob):
    """ "Saved." appeared below the grid, at the very bottom of an 800 px window."""
    calendar_services.create_appointment(subject="Network check", start=at(2, 10), end=at(2, 11), agents=[alice])
    page = log_in(open_page(width=1280, height=800), "coordinator")
    page.goto(f"/calendar/group/?agent={alice.pk}&agent={bob.pk}&layout=columns&days=1&date=2026-03-02")
    entry = page.locator(".ec-event", has_text="Network check")
    start = centre(settled_box(page, entry))
    bob_column = settled_box(page, page.locator("#calendar").get_by_text("Bob", exact=True))

    drag(page, start, (bob_column["x"] + bob_column["width"] / 2, start[1]))
    wait_saved(page)

    status = page.locator("#calendar-message")
    assert status.get_attribute("role") == "status"
    box = status.bounding_box()
    grid = page.locator("#calendar").bounding_box()
    assert box["y"] + box["height"] <= grid["y"] + 1, (box, grid)
    assert box["y"] >= 0 and box["y"] + box["height"] <= 800 / 2
    # Scrolled to the bottom of the page, it is still in view.
    page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
    box = page.locator("#calendar-message").bounding_box()
    assert box["y"] >= 0 and box["y"] + box["height"] <= 800


def test_group_calendar_of_eight_technicians_on_a_phone_keeps_readable_columns(
    open_page, log_in, coordinator, make_agent
):
    """Trial of main: at 390x844 the demo's eight technicians as columns were 37 px each, names
    cut to "A... J..." and entries to three letters. Each column is at least 7rem (112 px) and
    shows the whole name; the grid, not the page, scrolls sideways, and a drag there still saves."""
    names = ["Alice Jansen", "Bob de Vries", "Carol Smith", "Dave Bakker", "Erin Jones", "Frank Miller"]
    names += ["Grace Visser", "Henk Mulder"]
    agents = []
    for name in names:
        first, last = name.split(" ", 1)
        agent = make_agent(first.lower())
        agent.user.last_name = last
        agent.user.save()
        agents.append(agent)
    job = calendar_services.create_appointment(subject="Job", start=at(2, 9), end=at(2, 10), agents=[agents[0]])
    page = log_in(open_page(width=390, height=844), "coordinator")
    page.goto("/calendar/group/?layout=columns&days=1&date=2026-03-02")
    box = settled_box(page, page.locator(".ec-event", has_text="Job"))
    heads = page.locator(".ec-header .ec-col-head")
    assert heads.count() == 8
    for index in range(8):
        head = heads.nth(index)
        assert head.bounding_box()["width"] >= 112
        assert head.evaluate("element => element.scrollWidth <= element.clientWidth"), head.inner_text()
    widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert widths[0] <= widths[1], f"the page is {widths[0]} px wide in a {widths[1]} px window"
    assert page.evaluate("(main => main.scrollWidth > main.clientWidth)(document.querySelector('.ec-main'))")
    # Alice's hour dragged one hour down in her (first) column.
    x, y = centre(box)
    drag(page, (x, y), (x, y + box["height"]))
    wait_saved(page)
    job.refresh_from_db()
    assert (job.start, job.end) == (at(2, 10), at(2, 11))


def _columns_in_view(page, table: str, container: str) -> None:
    """Every header cell of the table lies within what its (sideways-scrolling) container shows."""
    shown = page.locator(container).first.bounding_box()
    widths = page.locator(container).first.evaluate("e => [e.scrollWidth, e.clientWidth]")
    assert widths[0] <= widths[1], f"{table} is {widths[0]} px wide in {widths[1]} px"
    for index in range(page.locator(f"{table} thead th").count()):
        head = page.locator(f"{table} thead th").nth(index).bounding_box()
        assert shown["x"] <= head["x"] and head["x"] + head["width"] <= shown["x"] + shown["width"] + 1, (index, head)


def test_a_long_unbroken_subject_wraps_in_tables_instead_of_pushing_columns_out_of_view(
    open_page, log_in, coordinator, alice
):
    """Trial F7: an external entry's 255-character subject of one word (the import's cut of a
    200,000-character one) stretched the sync page's "Entry" column so that "Result" and "What
    happened" sat 2,900 px to the right, out of view. It wraps now: on the sync page and in the
    request list every column stays in a 1280 px window; in admin's sync log the subject's
    column stays narrow."""
    from django.contrib.auth.models import User

    word = "Huge" + "X" * 251
    connection = Connection.objects.create(name="Office CalDAV", kind="caldav", server_url="http://127.0.0.1:9/")
    calendar = AgentCalendar.objects.create(agent=alice, connection=connection, calendar_name="Work")
    for result in ("error", "ok"):
        SyncLogEntry.objects.create(
            agent_calendar=calendar,
            direction="in",
            operation="create",
            result=result,
            subject=word,
            message="The description is longer than 20000 characters: it is cut, with a note.",
        )
    ticket_services.create_request(summary=word[:200], assigned_agents=[alice], customer=word[:200])
    User.objects.create_superuser("root", "root@example.com", "pw")

    page = log_in(open_page(width=1280, height=900), "alice")
    page.goto("/me/sync/")
    _columns_in_view(page, "#entry-notes", ".table-wrap:has(#entry-notes)")
    _columns_in_view(page, "#recent-activity", ".table-wrap:has(#recent-activity)")
    page = log_in(open_page(width=1280, height=900), "coordinator")
    page.goto("/requests/")
    _columns_in_view(page, "table.list", ".table-wrap")
    page = log_in(open_page(width=1280, height=900), "root")
    page.goto("/admin/integrations/synclogentry/")
    # Admin's list scrolls sideways beside its filters as Django's does; the subject wraps in it.
    subject = page.locator("#result_list td.field-subject").first.bounding_box()
    assert subject["width"] < 400, subject


def test_request_list_on_a_phone_shows_status_technicians_and_planned_first(open_page, log_in, coordinator, alice):
    """Trial fault 15: at 390 px the request list was cut after Site; Status showed half and
    Technicians and Planned, what a dispatcher needs, were off-screen. Now each request is a
    card: summary, then status, technicians and planned, then customer and site, all in view."""
    ticket = ticket_services.create_request(
        summary="Projector shows no signal", assigned_agents=[alice], customer="Acme Logistics", site="Rotterdam"
    )
    ticket_services.update_request(ticket, by=coordinator, status="in_progress")
    page = log_in(open_page(width=390, height=844), "coordinator")

    page.goto("/requests/")

    widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert widths[0] <= widths[1], f"the page is {widths[0]} px wide in a {widths[1]} px window"
    cells = {
        label: page.locator(f"table.list td[data-label={label}]").first
        for label in ("Summary", "Status", "Technicians", "Planned", "Customer", "Site")
    }
    boxes = {label: cell.bounding_box() for label, cell in cells.items()}
    for label, box in boxes.items():
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, (label, box)
    assert cells["Status"].inner_text().endswith("In progress")
    assert cells["Technicians"].inner_text().endswith("Alice")
    order = sorted(boxes, key=lambda label: boxes[label]["y"])
    assert order == ["Summary", "Status", "Technicians", "Planned", "Customer", "Site"]
