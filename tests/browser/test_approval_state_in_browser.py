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
