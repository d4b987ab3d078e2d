"""Trial 7 and 12 (new-user trial): no word broken in its middle on a phone or a desktop, the top
navigation one line on a phone, a month entry one line, and short entries in the week view each
readable beside the next."""

import pytest

from calendars import services as calendar_services
from integrations.models import AgentCalendar, Connection, SyncLink
from tests.browser.test_calendar_in_browser import at, settled_box
from tickets import services as ticket_services

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# Every word (up to 30 letters; a longer one may break where it must) of the text shown on the
# page whose letters lie on more than one line: [word, its text's element].
BROKEN_WORDS = """() => {
  const broken = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const element = node.parentElement;
    if (!element || !element.checkVisibility() || element.closest("script, style, dialog:not([open])")) continue;
    for (const match of node.data.matchAll(/\\S+/g)) {
      if (match[0].length > 30) continue;
      const range = document.createRange();
      range.setStart(node, match.index);
      range.setEnd(node, match.index + match[0].length);
      const tops = new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top)));
      if (tops.size > 1) broken.push([match[0], element.tagName + "." + element.className]);
    }
  }
  return broken;
}"""


def _waiting_approval(alice, **times):
    appointment = calendar_services.create_appointment(subject="Migrate mailbox", agents=[alice], **times)
    connection = Connection.objects.create(name="Demo Radicale", kind="caldav", server_url="http://127.0.0.1:9/")
    calendar = AgentCalendar.objects.create(agent=alice, connection=connection, calendar_name="Work")
    SyncLink.objects.create(agent_calendar=calendar, appointment=appointment, approval=SyncLink.Approval.WAITING)
    return appointment


def test_to_approve_page_on_a_phone_breaks_no_word_and_its_menu_is_one_line(open_page, log_in, alice):
    """Trial t33: at 390x844 the to-approve table read "Appoint/ment", "Cale/ndar", "Appro/ve",
    "Declin/e", and the top navigation took four lines."""
    _waiting_approval(alice, start=at(17, 9), end=at(17, 11))
    page = log_in(open_page(width=390, height=844), "alice")

    page.goto("/")
    page.click(".menu-toggle")
    page.click("a.approval-badge")

    assert page.evaluate(BROKEN_WORDS) == []
    # The cards' labels (CSS ::before, which BROKEN_WORDS cannot see) each fit their column.
    labels = page.locator("table.stack-narrow td").evaluate_all(
        """cells => cells.map((cell) => [cell.dataset.label, getComputedStyle(cell, "::before").width,
            cell.getBoundingClientRect().width])"""
    )
    canvas = "(text) => { const c = document.createElement('canvas').getContext('2d'); c.font = '600 16px system-ui'; "
    canvas += "return c.measureText(text).width; }"
    for label, column, _ in labels:
        assert page.evaluate(f"({canvas})({label!r})") <= float(column.removesuffix("px")), (label, column)
    assert page.get_by_role("button", name="Approve").is_visible()
    topbar = page.locator(".topbar").bounding_box()
    brand = page.locator(".topbar .brand").bounding_box()
    assert topbar["height"] < 2.2 * brand["height"] + 16, topbar
    assert not page.locator(".topbar nav").is_visible()
    page.click(".menu-toggle")
    assert page.locator(".topbar nav a", has_text="Group calendar").is_visible()
    assert page.locator(".menu-toggle").get_attribute("aria-expanded") == "true"


def test_appointments_tab_heads_and_request_list_keep_words_whole(open_page, log_in, coordinator, alice):
    """Trial c15: at 1400 px the Appointments tab's head read "Technician/s"."""
    ticket = ticket_services.create_request(summary="Replace switch", assigned_agents=[alice])
    calendar_services.create_appointment(
        subject="Install the new switch in the second-floor meeting room",
        start=at(3, 10),
        end=at(3, 11),
        agents=[alice],
        request=ticket,
    )
    page = log_in(open_page(width=1400, height=900), "coordinator")
    page.goto(f"/requests/{ticket.pk}/?tab=appointments")
    assert page.evaluate(BROKEN_WORDS) == []
    for width in (1400, 390):
        page.set_viewport_size({"width": width, "height": 844})
        page.goto("/requests/")
        assert page.evaluate(BROKEN_WORDS) == [], width


def test_month_entry_on_a_phone_is_one_line_of_its_subject(open_page, log_in, alice):
    """Trial t32: the 17 Dec entry awaiting approval was a column of garbled letters, and the
    other entries showed only their times."""
    _waiting_approval(alice, start=at(17, 9), end=at(17, 11))
    calendar_services.create_appointment(subject="Printer swap", start=at(18, 15), end=at(18, 16), agents=[alice])
    page = log_in(open_page(width=390, height=844), "alice")
    page.goto("/calendar/?date=2026-03-17&view=dayGridMonth")
    for subject in ("Migrate mailbox", "Printer swap"):
        entry = page.locator(".ec-event", has_text=subject)
        box = settled_box(page, entry)
        title = entry.locator(".ec-event-title")
        assert box["height"] < 30, (subject, box)
        assert title.bounding_box()["width"] > 20, subject
    assert "Awaiting approval" in page.locator(".ec-event", has_text="Migrate mailbox").get_attribute("title")


def test_short_entries_next_to_each_other_in_the_week_view_are_each_readable(open_page, log_in, alice):
    """Trial t01: 09:00-09:30 and 09:30-09:45 on one day; the second was a strip under the first
    with its label cut. Each now shows its whole time label, neither covering the other."""
    calendar_services.create_appointment(subject="Set up laptop", start=at(2, 9), end=at(2, 9, 30), agents=[alice])
    calendar_services.create_appointment(subject="Trial call", start=at(2, 9, 30), end=at(2, 9, 45), agents=[alice])
    calendar_services.create_appointment(subject="Quick one", start=at(2, 9, 45), end=at(2, 9, 50), agents=[alice])
    page = log_in(open_page(width=1400, height=900), "alice")
    page.goto("/calendar/?date=2026-03-02&view=timeGridWeek")
    boxes = {}
    labels = {"Set up laptop": "09:00–09:30", "Trial call": "09:30–09:45", "Quick one": "09:45–09:50"}
    for subject, label in labels.items():
        entry = page.locator(".ec-event", has_text=subject)
        boxes[subject] = settled_box(page, entry)
        time = entry.locator(".ec-event-time")
        assert time.inner_text() == label
        assert time.evaluate("e => e.scrollWidth <= e.clientWidth && e.scrollHeight <= e.clientHeight + 1"), subject
        # Its label lies inside the entry as drawn.
        shown = time.bounding_box()
        assert shown["y"] + shown["height"] <= boxes[subject]["y"] + boxes[subject]["height"] + 1, subject
    names = list(boxes)
    for first, second in zip(names, names[1:] + names[:1]):
        a, b = boxes[first], boxes[second]
        apart = (
            a["x"] + a["width"] <= b["x"] + 1
            or b["x"] + b["width"] <= a["x"] + 1
            or a["y"] + a["height"] <= b["y"] + 1
            or b["y"] + b["height"] <= a["y"] + 1
        )
        assert apart, (first, a, second, b)
