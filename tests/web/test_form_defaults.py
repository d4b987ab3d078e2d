"""Trial 14: form defaults that cost clicks. The action form started with "Time taken 0", an empty
"Started" and, for a technician, a blank "---------" beside herself; the appointment form on a
request with empty times. Now: started now (to the 5 minutes before), the request's estimate,
the signed-in technician only; an appointment from the next whole hour for the estimate."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone
from lxml import html

from calendars.models import CalendarSettings
from tickets import services

AMS = ZoneInfo("Europe/Amsterdam")  # alice's zone, the pages' clock


def _page(client, ticket, tab="actions"):
    before = timezone.now()
    page = html.fromstring(client.get(f"/requests/{ticket.pk}/", {"tab": tab}).content)
    return page, before, timezone.now()


def _wall_clock(moment: datetime, minutes: int, up: bool = False) -> str:
    """The wall-clock text of `moment` cut to whole `minutes` (worked here apart from the code)."""
    local = moment.astimezone(AMS).replace(second=0, microsecond=0)
    local -= timedelta(minutes=local.minute % minutes)
    if up and local <= moment:  # the first whole step after `moment`
        local += timedelta(minutes=minutes)
    return local.strftime("%Y-%m-%dT%H:%M")


def test_action_form_defaults_to_now_the_estimate_and_the_technician_herself(page_client, alice, ticket):
    ticket.estimate = timedelta(minutes=90)
    ticket.save()
    page, before, after = _page(page_client(alice.user), ticket)

    options = page.xpath("//select[@name='action-agent']/option")
    assert [(option.get("value"), option.text) for option in options] == [(str(alice.pk), alice.name)]
    started = page.xpath("//input[@name='action-done_at']/@value")
    assert started and started[0] in {_wall_clock(before, 5), _wall_clock(after, 5)}
    assert page.xpath("//input[@name='action-time_taken']/@value") == ["90"]


def test_action_form_without_estimate_takes_the_sites_default(page_client, alice, ticket):
    default = CalendarSettings.load().default_estimate
    page, _, _ = _page(page_client(alice.user), ticket)
    assert page.xpath("//input[@name='action-time_taken']/@value") == [str(int(default.total_seconds() // 60))]


def test_coordinator_with_a_request_of_one_technician_gets_no_blank_choice(page_client, coordinator, alice, bob):
    ticket = services.create_request(summary="Router", assigned_agents=[bob])
    page, _, _ = _page(page_client(coordinator), ticket)
    options = page.xpath("//select[@name='action-agent']/option")
    assert "" not in [option.get("value") for option in options]
    assert page.xpath("//select[@name='action-agent']/option[@selected]/@value") == [str(bob.pk)]


def test_appointment_form_starts_at_the_next_whole_hour_for_the_estimate(page_client, alice, ticket):
    ticket.estimate = timedelta(minutes=150)
    ticket.save()
    page, before, after = _page(page_client(alice.user), ticket, tab="appointments")
    start = page.xpath("//input[@name='appointment-start']/@value")
    end = page.xpath("//input[@name='appointment-end']/@value")
    assert start and start[0] in {_wall_clock(before, 60, up=True), _wall_clock(after, 60, up=True)}
    begin = datetime.fromisoformat(start[0])
    assert datetime.fromisoformat(end[0]) - begin == timedelta(minutes=150)


def test_technicians_own_new_appointment_form_asks_nothing_about_several_technicians(page_client, alice, bob):
    """Trial t21: Alice's own new-appointment form offered "With several technicians" when she
    can only choose herself."""
    page = html.fromstring(page_client(alice.user).get("/calendar/appointments/new/").content)
    assert page.xpath("//*[@name='entries']") == []
    assert "With several technicians" not in page.text_content()
    assert page.xpath("//input[@name='agents']/@value") == [str(alice.pk)]
    assert page.xpath("//input[@name='agents']/@checked")


def test_new_appointment_form_starts_at_the_next_whole_hour(page_client, alice):
    """The calendar's "New appointment" without a time clicked: from the next whole hour on the
    user's clock, as on a request's page (it started at the hour already begun)."""
    client = page_client(alice.user)
    before = timezone.now()
    page = html.fromstring(client.get("/calendar/appointments/new/").content)
    after = timezone.now()

    start = page.xpath("//input[@name='start']/@value")
    assert start and start[0] in {_wall_clock(before, 60, up=True), _wall_clock(after, 60, up=True)}
    end = page.xpath("//input[@name='end']/@value")
    assert datetime.fromisoformat(end[0]) - datetime.fromisoformat(start[0]) == timedelta(hours=1)


def test_new_appointment_page_starts_at_the_next_whole_hour_not_the_one_gone(page_client, alice):
    """Trial fault 12: at 06:36 the new-appointment page proposed 06:00-07:00, a start in the past."""
    before = timezone.now()
    page = html.fromstring(page_client(alice.user).get("/calendar/appointments/new/").content)
    after = timezone.now()
    start = page.xpath("//input[@name='start']/@value")
    end = page.xpath("//input[@name='end']/@value")
    assert start and start[0] in {_wall_clock(before, 60, up=True), _wall_clock(after, 60, up=True)}
    assert datetime.fromisoformat(start[0]).replace(tzinfo=AMS) > before
    assert datetime.fromisoformat(end[0]) - datetime.fromisoformat(start[0]) == timedelta(hours=1)
