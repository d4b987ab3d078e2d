"""Trial report F4 on the group calendar, where a coordinator plans: an entry says under its title
whose external calendar it is not on because they have not approved it yet (policy Ask) or declined it."""

import pytest
from playwright.sync_api import expect

from calendars import services as calendar_services
from integrations.models import AgentCalendar, Connection, SyncLink
from tests.browser.test_calendar_in_browser import at, settled_box

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_group_calendar_shows_who_has_not_approved_or_declined(open_page, log_in, coordinator, alice, bob):
    audit = calendar_services.create_appointment(
        subject="Server room audit", start=at(2, 10), end=at(2, 12), agents=[alice, bob]
    )
    swap = calendar_services.create_appointment(subject="Printer swap", start=at(2, 13), end=at(2, 15), agents=[bob])
    # Made after the appointments, so no push is queued; the links stand for the technicians' answers.
    connection = Connection.objects.create(name="Office CalDAV", kind="caldav", server_url="http://127.0.0.1:9/")
    alice_calendar = AgentCalendar.objects.create(agent=alice, connection=connection, calendar_name="Work")
    bob_calendar = AgentCalendar.objects.create(agent=bob, connection=connection, calendar_name="Work")
    SyncLink.objects.create(agent_calendar=alice_calendar, appointment=audit, approval=SyncLink.Approval.WAITING)
    SyncLink.objects.create(agent_calendar=bob_calendar, appointment=audit, approval=SyncLink.Approval.DECLINED)
    SyncLink.objects.create(agent_calendar=bob_calendar, appointment=swap, local_hash="a", remote_hash="b")

    page = log_in(open_page(), "coordinator")
    page.goto(f"/calendar/group/?agent={alice.pk}&agent={bob.pk}&layout=columns&days=1&date=2026-03-02")
    audit_entries = page.locator(".ec-event", has_text="Server room audit")
    settled_box(page, audit_entries.first)

    # One part in each technician's column, each saying the same.
    expect(audit_entries.locator(".ec-event-approval")).to_have_text(
        ["Awaiting approval: Alice \u00b7 Declined: Bob"] * 2
    )
    # On Bob's calendar: nothing to say.
    expect(page.locator(".ec-event", has_text="Printer swap").locator(".ec-event-approval")).to_have_count(0)


def inside(inner: dict, outer: dict) -> bool:
    return (
        inner["x"] >= outer["x"] - 0.5
        and inner["y"] >= outer["y"] - 0.5
        and inner["x"] + inner["width"] <= outer["x"] + outer["width"] + 0.5
        and inner["y"] + inner["height"] <= outer["y"] + outer["height"] + 0.5
    )


def overlap(one: dict, other: dict) -> bool:
    return not (
        one["x"] + one["width"] <= other["x"]
        or other["x"] + other["width"] <= one["x"]
        or one["y"] + one["height"] <= other["y"]
        or other["y"] + other["height"] <= one["y"]
    )


@pytest.mark.parametrize(
    ("layout", "width"),
    [("columns", 1400), ("rows", 1400), ("columns", 390), ("rows", 390)],
)
def test_a_declined_one_hour_entry_shows_its_subject_and_the_answer(
    open_page, log_in, coordinator, alice, bob, layout, width
):
    """Trial (uifix 2): on a one-hour entry Bob declined, the line "Declined: Bob" took the
    subject's place in a column (the subject squeezed to nothing under it) and ran out of the
    entry over the grid in a row. Now the subject keeps a whole line, the answer is drawn inside
    the entry and apart from the subject (cut short if it must be), and the hover text has both."""
    ups = calendar_services.create_appointment(
        subject="UPS battery warning", start=at(2, 15, 30), end=at(2, 16, 30), agents=[alice, bob]
    )
    connection = Connection.objects.create(name="Office CalDAV", kind="caldav", server_url="http://127.0.0.1:9/")
    bob_calendar = AgentCalendar.objects.create(agent=bob, connection=connection, calendar_name="Work")
    SyncLink.objects.create(agent_calendar=bob_calendar, appointment=ups, approval=SyncLink.Approval.DECLINED)

    page = log_in(open_page(width=width, height=844 if width < 600 else 900), "coordinator")
    page.goto(f"/calendar/group/?agent={alice.pk}&agent={bob.pk}&layout={layout}&days=1&date=2026-03-02")
    entry = page.locator(".ec-event", has_text="UPS battery").first
    box = settled_box(page, entry)
    title = entry.locator(".ec-event-title")
    approval = entry.locator(".ec-event-approval")
    expect(approval).to_have_text("Declined: Bob")
    title_box, approval_box = title.bounding_box(), approval.bounding_box()
    line = title.evaluate("e => parseFloat(getComputedStyle(e).lineHeight)")
    assert title_box["height"] >= line - 0.5, (title_box, line)
    assert title.evaluate("e => e.clientHeight") >= line - 0.5
    assert inside(title_box, box) or layout == "rows"  # a row's subject sticks while scrolling
    assert approval.evaluate("e => e.clientWidth") > 0
    assert inside(approval_box, box), (approval_box, box)
    assert not overlap(title_box, approval_box), (title_box, approval_box)
    assert entry.get_attribute("title") == "15:30\u201316:30 \u00b7 UPS battery warning\nDeclined: Bob"
